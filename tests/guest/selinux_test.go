//go:build guest

package guest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests run only in the SELinux boot of the guest (run.sh --lsm
// selinux; make guest-test runs it): Debian's refpolicy loaded, permissive.
// Permissive mode applies and checks every label (an invalid one is refused
// as in enforcing mode) and logs the denials it would make; what it does not
// do is deny, so these tests prove the labels hull sets, not the policy's
// confinement of them. In the other boots they skip; in the SELinux boot a
// missing precondition fails.

// guestLSM is the major LSM of this boot, as run.sh told the command.
func guestLSM() string {
	if l := os.Getenv("HULL_VM_LSM"); l != "" {
		return l
	}
	return "apparmor"
}

func needSELinuxBoot(t *testing.T) {
	t.Helper()
	if guestLSM() != "selinux" {
		t.Skipf("this boot's LSM is %s; the SELinux boot (run.sh --lsm selinux) runs this test", guestLSM())
	}
}

func needAppArmorBoot(t *testing.T) {
	t.Helper()
	if guestLSM() != "apparmor" {
		t.Skipf("this boot's LSM is %s; the AppArmor boot runs this test", guestLSM())
	}
}

// validContext asks the loaded policy whether ctx is a valid security context
// (selinuxfs's context file: security_check_context in libselinux) and returns
// its canonical form.
func validContext(ctx string) (string, error) {
	f, err := os.OpenFile("/sys/fs/selinux/context", os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write([]byte(ctx)); err != nil {
		return "", err
	}
	b := make([]byte, 4096)
	n, err := f.Read(b)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b[:n]), "\x00\n"), nil
}

// The types of a container: the container module's where the policy has it
// (Fedora's, refpolicy since 2020); Debian bookworm's refpolicy (2.20221101)
// has neither it nor the virt module's svirt_lxc_net_t, only the sVirt guest
// domain svirt_t and its image type, the closest it has to a confined guest.
// The categories make every label differ from any default one, and the other
// pairs tell exec's labels from init's.
var (
	seDomains   = []string{"container_t", "svirt_lxc_net_t", "svirt_t"}
	seFileTypes = []string{"container_file_t", "svirt_lxc_file_t", "svirt_image_t"}
)

type seLabels struct {
	proc, proc2, proc3, mount string
}

// pickLabels finds the container types the loaded policy has; it fails the
// test if it has none, or if SELinux is not what this boot should have.
func pickLabels(t *testing.T) seLabels {
	t.Helper()
	pick := func(types []string, role, cats string) string {
		for _, ty := range types {
			ctx := "system_u:" + role + ":" + ty + ":s0:" + cats
			if got, err := validContext(ctx); err == nil {
				if got != ctx {
					t.Fatalf("the policy canonicalises %q as %q", ctx, got)
				}
				return ctx
			}
		}
		t.Fatalf("the loaded policy has none of the types %v (tried with role %s)", types, role)
		return ""
	}
	return seLabels{
		proc:  pick(seDomains, "system_r", "c1,c2"),
		proc2: pick(seDomains, "system_r", "c3,c4"),
		proc3: pick(seDomains, "system_r", "c5,c6"),
		mount: pick(seFileTypes, "object_r", "c1,c2"),
	}
}

// TestSELinuxEnabled: the SELinux boot has SELinux as its major LSM with the
// policy loaded, in permissive mode, and no AppArmor.
func TestSELinuxEnabled(t *testing.T) {
	needSELinuxBoot(t)
	lsm := readFile(t, "/sys/kernel/security/lsm")
	if !strings.Contains(lsm, "selinux") || strings.Contains(lsm, "apparmor") {
		t.Errorf("/sys/kernel/security/lsm is %q: want selinux and no apparmor", lsm)
	}
	if e := readFile(t, "/sys/fs/selinux/enforce"); e != "0" {
		t.Errorf("/sys/fs/selinux/enforce is %q, want 0 (permissive: the image is not relabelled)", e)
	}
	if v := readFile(t, "/sys/fs/selinux/policyvers"); v == "" {
		t.Error("no policy loaded: /sys/fs/selinux/policyvers is empty")
	}
	// The files are not labelled (no relabel: debian.sh), so systemd's
	// executables are unlabeled_t, no domain transition happens, and every
	// process stays in the kernel's domain: a label, not "kernel", the name
	// SELinux gives before a policy is loaded.
	if cur := strings.TrimRight(readFile(t, "/proc/self/attr/current"), "\x00"); len(strings.Split(cur, ":")) < 4 {
		t.Errorf("the test runs as %q: no policy was loaded", cur)
	}
	if out := run(t, 30*time.Second, "getenforce"); strings.TrimSpace(out) != "Permissive" {
		t.Errorf("getenforce: %q, want Permissive", out)
	}
	l := pickLabels(t)
	t.Logf("labels: process %s, mounts %s", l.proc, l.mount)
}

