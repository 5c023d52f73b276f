package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// The test binary doubles as a hook that records what it was given. It knows
// it is one either from its argv[0] (then argv[1] is the output file) or,
// when it has no args of its own, from its environment.
const (
	childArgv0 = "hull-hooks-test-child"
	childEnv   = "HULL_HOOKS_TEST_CHILD"
	outEnv     = "HULL_HOOKS_TEST_OUT"
)

type record struct {
	Args  []string
	Env   []string
	Stdin string
}

func TestMain(m *testing.M) {
	out := os.Getenv(outEnv)
	if len(os.Args) > 1 && os.Args[0] == childArgv0 {
		out = os.Args[1]
	} else if os.Getenv(childEnv) == "" {
		os.Exit(m.Run())
	}
	stdin, _ := io.ReadAll(os.Stdin)
	env := os.Environ()
	if env == nil {
		env = []string{}
	}
	b, _ := json.Marshal(record{Args: os.Args, Env: env, Stdin: string(stdin)})
	if err := os.WriteFile(out, b, 0o600); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

func testState() *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          "ctr-1",
		Status:      specs.StateCreated,
		Pid:         4242,
		Bundle:      "/run/bundles/ctr-1",
		Annotations: map[string]string{"k": "v"},
	}
}

func TestRunArgsEnvStdin(t *testing.T) {
	// Must not reach any hook.
	t.Setenv("HULL_HOOKS_LEAK", "hull's environment")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "record.json")
	tests := []struct {
		name     string
		hook     specs.Hook
		wantArgs []string
		wantEnv  []string
	}{
		{
			name:     "args and env",
			hook:     specs.Hook{Path: self, Args: []string{childArgv0, out, "two words"}, Env: []string{"A=1", "B=x=y z"}},
			wantArgs: []string{childArgv0, out, "two words"},
			wantEnv:  []string{"A=1", "B=x=y z"},
		},
		{
			name:     "no args: argv is the path",
			hook:     specs.Hook{Path: self, Env: []string{childEnv + "=1", outEnv + "=" + out}},
			wantArgs: []string{self},
			wantEnv:  []string{childEnv + "=1", outEnv + "=" + out},
		},
		{
			name:     "no env: empty environment",
			hook:     specs.Hook{Path: self, Args: []string{childArgv0, out}},
			wantArgs: []string{childArgv0, out},
			wantEnv:  []string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(out)
			if err := Run("createRuntime", []specs.Hook{tc.hook}, testState()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("hook did not run: %v", err)
			}
			var rec record
			if err := json.Unmarshal(b, &rec); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rec.Args, tc.wantArgs) {
				t.Errorf("args = %q, want %q", rec.Args, tc.wantArgs)
			}
			if !reflect.DeepEqual(rec.Env, tc.wantEnv) {
				t.Errorf("env = %q, want exactly %q", rec.Env, tc.wantEnv)
			}
			var st specs.State
			if err := json.Unmarshal([]byte(rec.Stdin), &st); err != nil {
				t.Fatalf("stdin %q: %v", rec.Stdin, err)
			}
			if want := testState(); !reflect.DeepEqual(&st, want) {
				t.Errorf("state on stdin = %+v, want %+v", st, *want)
			}
		})
	}
}

