//go:build linux

package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestNamespacesDiffer checks, from inside, that every configured namespace
// is a new one and the unconfigured ones are the host's.
func TestNamespacesDiffer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := baseSpec(shell(`for n in pid net ipc uts mnt cgroup user time; do echo "$n $(readlink /proc/self/ns/$n)"; done`)...)
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	r := h.run(s)
	mustExit(t, r, 0)
	inside := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if name, link, ok := strings.Cut(line, " "); ok {
			inside[name] = link
		}
	}
	tests := []struct {
		ns       string
		wantSame bool // not configured: must stay the host's
	}{
		{"pid", false},
		{"net", false},
		{"ipc", false},
		{"uts", false},
		{"mnt", false},
		{"cgroup", false},
		{"user", true},
		{"time", true},
	}
	for _, tc := range tests {
		t.Run(tc.ns, func(t *testing.T) {
			host, err := os.Readlink("/proc/self/ns/" + tc.ns)
			if err != nil {
				hulltest.HostLimit(t, "this kernel has no %s namespace: %v; runs on Debian's kernels", tc.ns, err)
			}
			in := inside[tc.ns]
			if !strings.HasPrefix(in, tc.ns+":[") {
				t.Fatalf("inside readlink /proc/self/ns/%s = %q, want %s:[inode]", tc.ns, in, tc.ns)
			}
			if same := in == host; same != tc.wantSame {
				t.Errorf("%s namespace: inside %s, host %s; want same=%v", tc.ns, in, host, tc.wantSame)
			}
		})
	}
}

// TestJoinNetNamespace joins the network namespace of a process we start by
// its /proc path, and checks the container is in exactly that namespace.
func TestJoinNetNamespace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	holder := exec.Command("unshare", "-n", "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = holder.Process.Kill()
		_ = holder.Wait()
	})
	nsPath := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
	hostNet, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for deadline := time.Now().Add(10 * time.Second); ; {
		want, err = os.Readlink(nsPath)
		if err == nil && want != hostNet {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unshare -n never left the host network namespace (%s: %q, %v)", nsPath, want, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	s := baseSpec("readlink", "/proc/self/ns/net")
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = nsPath
		}
	}
	r := h.run(s)
	mustExit(t, r, 0)
	if got := strings.TrimSpace(r.stdout); got != want {
		t.Errorf("container net namespace %q, want the joined %q (host %q)", got, want, hostNet)
	}
}

// TestTimeNamespace gives the container a time namespace whose boottime and
// monotonic clocks are ten years ahead, and reads /proc/uptime inside.
func TestTimeNamespace(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		hulltest.HostLimit(t, "kernel without time namespaces; runs on Linux 5.6 and later (this host, the VM)")
	}
	const offset = 10 * 365 * 24 * 3600
	tests := []struct {
		name    string
		offsets map[string]specs.LinuxTimeOffset
		want    float64 // added to the host's uptime
		// userns: with a new user namespace init makes the time namespace itself
		// (nsenter.UnshareTimeNS) instead of being born in the holder's.
		userns bool
	}{
		{"boottime-offset", map[string]specs.LinuxTimeOffset{
			"boottime":  {Secs: offset},
			"monotonic": {Secs: offset},
		}, offset, false},
		{"no-offset", nil, 0, false},
		{"userns-boottime-offset", map[string]specs.LinuxTimeOffset{
			"boottime":  {Secs: offset},
			"monotonic": {Secs: offset},
		}, offset, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := baseSpec("sh", "-c", "cat /proc/uptime; readlink /proc/self/ns/time")
			if tc.userns {
				s = usernsSpec("sh", "-c", "cat /proc/uptime; readlink /proc/self/ns/time")
				prepareUserns(t, h, usernsHostID, usernsHostID)
			}
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.TimeOffsets = tc.offsets
			before := hostUptime(t)
			r := h.run(s)
			after := hostUptime(t)
			if tc.userns && r.exit != 0 && strings.Contains(r.stderr, "this kernel's execve does not enter a time namespace") {
				// Linux 6.1 (the VM): execve moves only children into a time namespace
				// its caller made, and init makes it itself with a new user namespace.
				// Refused before anything is made, which this checks.
				h.assertNothingLeft(true)
				hulltest.HostLimit(t, "this kernel's execve does not enter a new time namespace; refused as it should be; the time namespace with a user namespace runs on kernels that do (this host)")
			}
			mustExit(t, r, 0)
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if len(lines) != 2 {
				t.Fatalf("unexpected output %q", r.stdout)
			}
			f := strings.Fields(lines[0])
			if len(f) == 0 {
				t.Fatalf("bad /proc/uptime %q", lines[0])
			}
			got, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				t.Fatal(err)
			}
			if got < before+tc.want-1 || got > after+tc.want+1 {
				t.Errorf("uptime inside %.2f, want %.0f + host uptime in [%.2f, %.2f]", got, tc.want, before, after)
			}
			hostNS, _ := os.Readlink("/proc/self/ns/time")
			if lines[1] == hostNS || !strings.HasPrefix(lines[1], "time:[") {
				t.Errorf("time namespace inside %q, host %q: want a new one", lines[1], hostNS)
			}
		})
	}
}