// seBundle is a scriptBundle running args with the given process label and
// mount label.
func seBundle(t *testing.T, hull, procLabel, mountLabel string, args ...string) string {
	t.Helper()
	return scriptBundle(t, hull, func(c, proc map[string]any) {
		if procLabel != "" {
			proc["selinuxLabel"] = procLabel
		}
		if mountLabel != "" {
			c["linux"].(map[string]any)["mountLabel"] = mountLabel
		}
	}, args...)
}

// xattrLabel is the SELinux context of path, as stat -c %C shows it.
func xattrLabel(path string) (string, error) {
	b := make([]byte, 1024)
	n, err := unix.Lgetxattr(path, "security.selinux", b)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b[:n]), "\x00"), nil
}

// sessionKeyring finds the container's session keyring in /proc/keys (as root
// on the host, which may view it) by its name, hull's "_ses.ID" or runc's ID,
// and returns its security label (keyctl security).
func sessionKeyring(t *testing.T, id string) (string, error) {
	t.Helper()
	keys := readFile(t, "/proc/keys")
	for _, line := range strings.Split(keys, "\n") {
		f := strings.Fields(line) // id flags usage timeout perm uid gid type description: summary
		if len(f) < 9 || f[7] != "keyring" {
			continue
		}
		desc := strings.TrimSuffix(f[8], ":")
		if desc != "_ses."+id && desc != id {
			continue
		}
		var kid int
		if _, err := fmt.Sscanf(f[0], "%x", &kid); err != nil {
			return "", fmt.Errorf("/proc/keys: %q: %v", line, err)
		}
		return unix.KeyctlString(unix.KEYCTL_GET_SECURITY, kid)
	}
	return "", fmt.Errorf("no keyring named _ses.%s or %s in /proc/keys:\n%s", id, id, keys)
}

// seMountPaths are the container's paths whose labels are compared: the new
// filesystems that take linux.mountLabel, those that do not (procfs, sysfs),
// masked directories and the rootfs.
var seMountPaths = []string{"/dev", "/dev/shm", "/dev/mqueue", "/dev/pts", "/proc", "/sys",
	"/sys/firmware", "/proc/acpi", "/"}

// seProbe is what a running container shows of SELinux, read from the host:
// its init's label, its session keyring's and its mounts', keyed by path.
func seProbe(t *testing.T, pid int, id string) map[string]string {
	t.Helper()
	got := map[string]string{}
	cur, err := os.ReadFile(fmt.Sprintf("/proc/%d/attr/current", pid))
	if err != nil {
		t.Fatal(err)
	}
	got["process"] = strings.TrimRight(string(cur), "\x00\n")
	if k, err := sessionKeyring(t, id); err != nil {
		got["keyring"] = "error: " + err.Error()
	} else {
		got["keyring"] = strings.TrimRight(k, "\x00")
	}
	for _, p := range seMountPaths {
		l, err := xattrLabel(fmt.Sprintf("/proc/%d/root%s", pid, p))
		if err != nil {
			l = "error: " + err.Error()
		}
		got[p] = l
	}
	return got
}

