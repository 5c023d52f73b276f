// Package hooks runs OCI lifecycle hooks (runtime.md, "Lifecycle" and
// config.md, "POSIX-platform Hooks"): each hook gets the container state on
// stdin, its own exact environment, and an optional timeout.
package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Run runs the hooks hs of the given kind ("prestart", "createRuntime", ...)
// one after the other and stops at the first failure. Each hook is exec'd
// from hook.Path with hook.Args as its argv (argv[0] included; Path alone when
// Args is empty) and exactly hook.Env as its environment, and reads the JSON
// of st on stdin.
//
// A hook that cannot be started, exits non-zero or outlives its Timeout gives
// an error naming kind, index (from 0, as in config.json) and path, for
// example "prestart hook #1 (/usr/bin/foo): exit status 3: <last stderr
// line>". A hook past its timeout is killed with its process group and reaped
// before Run returns.
func Run(kind string, hs []specs.Hook, st *specs.State) error {
	return RunWith(kind, hs, st, Options{})
}

// Options are what the hooks init runs in the container get besides their own fields.
type Options struct {
	// Dir is their working directory; "" leaves them the caller's.
	Dir string
	// Env is the environment of a hook whose config has no env at all (nil, not an
	// empty list); nil gives it an empty one.
	Env []string
}

// RunWith is Run with o.
func RunWith(kind string, hs []specs.Hook, st *specs.State, o Options) error {
	if len(hs) == 0 {
		return nil
	}
	state, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("%s hooks: encode state: %w", kind, err)
	}
	for i, h := range hs {
		if err := runOne(h, state, o); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// RunEach runs every hook of hs in order, each whatever the ones before it did, and
// returns the failures: poststop hooks, of which the spec wants each failure logged as
// a warning and the rest run.
func RunEach(kind string, hs []specs.Hook, st *specs.State) []error {
	if len(hs) == 0 {
		return nil
	}
	state, err := json.Marshal(st)
	if err != nil {
		return []error{fmt.Errorf("%s hooks: encode state: %w", kind, err)}
	}
	var errs []error
	for i, h := range hs {
		if err := runOne(h, state, Options{}); err != nil {
			errs = append(errs, fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err))
		}
	}
	return errs
}

// maxStderr bounds how much of a hook's stderr is kept for the error message.
const maxStderr = 4096

func runOne(h specs.Hook, state []byte, o Options) error {
	var timeout time.Duration
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("invalid timeout %d: must be greater than zero", *h.Timeout)
		}
		timeout = time.Duration(*h.Timeout) * time.Second
	}

	// Files rather than pipes: exec hands them to the hook directly, so no
	// copying goroutine exists and Wait returns as soon as the hook exits,
	// even if something it spawned keeps stdout or stderr open.
	stdin, err := memFile("hook-state", state)
	if err != nil {
		return err
	}
	defer stdin.Close()
	// stdout is kept away from hull's own, which may carry command output.
	stdout, err := memFile("hook-stdout", nil)
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := memFile("hook-stderr", nil)
	if err != nil {
		return err
	}
	defer stderr.Close()

	argv := h.Args
	if len(argv) == 0 {
		argv = []string{h.Path}
	}
	env := h.Env
	if env == nil {
		env = o.Env
	}
	if env == nil {
		// A nil Env would give the hook hull's environment.
		env = []string{}
	}
	cmd := &exec.Cmd{
		Dir:    o.Dir,
		Path:   h.Path,
		Args:   argv,
		Env:    env,
		Stdin:  stdin,
		Stdout: stdout,
		Stderr: stderr,
		// Its own process group, so a timeout kills what the hook started too.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := cmd.Start(); err != nil {
		return err
	}

	// Learn of the exit without reaping: while the hook is an unreaped
	// zombie its pid, and so its process group id, cannot be reused, which
	// makes the group kill below safe against a hook exiting at the deadline.
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		// waitid fails only for a pid that is not an unreaped child of ours, and
		// the hook is one until the Wait below.
		_ = waitNoReap(cmd.Process.Pid)
	}()
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	timedOut := false
	select {
	case <-exited:
	case <-expired:
		timedOut = true
		if killGroup(cmd.Process.Pid) != nil {
			// At least the hook itself must die, or Wait would block. Kill fails
			// only once it is gone, and then Wait returns.
			_ = cmd.Process.Kill()
		}
	}
	err = cmd.Wait()
	if timedOut {
		return fmt.Errorf("timed out after %s", timeout)
	}
	if err == nil {
		return nil
	}
	if line := lastLine(stderr); line != "" {
		return fmt.Errorf("%w: %s", err, line)
	}
	return err
}

// memFile returns an anonymous file holding data, positioned at its start.
func memFile(name string, data []byte) (*os.File, error) {
	f, err := memfdCreate(name)
	if err != nil {
		return nil, err
	}
	if len(data) > 0 {
		if _, err := f.Write(data); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return f, nil
}

// lastLine returns the last non-empty line among the final maxStderr bytes of f.
func lastLine(f *os.File) string {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size == 0 {
		return ""
	}
	off := max(size-maxStderr, 0)
	buf := make([]byte, size-off)
	n, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	buf = bytes.TrimRight(buf[:n], "\r\n\t ")
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	}
	return strings.TrimSpace(string(buf))
}