// script writes an executable shell script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunOrderAndErrors(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "order")
	appendTo := func(name string) string {
		return script(t, dir, name, fmt.Sprintf("echo %s >> %s", name, log))
	}
	one, two, three := appendTo("one"), appendTo("two"), appendTo("three")
	fail3 := script(t, dir, "fail3", "echo noise >&2\necho 'the reason' >&2\nexit 3")
	fail4 := script(t, dir, "fail4", "exit 4")
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	zero := 0

	tests := []struct {
		name      string
		kind      string
		hooks     []specs.Hook
		wantOrder string
		wantErr   string // exact error text, "" for success
	}{
		{
			name:      "runs in order",
			kind:      "prestart",
			hooks:     []specs.Hook{{Path: one}, {Path: two}, {Path: three}},
			wantOrder: "one\ntwo\nthree\n",
		},
		{
			name:      "stops at the first failure, last stderr line",
			kind:      "prestart",
			hooks:     []specs.Hook{{Path: one}, {Path: fail3}, {Path: three}},
			wantOrder: "one\n",
			wantErr:   fmt.Sprintf("prestart hook #1 (%s): exit status 3: the reason", fail3),
		},
		{
			name:    "failure without stderr",
			kind:    "poststop",
			hooks:   []specs.Hook{{Path: fail4}},
			wantErr: fmt.Sprintf("poststop hook #0 (%s): exit status 4", fail4),
		},
		{
			name:    "missing binary",
			kind:    "createRuntime",
			hooks:   []specs.Hook{{Path: one}, {Path: "/nonexistent/hook"}},
			wantErr: "createRuntime hook #1 (/nonexistent/hook): fork/exec /nonexistent/hook: no such file or directory",
			// The first hook did run.
			wantOrder: "one\n",
		},
		{
			name:    "not executable",
			kind:    "startContainer",
			hooks:   []specs.Hook{{Path: notExec}},
			wantErr: fmt.Sprintf("startContainer hook #0 (%s): fork/exec %s: permission denied", notExec, notExec),
		},
		{
			name:    "zero timeout",
			kind:    "poststart",
			hooks:   []specs.Hook{{Path: one, Timeout: &zero}},
			wantErr: fmt.Sprintf("poststart hook #0 (%s): invalid timeout 0: must be greater than zero", one),
		},
		{
			name:  "no hooks",
			kind:  "prestart",
			hooks: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(log)
			err := Run(tc.kind, tc.hooks, testState())
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Fatalf("Run error = %v, want %q", err, tc.wantErr)
			}
			got, _ := os.ReadFile(log)
			if string(got) != tc.wantOrder {
				t.Errorf("hooks ran as %q, want %q", got, tc.wantOrder)
			}
		})
	}
}

func TestRunTimeoutKills(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	bgFile := filepath.Join(dir, "bgpid")
	// The hook starts a child of its own, then hangs.
	hook := script(t, dir, "hang", fmt.Sprintf("sleep 300 &\necho $! > %s.tmp && mv %s.tmp %s\necho $$ > %s.tmp && mv %s.tmp %s\nwait",
		bgFile, bgFile, bgFile, pidFile, pidFile, pidFile))
	timeout := 1

	start := time.Now()
	err := Run("poststart", []specs.Hook{{Path: hook, Timeout: &timeout}}, testState())
	elapsed := time.Since(start)

	want := fmt.Sprintf("poststart hook #0 (%s): timed out after 1s", hook)
	if err == nil || err.Error() != want {
		t.Fatalf("Run error = %v, want %q", err, want)
	}
	if elapsed < time.Second || elapsed > 10*time.Second {
		t.Errorf("Run took %v for a 1s timeout", elapsed)
	}
	pid := hulltest.ReadPid(t, pidFile)
	bg := hulltest.ReadPid(t, bgFile)
	t.Cleanup(func() { syscall.Kill(bg, syscall.SIGKILL) })

	// Killed and reaped by Run: the pid no longer exists, not even as a zombie.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("hook pid %d still exists after Run (kill 0: %v)", pid, err)
	}
	// The hook's own child was in its process group; it is reaped by
	// whoever inherited it, so give that a moment.
	deadline := time.Now().Add(5 * time.Second)
	for hulltest.PidAlive(bg) {
		if time.Now().After(deadline) {
			t.Fatalf("the hook's child %d survived the timeout", bg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunDoesNotWaitForHookOutputHolders(t *testing.T) {
	dir := t.TempDir()
	bgFile := filepath.Join(dir, "bgpid")
	// A daemon left behind keeps the hook's stdout and stderr open.
	hook := script(t, dir, "daemonize", fmt.Sprintf("sleep 300 &\necho $! > %s", bgFile))
	start := time.Now()
	if err := Run("createRuntime", []specs.Hook{{Path: hook}}, testState()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if bg := hulltest.ReadPid(t, bgFile); bg > 0 {
		syscall.Kill(bg, syscall.SIGKILL)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run waited %v for a daemon holding the hook's output", d)
	}
}