// TestSELinuxLabels: process.selinuxLabel is the container's init's label as
// it sees itself and as the host sees it, and its session keyring's;
// linux.mountLabel is the context of the filesystems it makes (the /dev tmpfs,
// /dev/shm, /dev/pts, /dev/mqueue, and the tmpfs of masked directories, as
// runc does) and not of procfs or sysfs; hull exec runs with the container's
// label, --process-label's, or process.json's.
func TestSELinuxLabels(t *testing.T) {
	needSELinuxBoot(t)
	l := pickLabels(t)
	hull := hullBinary(t)
	root := t.TempDir()
	const id = "se-init"
	bundle := seBundle(t, hull, l.proc, l.mount, "sh", "-c",
		`echo "current=$(cat /proc/self/attr/current)"; echo done; exec sleep 600`)
	out, pid := startDetached(t, hull, root, bundle, id)
	got := waitOutput(t, out)
	probe := seProbe(t, pid, id)

	t.Run("init", func(t *testing.T) {
		// The attr file ends with a NUL, which the shell's $(...) drops.
		wantIn(t, "init", got, "current="+l.proc+"\n")
		// create's stderr is in the same file: a permissive policy is the host's
		// choice, which `hull check` reports and create keeps for --debug.
		if strings.Contains(got, "permissive") {
			t.Errorf("hull create warned about the permissive policy:\n%s", got)
		}
		if probe["process"] != l.proc {
			t.Errorf("the host sees init's label as %q, want %q", probe["process"], l.proc)
		}
	})
	t.Run("keyring", func(t *testing.T) {
		if probe["keyring"] != l.proc {
			t.Errorf("the session keyring's label is %q, want the process's %q", probe["keyring"], l.proc)
		}
	})
	t.Run("mounts", func(t *testing.T) {
		for _, p := range []string{"/dev", "/dev/shm", "/dev/mqueue", "/dev/pts", "/sys/firmware", "/proc/acpi"} {
			if probe[p] != l.mount {
				t.Errorf("%s is labelled %q, want linux.mountLabel %q", p, probe[p], l.mount)
			}
		}
		// SELinux labels procfs and sysfs itself; the option is refused there.
		for _, p := range []string{"/proc", "/sys"} {
			if probe[p] == l.mount || strings.HasPrefix(probe[p], "error") {
				t.Errorf("%s is labelled %q, want its filesystem's own label", p, probe[p])
			}
		}
		t.Logf("labels: %v", probe)
	})
	t.Run("exec", func(t *testing.T) {
		got := run(t, time.Minute, hull, "--root", root, "exec", id, "cat", "/proc/self/attr/current")
		if s := strings.TrimRight(got, "\x00\n"); s != l.proc {
			t.Errorf("hull exec runs as %q, want the container's %q", s, l.proc)
		}
	})
	t.Run("exec --process-label", func(t *testing.T) {
		got := run(t, time.Minute, hull, "--root", root, "exec", "--process-label", l.proc2, id, "cat", "/proc/self/attr/current")
		if s := strings.TrimRight(got, "\x00\n"); s != l.proc2 {
			t.Errorf("hull exec --process-label runs as %q, want %q", s, l.proc2)
		}
	})
	t.Run("exec -p", func(t *testing.T) {
		pj := filepath.Join(t.TempDir(), "process.json")
		js := fmt.Sprintf(`{"cwd": "/", "args": ["cat", "/proc/self/attr/current"], "env": ["PATH=/bin"], "selinuxLabel": %q}`, l.proc3)
		if err := os.WriteFile(pj, []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
		got := run(t, time.Minute, hull, "--root", root, "exec", "-p", pj, id)
		if s := strings.TrimRight(got, "\x00\n"); s != l.proc3 {
			t.Errorf("hull exec -p with selinuxLabel runs as %q, want %q", s, l.proc3)
		}
	})
	t.Run("exec invalid label", func(t *testing.T) {
		bad := "system_u:system_r:hull_no_such_t:s0"
		out, err := hullTry(hull, root, "exec", "--process-label", bad, id, "true")
		if err == nil {
			t.Fatalf("hull exec --process-label with a type the policy lacks succeeded:\n%s", out)
		}
		t.Logf("hull exec: %v\n%s", err, out)
		if !strings.Contains(out, "selinuxLabel") || !strings.Contains(out, bad) {
			t.Errorf("the error does not name the field and the label:\n%s", out)
		}
	})
	t.Run("joined pid namespace", func(t *testing.T) {
		b := seBundle(t, hull, l.proc2, "", "sh", "-c", `echo "current=$(cat /proc/self/attr/current)"; echo pid=$$; echo done; exec sleep 600`)
		editConfig(t, b, func(c map[string]any) {
			for _, n := range c["linux"].(map[string]any)["namespaces"].([]any) {
				if n := n.(map[string]any); n["type"] == "pid" {
					n["path"] = fmt.Sprintf("/proc/%d/ns/pid", pid)
				}
			}
		})
		out, _ := startDetached(t, hull, root, b, "se-join")
		got := waitOutput(t, out)
		wantIn(t, "joined pid namespace", got, "current="+l.proc2+"\n")
		if strings.Contains(got, "pid=1\n") {
			t.Errorf("the joining container is pid 1: it did not join se-init's pid namespace:\n%s", got)
		}
	})
}

// TestSELinuxInvalidLabel: a label the policy does not have fails create,
// naming the field and the label, and leaves nothing behind.
func TestSELinuxInvalidLabel(t *testing.T) {
	needSELinuxBoot(t)
	l := pickLabels(t)
	hull := hullBinary(t)
	root := t.TempDir()
	for _, c := range []struct {
		name, field, proc, mount string
	}{
		{"process", "process.selinuxLabel", "system_u:system_r:hull_no_such_t:s0", l.mount},
		{"mount", "linux.mountLabel", l.proc, "system_u:object_r:hull_no_such_t:s0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "se-bad-" + c.name
			b := seBundle(t, hull, c.proc, c.mount, "true")
			t.Cleanup(func() { _, _ = hullTry(hull, root, "delete", "--force", id) })
			out, err := hullTry(hull, root, "create", "--bundle", b, id)
			if err == nil {
				t.Fatalf("hull create with an invalid %s succeeded:\n%s", c.field, out)
			}
			t.Logf("hull create: %v\n%s", err, out)
			bad := c.proc
			if c.name == "mount" {
				bad = c.mount
			}
			if !strings.Contains(out, c.field) || !strings.Contains(out, bad) {
				t.Errorf("the error does not name %s and the label %s:\n%s", c.field, bad, out)
			}
			if st, err := hullTry(hull, root, "state", id); err == nil {
				t.Errorf("hull state %s after the failed create: %s", id, st)
			}
			if _, err := os.Stat(filepath.Join(root, id)); !os.IsNotExist(err) {
				t.Errorf("the failed create left its state dir %s (stat: %v)", filepath.Join(root, id), err)
			}
			if out := readFile(t, "/proc/keys"); strings.Contains(out, "_ses."+id) {
				t.Errorf("the failed create left its session keyring:\n%s", out)
			}
		})
	}
}

