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
