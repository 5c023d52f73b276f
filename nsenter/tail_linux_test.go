package nsenter

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// envTailTest makes the test binary a caller of ForkTail (tailHelper) instead of
// running tests: ForkTail's child is a child of its caller's parent
// (CLONE_PARENT), so the test process, which reaps it.
const envTailTest = "HULL_NSENTER_TAIL_TEST"

func init() {
	mode := os.Getenv(envTailTest)
	if mode == "" {
		return
	}
	runtime.LockOSThread()
	os.Exit(tailHelper(mode))
}

// tailHelper forks a tail that writes a file below /proc and execs busybox cat
// of its own /proc/self/oom_score_adj, and prints the child's pid or ForkTail's
// error.
func tailHelper(mode string) int {
	busybox := os.Getenv("HULL_BUSYBOX")
	exe, err := os.OpenFile(busybox, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println("error:", err)
		return 2
	}
	proc, err := os.OpenFile("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println("error:", err)
		return 2
	}
	w := ProcWrite{Rel: "thread-self/oom_score_adj", Data: "123", What: "test write"}
	if mode == "xdev" {
		// In a mount namespace of our own: a tmpfs over a procfs directory,
		// which the write must not cross into.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			fmt.Println("error:", err)
			return 2
		}
		if err := unix.Mount("tmpfs", "/proc/driver", "tmpfs", 0, ""); err != nil {
			fmt.Println("error:", err)
			return 2
		}
		if err := os.WriteFile("/proc/driver/f", nil, 0o644); err != nil {
			fmt.Println("error:", err)
			return 2
		}
		w = ProcWrite{Rel: "driver/f", Data: "x", What: "test write"}
	}
	pid, err := ForkTail(&Tail{
		ExecFd: exe, NoCreds: true, Keep: 3,
		Args:    []string{"busybox", "cat", "/proc/self/oom_score_adj"},
		ProcDir: proc, ProcWrites: []ProcWrite{w},
	})
	if err != nil {
		fmt.Println("error:", err)
		if te, ok := err.(*TailError); ok {
			fmt.Println("pid", te.Pid)
		}
		return 3
	}
	fmt.Println("pid", pid)
	return 0
}

// runTail runs tailHelper in a child and reaps the tail's process; it returns
// what both printed.
func runTail(t *testing.T, mode string, flags uintptr) string {
	t.Helper()
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), envTailTest+"="+mode, "HULL_BUSYBOX="+hulltest.RequireBusybox(t))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	_ = cmd.Run()
	for _, line := range strings.Split(out.String(), "\n") {
		if s, ok := strings.CutPrefix(line, "pid "); ok {
			if pid, err := strconv.Atoi(s); err == nil {
				var ws unix.WaitStatus
				_, _ = unix.Wait4(pid, &ws, 0, nil)
			}
		}
	}
	return out.String()
}

// TestTailProcWrites: the tail's child writes to its own /proc/thread-self files
// (the AppArmor profile and SELinux label go there; oom_score_adj stands in for
// them on a host without either, as it too outlives the execve).
func TestTailProcWrites(t *testing.T) {
	needRoot(t)
	out := runTail(t, "write", 0)
	if !strings.HasPrefix(out, "123\n") && !strings.Contains(out, "\n123\n") {
		t.Fatalf("the exec'd process's oom_score_adj: output %q, want 123 written by the tail", out)
	}
}

// TestTailProcWriteNoMountCrossing: a file mounted over what the tail writes (as a
// container could mount one over its /proc/<pid>/attr) is not written: the open
// fails rather than follow the mount.
func TestTailProcWriteNoMountCrossing(t *testing.T) {
	needRoot(t)
	out := runTail(t, "xdev", unix.CLONE_NEWNS)
	if !strings.Contains(out, "error: test write: write driver/f: ") || !strings.Contains(out, "cross-device") {
		t.Fatalf("a write across a mount: output %q, want the tail's refusal (EXDEV)", out)
	}
}