func hostUptime(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestJoinPidNamespace: a container that joins another's pid namespace sees that
// namespace's processes in its /proc (made for the joined namespace, not init's), runs
// with its own pid there, exits with its status through start, and exec works into
// it. Where the kernel allows it hull builds it from outside the namespace (see
// TestSecurityPidnsExposure); either way the behaviour is the same.
func TestJoinPidNamespace(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first := h.startContainer(baseSpec("sleep", "1001"))
	sib := h.sibling(t)
	s := baseSpec("sh", "-c", "ps -o pid,comm; echo ns=$(readlink /proc/self/ns/pid); exit 7")
	joinPidNS(s, first.Pid)
	wantNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", first.Pid))
	// Plain, and with a startContainer hook, which makes hull hand over to a second
	// stage of init inside the namespace (on kernels without procfs pidns=, always).
	// An lxcfs-style file over /proc/uptime: inside a procfs that, handed over, only
	// the second stage mounts.
	uptime := filepath.Join(t.TempDir(), "uptime")
	if err := os.WriteFile(uptime, []byte("4242.00 1.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc/uptime", Type: "bind", Source: uptime, Options: []string{"bind", "ro"}})
	s.Process.Args = []string{"sh", "-c", "ps -o pid,comm; echo ns=$(readlink /proc/self/ns/pid); echo uptime=$(cat /proc/uptime); exit 7"}
	for _, hook := range []bool{false, true} {
		s.Hooks = nil
		if hook {
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
		}
		r := sib.run(s)
		mustExit(t, r, 7)
		if !strings.Contains(r.stdout, "uptime=4242.00 1.00") {
			t.Errorf("hook %v: the bind over /proc/uptime is not there: %q", hook, r.stdout)
		}
		if !strings.Contains(r.stdout, "ns="+wantNS) {
			t.Errorf("hook %v: the process is not in the joined pid namespace %s: %q", hook, wantNS, r.stdout)
		}
		// The first container's sleep is pid 1 in the /proc the second one mounted.
		if !strings.Contains(r.stdout, "    1 sleep") {
			t.Errorf("hook %v: /proc does not show the joined namespace (no pid 1 sleep): %q", hook, r.stdout)
		}
		if strings.Contains(r.stdout, "hull") || strings.Contains(r.stdout, "init") {
			t.Errorf("hook %v: a runtime process is visible in the joined namespace: %q", hook, r.stdout)
		}
	}
	s.Hooks = nil

	// Created, then exec'd into, then started.
	s.Process.Args = []string{"sleep", "1002"}
	sib2 := h.sibling(t)
	sib2.writeSpec(s)
	mustExit(t, sib2.do("create", "--bundle", sib2.bundle, sib2.id), 0)
	st := sib2.waitStatus(sib2.id, "created", 10*time.Second)
	if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid)); ns != wantNS {
		t.Errorf("the created container's process is in %s, want %s", ns, wantNS)
	}
	e := sib2.do("exec", sib2.id, "sh", "-c", "ps -o comm | grep -c sleep")
	mustExit(t, e, 0)
	if strings.TrimSpace(e.stdout) != "1" {
		t.Errorf("exec into the created container: %d sleeps visible, want 1 (the first container's): %q", len(e.stdout), e.stdout)
	}
	mustExit(t, sib2.do("start", sib2.id), 0)
	sib2.waitStatus(sib2.id, "running", 10*time.Second)
	if cmd := readFile(fmt.Sprintf("/proc/%d/cmdline", st.Pid)); cmd != "sleep\x001002\x00" {
		t.Errorf("after start the container's pid %d runs %q, want sleep 1002", st.Pid, cmd)
	}
}
