//go:build guest

package guest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The profiles loaded for these tests: each allows everything but writes to
// one path, so a denied write proves the process runs confined by that profile
// and a write elsewhere proves it is not some stricter one.
const (
	aaDeny  = "hull-guest-deny"  // denies writes to /tmp/denied
	aaOther = "hull-guest-other" // denies writes to /tmp/other
)

func aaProfile(name, denied string) string {
	return fmt.Sprintf(`#include <tunables/global>
profile %s flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  mount,
  umount,
  pivot_root,
  signal,
  ptrace,
  unix,
  deny %s w,
}
`, name, denied)
}

// loadProfiles loads aaDeny and aaOther with apparmor_parser and unloads
// them when the test ends.
func loadProfiles(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []struct{ name, denied string }{{aaDeny, "/tmp/denied"}, {aaOther, "/tmp/other"}} {
		f := filepath.Join(dir, p.name)
		if err := os.WriteFile(f, []byte(aaProfile(p.name, p.denied)), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, time.Minute, "apparmor_parser", "--replace", "--skip-cache", f)
		t.Cleanup(func() { _, _ = try(time.Minute, "apparmor_parser", "--remove", f) })
	}
}

// hullTry runs hull with root as its state root: its output and error.
func hullTry(hull, root string, args ...string) (string, error) {
	return try(time.Minute, hull, append([]string{"--root", root}, args...)...)
}

// scriptBundle is a busybox bundle running args, with a writable root, no
// cgroup path of its own and no terminal; edit sets the rest of its config (an
// LSM's fields).
func scriptBundle(t *testing.T, hull string, edit func(c, proc map[string]any), args ...string) string {
	t.Helper()
	bundle := busyboxBundle(t, hull)
	for _, a := range []string{"sleep", "ls", "grep"} {
		if err := os.Symlink("busybox", filepath.Join(bundle, "rootfs", "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	editConfig(t, bundle, func(c map[string]any) {
		proc := c["process"].(map[string]any)
		proc["terminal"] = false
		proc["args"] = args
		c["root"].(map[string]any)["readonly"] = false
		edit(c, proc)
	})
	return bundle
}

// aaBundle is a scriptBundle running args under profile.
func aaBundle(t *testing.T, hull, profile string, args ...string) string {
	t.Helper()
	return scriptBundle(t, hull, func(_, proc map[string]any) { proc["apparmorProfile"] = profile }, args...)
}

// startDetached creates and starts a container whose stdout and stderr go to
// a file; it returns the file's path and init's pid.
func startDetached(t *testing.T, hull, root, bundle, id string) (string, int) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Cleanup(func() { _, _ = hullTry(hull, root, "delete", "--force", id) })
	create := exec.Command(hull, "--root", root, "create", "--bundle", bundle, id)
	create.Stdout, create.Stderr = f, f
	if err := create.Run(); err != nil {
		t.Fatalf("hull create %s: %v\n%s", id, err, readFile(t, out))
	}
	run(t, time.Minute, hull, "--root", root, "start", id)
	return out, containerPid(t, hull, root, id)
}

func containerPid(t *testing.T, hull, root, id string) int {
	t.Helper()
	var st struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(run(t, time.Minute, hull, "--root", root, "state", id)), &st); err != nil {
		t.Fatal(err)
	}
	return st.Pid
}

// waitOutput waits until the container's output file holds "done", which its
// script prints last, and returns the output.
func waitOutput(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), "done\n") {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not print done in 30s; it printed %q", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeProbe is a script that prints the profile the shell runs under (both
// attr files: the LSM-specific one exists since 5.8) and whether a write to
// each path works: "ok PATH" or "denied PATH: <error>".
func writeProbe(paths ...string) string {
	s := `echo "current=$(cat /proc/self/attr/current)"; echo "apparmor/current=$(cat /proc/self/attr/apparmor/current)"; `
	for _, p := range paths {
		s += fmt.Sprintf(`if echo x 2>/tmp/err > %[1]s; then echo "ok %[1]s"; else echo "denied %[1]s: $(cat /tmp/err)"; fi; `, p)
	}
	return s
}

func wantIn(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: want %q in the output; got:\n%s", what, w, got)
		}
	}
}

