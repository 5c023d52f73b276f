package seccomp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/libruntime/seccomp/bpf"
)

// A loaded filter cannot be removed, so every test that loads one runs in a
// child: the test binary re-executed with childEnv set and its childArg in
// argEnv. Like hull's init, the child keeps its main goroutine on the main
// thread, loads the filter there, then makes raw syscalls and/or execs busybox.
const (
	childEnv = "HULL_SECCOMP_TEST_CHILD"
	argEnv   = "HULL_SECCOMP_TEST_ARG"
)

// childFailed is the exit code of a child whose set-up failed; the error is the
// last line of its stderr, after "child: ".
const childFailed = 3

const fixture = "../../tests/testdata/seccomp/docker-default.json"

func init() {
	if os.Getenv(childEnv) != "" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := childMain([]byte(os.Getenv(argEnv))); err != nil {
			fmt.Fprintf(os.Stderr, "child: %v\n", err)
			os.Exit(childFailed)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childArg says what the child does, in this order.
type childArg struct {
	DropSysAdmin bool                // clear CAP_SYS_ADMIN from the effective set
	NoNewPrivs   bool                // set no_new_privs
	Profile      *specs.LinuxSeccomp // Load it (nil: no filter, for control runs)
	Listener     string              // SendNotifyFd to this socket
	Calls        []call              // raw syscalls; results as JSON on stdout
	Argv         []string            // exec /bin/busybox with this argv
}

type call struct {
	Nr   uintptr
	Args [6]uintptr
}

type result struct {
	Ret   uintptr
	Errno syscall.Errno
}

func (r result) String() string {
	if r.Errno != 0 {
		return fmt.Sprintf("errno %d (%v)", int(r.Errno), r.Errno)
	}
	return fmt.Sprintf("ret %d", r.Ret)
}

func childMain(b []byte) error {
	var arg childArg
	if err := json.Unmarshal(b, &arg); err != nil {
		return err
	}
	// SIGSYS dumps core by default; the kill tests must not leave cores behind.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return err
	}
	if arg.DropSysAdmin {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return err
		}
		data[0].Effective &^= 1 << unix.CAP_SYS_ADMIN
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return err
		}
	}
	if arg.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return err
		}
	}
	fd := -1
	if arg.Profile != nil {
		var err error
		prog, _, err := Compile(arg.Profile)
		if err != nil {
			return err
		}
		if fd, err = bpf.Install(prog); err != nil {
			return err
		}
	}
	if arg.Listener != "" {
		st := &specs.ContainerProcessState{
			Pid:      os.Getpid(),
			Metadata: arg.Profile.ListenerMetadata,
			State:    specs.State{Version: specs.Version, ID: "seccomp-test", Status: specs.StateCreating, Pid: os.Getpid(), Bundle: "/bundle"},
		}
		if err := SendNotifyFd(arg.Listener, fd, st); err != nil {
			return err
		}
		unix.Close(fd)
	}
	if len(arg.Calls) > 0 {
		res := make([]result, len(arg.Calls))
		for i, c := range arg.Calls {
			r, _, errno := unix.RawSyscall6(c.Nr, c.Args[0], c.Args[1], c.Args[2], c.Args[3], c.Args[4], c.Args[5])
			if errno != 0 {
				r = 0 // -1, by the convention of RawSyscall
			}
			res[i] = result{Ret: r, Errno: errno}
		}
		if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
			return err
		}
	}
	if len(arg.Argv) > 0 {
		return syscall.Exec("/bin/busybox", arg.Argv, os.Environ())
	}
	return nil
}

type childResult struct {
	pid            int
	stdout, stderr string
	status         syscall.WaitStatus
}

// childErr returns the error the child's set-up failed with, or "".
func (r childResult) childErr() string {
	if !r.status.Exited() || r.status.ExitStatus() != childFailed {
		return ""
	}
	_, after, _ := strings.Cut(r.stderr, "child: ")
	return strings.TrimSpace(after)
}

func (r childResult) mustSucceed(t *testing.T) {
	t.Helper()
	if !r.status.Exited() || r.status.ExitStatus() != 0 {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", describe(r.status), r.stdout, r.stderr)
	}
}

// results decodes the child's raw syscall results.
func (r childResult) results(t *testing.T) []result {
	t.Helper()
	r.mustSucceed(t)
	var res []result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("child output %q: %v", r.stdout, err)
	}
	return res
}

func describe(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit %d", ws.ExitStatus())
}

// startChild starts a child with arg; wait for it with waitChild.
func startChild(t *testing.T, arg childArg) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer, context.CancelFunc) {
	t.Helper()
	requireRoot(t)
	b, err := json.Marshal(arg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	// A -race child would otherwise linger a second at exit.
	cmd.Env = append(os.Environ(), childEnv+"=1", argEnv+"="+string(b), "GORACE=atexit_sleep_ms=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	return cmd, &stdout, &stderr, cancel
}

func waitChild(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer, cancel context.CancelFunc) childResult {
	t.Helper()
	defer cancel()
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("child: %v", err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	res := childResult{pid: cmd.Process.Pid, stdout: stdout.String(), stderr: stderr.String(), status: ws}
	// Only the context's timeout sends SIGKILL.
	if ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		t.Fatalf("child timed out; stderr:\n%s", res.stderr)
	}
	return res
}

func runChild(t *testing.T, arg childArg) childResult {
	t.Helper()
	cmd, stdout, stderr, cancel := startChild(t, arg)
	return waitChild(t, cmd, stdout, stderr, cancel)
}

func requireRoot(t *testing.T) {
	t.Helper()
	hulltest.RequireRoot(t)
}

// requireAMD64 guards tests that use x86_64 syscall numbers and audit values.
func requireAMD64(t *testing.T) {
	t.Helper()
	hulltest.OnlyArch(t, "amd64", "the syscall numbers and expectations are x86_64's")
}

// loadFixture returns a fresh copy of the Docker-like default profile.
func loadFixture(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	b, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// without removes names from every entry of s (dropping entries left empty),
// so that a test can give those syscalls a rule of its own.
func without(s *specs.LinuxSeccomp, names ...string) *specs.LinuxSeccomp {
	var out []specs.LinuxSyscall
	for _, sc := range s.Syscalls {
		sc.Names = slices.DeleteFunc(slices.Clone(sc.Names), func(n string) bool { return slices.Contains(names, n) })
		if len(sc.Names) > 0 {
			out = append(out, sc)
		}
	}
	s.Syscalls = out
	return s
}

func uintp(v uint) *uint { return &v }
