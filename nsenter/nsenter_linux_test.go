package nsenter

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func needRoot(t *testing.T) {
	t.Helper()
	hulltest.RequireRoot(t)
}

// holder starts a process sitting in new namespaces of the given kinds and returns its pid.
func holder(t *testing.T, flags uintptr) int {
	t.Helper()
	cmd := exec.Command("/bin/sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start holder: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

func TestJoin(t *testing.T) {
	needRoot(t)
	pid := holder(t, syscall.CLONE_NEWNET|syscall.CLONE_NEWUTS|syscall.CLONE_NEWNS|syscall.CLONE_NEWIPC)
	for _, tc := range []struct {
		typ specs.LinuxNamespaceType
		ns  string
	}{
		{specs.NetworkNamespace, "net"},
		{specs.UTSNamespace, "uts"},
		{specs.MountNamespace, "mnt"},
		{specs.IPCNamespace, "ipc"},
	} {
		t.Run(tc.ns, func(t *testing.T) {
			path := fmt.Sprintf("/proc/%d/ns/%s", pid, tc.ns)
			want, err := os.Readlink(path)
			if err != nil {
				t.Fatal(err)
			}
			host, _ := os.Readlink("/proc/self/ns/" + tc.ns)
			if host == want {
				t.Fatalf("holder shares the host's %s namespace", tc.ns)
			}
			cmd := exec.Command("/bin/readlink", "/proc/self/ns/"+tc.ns)
			var out strings.Builder
			cmd.Stdout = &out
			if err := Start(cmd, []Join{{Type: tc.typ, Path: path}}); err != nil {
				t.Fatalf("Start: %v", err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("wait: %v", err)
			}
			if got := strings.TrimSpace(out.String()); got != want {
				t.Fatalf("child in %s, want %s", got, want)
			}
			// The calling process must be untouched.
			if now, _ := os.Readlink("/proc/self/ns/" + tc.ns); now != host {
				t.Fatalf("test process moved to %s", now)
			}
		})
	}
}

func TestJoinErrors(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name string
		join Join
		want string
	}{
		{"missing path", Join{specs.NetworkNamespace, "/nonexistent/netns"}, "/nonexistent/netns"},
		{"wrong kind", Join{specs.UTSNamespace, "/proc/self/ns/net"}, "setns"},
		{"not a namespace", Join{specs.NetworkNamespace, "/etc/hostname"}, "setns"},
		{"user", Join{specs.UserNamespace, "/proc/self/ns/user"}, "multi-threaded"},
		{"unknown type", Join{"bogus", "/proc/self/ns/net"}, "unknown namespace type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("/bin/true")
			err := Start(cmd, []Join{tc.join})
			if err == nil {
				_ = cmd.Wait()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			if cmd.Process != nil {
				t.Fatal("a process was started")
			}
		})
	}
	if err := Start(exec.Command("/bin/true"), []Join{{specs.UserNamespace, "/proc/self/ns/user"}}); !errors.Is(err, ErrUnsupportedJoin) {
		t.Fatalf("user join: %v, want ErrUnsupportedJoin", err)
	}
}

// TestAhead: a child started from Ahead's thread is in the network, ipc and uts
// namespaces made there (new ones, of the host's user namespace), and joins the
// ones it is given; the calling process keeps its own.
func TestAhead(t *testing.T) {
	needRoot(t)
	pid := holder(t, syscall.CLONE_NEWNS)
	host := map[string]string{}
	for _, ns := range []string{"net", "ipc", "uts", "mnt", "user"} {
		host[ns], _ = os.Readlink("/proc/self/ns/" + ns)
	}
	holderMnt, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		t.Fatal(err)
	}
	a := NewAhead(syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS)
	defer a.Close()
	if made := a.Made(); made != syscall.CLONE_NEWNET|syscall.CLONE_NEWIPC|syscall.CLONE_NEWUTS {
		t.Fatalf("Made() = %#x", made)
	}
	cmd := exec.Command("/bin/readlink", "/proc/self/ns/net", "/proc/self/ns/ipc", "/proc/self/ns/uts", "/proc/self/ns/mnt", "/proc/self/ns/user")
	var out strings.Builder
	cmd.Stdout = &out
	// Joining a mount namespace on Ahead's thread needs its fs_struct unshared, as Start's.
	if err := a.Start(cmd, []Join{{Type: specs.MountNamespace, Path: fmt.Sprintf("/proc/%d/ns/mnt", pid)}}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wait: %v", err)
	}
	got := strings.Fields(out.String())
	if len(got) != 5 {
		t.Fatalf("readlink printed %q", out.String())
	}
	for i, ns := range []string{"net", "ipc", "uts"} {
		if got[i] == host[ns] {
			t.Errorf("child shares the host's %s namespace", ns)
		}
	}
	if got[3] != holderMnt {
		t.Errorf("child in mount namespace %s, want the joined %s", got[3], holderMnt)
	}
	if got[4] != host["user"] {
		t.Errorf("child in user namespace %s, want the host's %s", got[4], host["user"])
	}
	for ns, want := range host {
		if now, _ := os.Readlink("/proc/self/ns/" + ns); now != want {
			t.Errorf("test process moved to %s", now)
		}
	}
}

// TestAheadUnused: Close ends the thread whether or not the namespaces are made
// yet, and a failed join starts nothing.
func TestAheadUnused(t *testing.T) {
	needRoot(t)
	NewAhead(syscall.CLONE_NEWNET).Close()
	a := NewAhead(syscall.CLONE_NEWNET)
	a.Made()
	cmd := exec.Command("/bin/true")
	if err := a.Start(cmd, []Join{{specs.NetworkNamespace, "/nonexistent/netns"}}); err == nil || cmd.Process != nil {
		t.Fatalf("Start with a missing join: %v, process %v", err, cmd.Process)
	}
	a.Close()
	var nilAhead *Ahead
	if nilAhead.Made() != 0 {
		t.Fatal("a nil Ahead made namespaces")
	}
	nilAhead.Close()
}