// TestAppArmorProfile: a profile loaded with apparmor_parser confines the
// container's init (applied by initproc through the verified procfs), hull
// exec's processes (nsenter's tail), exec --apparmor's other profile, and the
// init of a container that joins another's pid namespace (the tail again);
// a profile the kernel does not have fails create and leaves nothing behind.
func TestAppArmorProfile(t *testing.T) {
	needAppArmorBoot(t)
	hull := hullBinary(t)
	loadProfiles(t)
	root := t.TempDir()
	deny := "can't create /tmp/denied: Permission denied"

	bundle := aaBundle(t, hull, aaDeny, "sh", "-c", writeProbe("/tmp/denied", "/tmp/ok")+"echo done; exec sleep 600")
	out, pid := startDetached(t, hull, root, bundle, "aa-init")
	got := waitOutput(t, out)
	t.Run("init", func(t *testing.T) {
		wantIn(t, "init", got, "current="+aaDeny+" (enforce)", "apparmor/current="+aaDeny+" (enforce)", deny, "ok /tmp/ok")
		// And as the host sees it, from outside.
		if cur := readFile(t, fmt.Sprintf("/proc/%d/attr/current", pid)); cur != aaDeny+" (enforce)" {
			t.Errorf("the host sees init's profile as %q, want %q", cur, aaDeny+" (enforce)")
		}
	})
	t.Run("exec", func(t *testing.T) {
		got := run(t, time.Minute, hull, "--root", root, "exec", "aa-init", "sh", "-c", writeProbe("/tmp/denied", "/tmp/ok2"))
		wantIn(t, "exec", got, "current="+aaDeny+" (enforce)", deny, "ok /tmp/ok2")
	})
	t.Run("exec --apparmor", func(t *testing.T) {
		got := run(t, time.Minute, hull, "--root", root, "exec", "--apparmor", aaOther, "aa-init",
			"sh", "-c", writeProbe("/tmp/denied", "/tmp/other"))
		wantIn(t, "exec --apparmor", got, "current="+aaOther+" (enforce)", "ok /tmp/denied",
			"can't create /tmp/other: Permission denied")
	})
	t.Run("exec missing profile", func(t *testing.T) {
		out, err := hullTry(hull, root, "exec", "--apparmor", "hull-guest-no-such-profile", "aa-init", "true")
		if err == nil {
			t.Fatalf("hull exec --apparmor with a profile the kernel does not have succeeded:\n%s", out)
		}
		t.Logf("hull exec: %v\n%s", err, out)
		if !strings.Contains(out, "apparmorProfile") || !strings.Contains(out, "hull-guest-no-such-profile") {
			t.Errorf("the error does not name the field and the profile:\n%s", out)
		}
	})
	t.Run("joined pid namespace", func(t *testing.T) {
		b := aaBundle(t, hull, aaDeny, "sh", "-c", writeProbe("/tmp/denied", "/tmp/ok")+"echo pid=$$; echo done; exec sleep 600")
		editConfig(t, b, func(c map[string]any) {
			linux := c["linux"].(map[string]any)
			for _, n := range linux["namespaces"].([]any) {
				if n := n.(map[string]any); n["type"] == "pid" {
					n["path"] = fmt.Sprintf("/proc/%d/ns/pid", pid)
				}
			}
		})
		out, _ := startDetached(t, hull, root, b, "aa-join")
		got := waitOutput(t, out)
		wantIn(t, "joined pid namespace", got, "current="+aaDeny+" (enforce)", deny, "ok /tmp/ok")
		if strings.Contains(got, "pid=1\n") {
			t.Errorf("the joining container is pid 1: it did not join aa-init's pid namespace:\n%s", got)
		}
	})
	t.Run("missing profile", func(t *testing.T) {
		const id = "aa-missing"
		b := aaBundle(t, hull, "hull-guest-no-such-profile", "true")
		t.Cleanup(func() { _, _ = hullTry(hull, root, "delete", "--force", id) })
		out, err := hullTry(hull, root, "create", "--bundle", b, id)
		if err == nil {
			t.Fatalf("hull create with a profile the kernel does not have succeeded:\n%s", out)
		}
		t.Logf("hull create: %v\n%s", err, out)
		if !strings.Contains(out, "apparmorProfile") || !strings.Contains(out, "hull-guest-no-such-profile") {
			t.Errorf("the error does not name the field and the profile:\n%s", out)
		}
		if st, err := hullTry(hull, root, "state", id); err == nil {
			t.Errorf("hull state %s after the failed create: %s", id, st)
		}
		if _, err := os.Stat(filepath.Join(root, id)); !os.IsNotExist(err) {
			t.Errorf("the failed create left its state dir %s (stat: %v)", filepath.Join(root, id), err)
		}
	})
}