// TestSELinuxCheck: hull check on this host says the labels are applied but
// not enforced (a warning: create goes on), and refuses none of them.
func TestSELinuxCheck(t *testing.T) {
	needSELinuxBoot(t)
	l := pickLabels(t)
	hull := hullBinary(t)
	b := seBundle(t, hull, l.proc, l.mount, "true")
	cmd := exec.Command(hull, "check", "--bundle", b)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("hull check: %v, want exit status 2 (warnings only):\n%s", err, out.String())
	}
	for _, f := range []string{"process.selinuxLabel", "linux.mountLabel"} {
		if !strings.Contains(out.String(), "warning: "+f+": ") || !strings.Contains(out.String(), "permissive") {
			t.Errorf("hull check does not warn that %s is not enforced (permissive):\n%s", f, out.String())
		}
	}
	t.Logf("hull check:\n%s", out.String())
	if strings.Contains(out.String(), "error:") {
		t.Errorf("hull check reports errors:\n%s", out.String())
	}
}

// TestSELinuxRunc: runc 1.5.1 (the reference runtime, shipped into the guest
// when ../shared/peers has it) labels the same bundle's process, keyring and
// mounts as hull does.
func TestSELinuxRunc(t *testing.T) {
	needSELinuxBoot(t)
	runc := os.Getenv("HULL_PEER_RUNC")
	if runc == "" {
		t.Skip("HULL_PEER_RUNC is not set: no runc 1.5.1 to compare with (make guest-test ships ../shared/peers/runc-1.5.1)")
	}
	l := pickLabels(t)
	hull := hullBinary(t)
	probes := map[string]map[string]string{}
	for name, bin := range map[string]string{"hull": hull, "runc": runc} {
		root := t.TempDir()
		id := "se-" + name
		bundle := seBundle(t, hull, l.proc, l.mount, "sh", "-c", "echo done; exec sleep 600")
		out, pid := startDetached(t, bin, root, bundle, id)
		waitOutput(t, out)
		probes[name] = seProbe(t, pid, id)
		_, _ = try(time.Minute, bin, "--root", root, "delete", "--force", id)
	}
	t.Logf("runc: %v", probes["runc"])
	for k, want := range probes["runc"] {
		if got := probes["hull"][k]; got != want {
			t.Errorf("%s: hull %q, runc %q", k, got, want)
		}
	}
}
