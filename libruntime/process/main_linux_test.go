package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// Most functions here change the credentials or limits of the process that
// calls them, so the tests run them in a child: the test binary re-executed
// with childEnv naming a scenario and argEnv holding its JSON argument. Like
// hull's init, the child locks its main goroutine to its OS thread first.
const (
	childEnv = "HULL_PROCESS_TEST_CHILD"
	argEnv   = "HULL_PROCESS_TEST_ARG"
)

// childFailed is the exit code of a scenario that returned an error; the
// error is the last line of its stderr, after "child: ".
const childFailed = 3

// scenarios are registered by the test files' init functions.
var scenarios = map[string]func(arg []byte) error{}

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		runtime.LockOSThread()
		os.Exit(childMain(name, []byte(os.Getenv(argEnv))))
	}
	os.Exit(m.Run())
}

func childMain(name string, arg []byte) int {
	fn, ok := scenarios[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "child: no scenario %q\n", name)
		return 2
	}
	if err := fn(arg); err != nil {
		fmt.Fprintf(os.Stderr, "child: %v\n", err)
		return childFailed
	}
	return 0
}

type childResult struct {
	stdout, stderr string
	code           int
}

// childErr returns the error text the scenario failed with, or "".
func (r childResult) childErr() string {
	if r.code != childFailed {
		return ""
	}
	_, after, _ := strings.Cut(r.stderr, "child: ")
	return strings.TrimSpace(after)
}

// runChild runs scenario in a child with arg and waits for it.
func runChild(t *testing.T, scenario string, arg any) childResult {
	t.Helper()
	b, err := json.Marshal(arg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+scenario, argEnv+"="+string(b))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	res := childResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run child %s: %v", scenario, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("child %s timed out; stderr:\n%s", scenario, res.stderr)
	}
	return res
}

// mustSucceed fails the test unless the child exited 0.
func (r childResult) mustSucceed(t *testing.T) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("child exited %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	hulltest.RequireRoot(t)
}

// execBusybox replaces the child with busybox running argv, the way init
// ends: the kernel then applies the thread's credentials to the new program.
func execBusybox(argv ...string) error {
	return syscall.Exec("/bin/busybox", argv, os.Environ())
}

func statusMask(t *testing.T, st map[string]string, key string) uint64 {
	t.Helper()
	return hulltest.StatusHex(t, st, key)
}

// hostCapEff is the effective capability set of the test process.
func hostCapEff(t *testing.T) capSet {
	t.Helper()
	s, err := capget()
	if err != nil {
		t.Fatal(err)
	}
	return s.eff
}