// TestAppArmorDocker: dockerd with hull as a runtime gives hull its default
// profile (docker-default, which dockerd loads itself), and hull applies it to
// the container's init and to docker exec's processes.
func TestAppArmorDocker(t *testing.T) {
	needAppArmorBoot(t)
	hull := hullBinary(t)
	// The runtime is added before dockerd's first start: docker.socket starts
	// it on the first request, with this daemon.json.
	if err := os.MkdirAll("/etc/docker", 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := json.Marshal(map[string]any{"runtimes": map[string]any{"hull": map[string]any{"path": hull}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/docker/daemon.json", conf, 0o644); err != nil {
		t.Fatal(err)
	}
	// dockerd may have started already (another test in this boot).
	run(t, 3*time.Minute, "systemctl", "restart", "docker.service")
	tarball := busyboxImageTar(t)
	run(t, 2*time.Minute, "docker", "load", "-i", tarball)
	t.Cleanup(func() { _, _ = try(time.Minute, "docker", "rmi", "-f", imageRef) })

	if info := run(t, time.Minute, "docker", "info", "--format", "{{json .Runtimes}} {{json .SecurityOptions}}"); !strings.Contains(info, `"hull"`) || !strings.Contains(info, "apparmor") {
		t.Fatalf("docker info: no hull runtime or no apparmor: %s", info)
	}
	const name = "hull-guest-aa"
	t.Cleanup(func() { _, _ = try(time.Minute, "docker", "rm", "-f", name) })
	out := run(t, 2*time.Minute, "docker", "run", "-d", "--name", name, "--runtime", "hull", "--pull=never",
		"--network", "none", imageRef, "sh", "-c", "cat /proc/self/attr/current > /init-attr; exec sleep 600")
	t.Logf("docker run -d: %s", out)
	want := "docker-default (enforce)"
	var got string
	for deadline := time.Now().Add(30 * time.Second); ; {
		got, err = try(time.Minute, "docker", "exec", name, "cat", "/init-attr")
		if err == nil && strings.TrimSpace(got) != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker exec cat /init-attr (the image has no /tmp): %v\n%s\n%s", err, got, dockerDiag(name))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.TrimSpace(got) != want {
		t.Errorf("the container's init ran under %q, want %q", strings.TrimSpace(got), want)
	}
	if got := run(t, time.Minute, "docker", "exec", name, "cat", "/proc/self/attr/current"); strings.TrimSpace(got) != want {
		t.Errorf("docker exec's process runs under %q, want %q", strings.TrimSpace(got), want)
	}
	// docker-default denies writes to /proc/sysrq-trigger even to root.
	if out, err := try(time.Minute, "docker", "exec", name, "sh", "-c", "echo h > /proc/sysrq-trigger"); err == nil {
		t.Errorf("a write to /proc/sysrq-trigger under docker-default succeeded: %s", out)
	}
	// And hull ran it: the shim's runtime is hull's binary.
	insp := run(t, time.Minute, "docker", "inspect", "--format", "{{.HostConfig.Runtime}} {{.AppArmorProfile}}", name)
	if strings.TrimSpace(insp) != "hull docker-default" {
		t.Errorf("docker inspect: runtime and profile %q, want \"hull docker-default\"", strings.TrimSpace(insp))
	}
}

// dockerDiag is what docker says of a container, for a failure's message.
func dockerDiag(name string) string {
	logs, _ := try(time.Minute, "docker", "logs", name)
	st, _ := try(time.Minute, "docker", "inspect", "--format", "{{json .State}}", name)
	return "docker logs: " + logs + "\nstate: " + st
}
