//go:build linux

package tests

import (
	"strings"
	"testing"
	"time"
)

// TestErrorsLikeRunc walks one container through its life and compares, at each step,
// the exit status and the words of the error with what runc 1.5 gives for the same
// command (runc's messages are quoted in the comments). Callers such as containerd's
// shim, conmon and CRI-O branch on these substrings and codes. The steps use no
// hull-only wording, so the test also passes against runc (hack/runc-ref.sh).
func TestErrorsLikeRunc(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mustExit(t, h.create(baseSpec("sleep", "1000")), 0)
	nosuch := h.id + "-nosuch"

	type step struct {
		args   []string
		exit   int
		stderr []string // substrings, all required
		status string   // the container's status afterwards; "" to skip
	}
	steps := func(phase string, ss []step) {
		t.Helper()
		for _, s := range ss {
			r := h.do(s.args...)
			if r.exit != s.exit {
				t.Errorf("%s: exit %d, want %d: %s", phase, r.exit, s.exit, r)
			}
			for _, want := range s.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("%s: stderr lacks %q: %s", phase, want, r)
				}
			}
			if s.status != "" {
				if st := h.mustState(h.id); st.Status != s.status {
					t.Errorf("%s: after `%s` the status is %q, want %q", phase, strings.Join(s.args, " "), st.Status, s.status)
				}
			}
		}
	}

	steps("created", []step{
		// runc: "container with given ID already exists"
		{args: []string{"create", "--bundle", h.bundle, h.id}, exit: 1, stderr: []string{"already exists"}, status: "created"},
		// runc: "exec failed: unable to start container process: exec: \"/nonexistent\": stat /nonexistent: no such file or directory"
		{args: []string{"exec", h.id, "/nonexistent"}, exit: 255, stderr: []string{"exec failed: ", "no such file or directory"}},
		// runc: "exec failed: container does not exist"
		{args: []string{"exec", nosuch, "true"}, exit: 255, stderr: []string{"exec failed: ", "does not exist"}},
		// runc: "exec failed: exec args cannot be empty"
		{args: []string{"exec", h.id}, exit: 255, stderr: []string{"exec failed: "}},
		// runc: "exec failed: cannot allocate tty if runc will detach without setting console socket"
		{args: []string{"exec", "-t", "-d", h.id, "sh"}, exit: 255, stderr: []string{"exec failed: ", "cannot allocate tty"}},
		// runc: "exec failed: open /nonexistent.json: no such file or directory"
		{args: []string{"exec", "-p", "/nonexistent.json", h.id}, exit: 255, stderr: []string{"exec failed: ", "no such file or directory"}},
		// runc: checkArgs, "requires a minimum of 1 argument(s)", before anything is tried
		{args: []string{"exec"}, exit: 1},
		// runc: "container not paused"
		{args: []string{"resume", h.id}, exit: 1, stderr: []string{"container not paused"}, status: "created"},
		// runc freezes a created container too; it shows as paused, and thawed it is
		// created again, still waiting for start.
		{args: []string{"pause", h.id}, exit: 0, status: "paused"},
		// runc: "cannot start a container in the paused state"
		{args: []string{"start", h.id}, exit: 1, stderr: []string{"cannot start a container in the paused state"}, status: "paused"},
		{args: []string{"resume", h.id}, exit: 0, status: "created"},
		{args: []string{"start", h.id}, exit: 0, status: "running"},
	})
	steps("running", []step{
		{args: []string{"exec", h.id, "sh", "-c", "exit 7"}, exit: 7},
		{args: []string{"exec", h.id, "/nonexistent"}, exit: 255, stderr: []string{"exec failed: ", "no such file or directory"}},
		{args: []string{"pause", h.id}, exit: 0, status: "paused"},
		// runc: "container not running"
		{args: []string{"pause", h.id}, exit: 1, stderr: []string{"container not running"}, status: "paused"},
		// runc: "exec failed: cannot exec in a paused container (use --ignore-paused to override)"
		{args: []string{"exec", h.id, "true"}, exit: 255, stderr: []string{"exec failed: ", "paused"}},
		{args: []string{"resume", h.id}, exit: 0, status: "running"},
		{args: []string{"kill", h.id, "KILL"}, exit: 0},
	})
	h.waitStatus(h.id, "stopped", 10*time.Second)
	steps("stopped", []step{
		// runc: "container not running", "container not paused"
		{args: []string{"pause", h.id}, exit: 1, stderr: []string{"container not running"}},
		{args: []string{"resume", h.id}, exit: 1, stderr: []string{"container not paused"}},
		{args: []string{"kill", h.id, "0"}, exit: 1, stderr: []string{"container not running"}},
		// runc: "exec failed: cannot exec in a stopped container"
		{args: []string{"exec", h.id, "true"}, exit: 255, stderr: []string{"exec failed: ", "stopped"}},
		// runc: "cannot start a container that has stopped"
		{args: []string{"start", h.id}, exit: 1, stderr: []string{"cannot start a container that has stopped"}},
	})
	steps("no such container", []step{
		// runc: "container does not exist", exit 1, for every command but exec
		{args: []string{"state", nosuch}, exit: 1, stderr: []string{"does not exist"}},
		{args: []string{"start", nosuch}, exit: 1, stderr: []string{"does not exist"}},
		{args: []string{"kill", nosuch}, exit: 1, stderr: []string{"does not exist"}},
		{args: []string{"pause", nosuch}, exit: 1, stderr: []string{"does not exist"}},
		{args: []string{"resume", nosuch}, exit: 1, stderr: []string{"does not exist"}},
		{args: []string{"delete", nosuch}, exit: 1, stderr: []string{"does not exist"}},
	})
}
