//go:build linux

package tests

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLifecycle walks one container through create, start, kill and delete,
// checking state and the process at every step.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pidFile := filepath.Join(h.outDir, "pid")
	before := time.Now().Add(-time.Second)
	cr := h.create(baseSpec(shell("echo started; exec sleep 60")...), "--pid-file", pidFile)
	mustExit(t, cr, 0)

	st := h.mustState(h.id)
	pidText, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatalf("pid file content %q: %v", pidText, err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"status", st.Status, "created"},
		{"id", st.ID, h.id},
		{"pid", st.Pid, pid},
		{"bundle", st.Bundle, h.bundle},
		{"rootfs", st.Rootfs, h.rootfs},
		{"ociVersion set", st.OCIVersion != "", true},
		{"created recently", st.Created.After(before) && st.Created.Before(time.Now().Add(time.Second)), true},
		{"init alive", pidAlive(pid), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("after create: %s = %v, want %v", c.what, c.got, c.want)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if out := cr.readStdout(); strings.Contains(out, "started") {
		t.Errorf("the process ran before start: output %q", out)
	}

	mustExit(t, h.do("start", h.id), 0)
	waitOutput(t, cr.stdoutPath, "started", 10*time.Second)
	st = h.mustState(h.id)
	if st.Status != "running" || st.Pid != pid {
		t.Errorf("after start: status %q pid %d, want running and %d", st.Status, st.Pid, pid)
	}
	if r := h.do("start", h.id); r.exit == 0 {
		t.Errorf("second start succeeded: %s", r)
	}

	mustExit(t, h.do("kill", h.id, "KILL"), 0)
	h.waitStatus(h.id, "stopped", 10*time.Second)

	mustExit(t, h.do("delete", h.id), 0)
	_, r, ok := h.state(h.id)
	if ok || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("state after delete: %s; want a failure mentioning \"does not exist\"", r)
	}
	h.assertNothingLeft(true)
}

// TestKillSignals sends each signal spelling to a shell that traps TERM and
// USR1, and checks which signal arrived and that the container stops.
func TestKillSignals(t *testing.T) {
	t.Parallel()
	script := `trap 'echo trapped-TERM; exit 0' TERM
trap 'echo trapped-USR1; exit 0' USR1
echo ready
sleep 1000 & wait`
	tests := []struct {
		name   string
		args   []string // after the id
		marker string   // what the trap prints; "" for an untrappable signal
	}{
		{"KILL", []string{"KILL"}, ""},
		{"SIGKILL", []string{"SIGKILL"}, ""},
		{"9", []string{"9"}, ""},
		{"default-is-TERM", nil, "trapped-TERM"},
		{"TERM", []string{"TERM"}, "trapped-TERM"},
		{"SIGTERM", []string{"SIGTERM"}, "trapped-TERM"},
		{"15", []string{"15"}, "trapped-TERM"},
		{"SIGUSR1", []string{"SIGUSR1"}, "trapped-USR1"},
		{"USR1", []string{"USR1"}, "trapped-USR1"},
		{"all-KILL", []string{"KILL"}, "all"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			cr := h.create(baseSpec(shell(script)...))
			mustExit(t, cr, 0)
			mustExit(t, h.do("start", h.id), 0)
			waitOutput(t, cr.stdoutPath, "ready", 10*time.Second)
			args := append([]string{"kill"}, h.id)
			if tc.marker == "all" {
				args = []string{"kill", "--all", h.id}
			}
			mustExit(t, h.do(append(args, tc.args...)...), 0)
			h.waitStatus(h.id, "stopped", 10*time.Second)
			out := cr.readStdout()
			switch tc.marker {
			case "", "all":
				if strings.Contains(out, "trapped") {
					t.Errorf("signal %v was trapped, want an untrappable kill: %q", tc.args, out)
				}
			default:
				if !strings.Contains(out, tc.marker) {
					t.Errorf("signal %v: output %q, want %q", tc.args, out, tc.marker)
				}
			}
		})
	}
}

// TestKillCreated kills a container that was never started.
func TestKillCreated(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mustExit(t, h.create(baseSpec("sleep", "60")), 0)
	mustExit(t, h.do("kill", h.id, "KILL"), 0)
	h.waitStatus(h.id, "stopped", 10*time.Second)
	mustExit(t, h.do("delete", h.id), 0)
	h.assertNothingLeft(true)
}

// TestKillZero: signal 0 only asks whether init exists, as kill(2) and runc have it:
// success while the container is created or running (and nothing is signalled), a
// failure once it has stopped or when there is no such container. Callers use it as
// a liveness probe.
func TestKillZero(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cr := h.create(baseSpec(shell("trap 'echo got-signal' TERM USR1 HUP; echo ready; while :; do sleep 1; done")...))
	mustExit(t, cr, 0)
	mustExit(t, h.do("kill", h.id, "0"), 0)
	mustExit(t, h.do("kill", "--all", h.id, "0"), 0)
	mustExit(t, h.do("start", h.id), 0)
	waitOutput(t, cr.stdoutPath, "ready", 10*time.Second)
	mustExit(t, h.do("kill", h.id, "0"), 0)
	mustExit(t, h.do("kill", "--all", h.id, "0"), 0)
	time.Sleep(100 * time.Millisecond)
	if st := h.mustState(h.id); st.Status != "running" || strings.Contains(cr.readStdout(), "got-signal") {
		t.Errorf("after kill 0: status %s, output %q; want it running and unsignalled", st.Status, cr.readStdout())
	}
	mustExit(t, h.do("kill", h.id, "KILL"), 0)
	h.waitStatus(h.id, "stopped", 10*time.Second)
	if r := h.do("kill", h.id, "0"); r.exit == 0 || !strings.Contains(r.stderr, "container not running") {
		t.Errorf("kill 0 of a stopped container: %s; want runc's \"container not running\"", r)
	}
	if r := h.do("kill", h.id+"-nosuch", "0"); r.exit == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("kill 0 of no container: %s; want \"does not exist\"", r)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	t.Run("created-without-force", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		mustExit(t, h.create(baseSpec("sleep", "60")), 0)
		pid := h.mustState(h.id).Pid
		mustExit(t, h.do("delete", h.id), 0)
		h.assertNothingLeft(true)
		if pidStaysAlive(pid) {
			t.Errorf("init %d of the deleted container is still alive", pid)
		}
	})
	t.Run("running-without-force-fails", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		mustExit(t, h.create(baseSpec("sleep", "60")), 0)
		mustExit(t, h.do("start", h.id), 0)
		r := h.do("delete", h.id)
		if r.exit == 0 || !strings.Contains(r.stderr, "running") {
			t.Errorf("delete of a running container: %s; want a failure mentioning \"running\"", r)
		}
		if st := h.mustState(h.id); st.Status != "running" || !pidAlive(st.Pid) {
			t.Errorf("after a refused delete: %+v, want it still running", st)
		}
		mustExit(t, h.do("delete", "--force", h.id), 0)
		h.assertNothingLeft(true)
	})
	t.Run("force-running", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		mustExit(t, h.create(baseSpec("sleep", "60")), 0)
		mustExit(t, h.do("start", h.id), 0)
		mustExit(t, h.do("delete", "-f", h.id), 0)
		h.assertNothingLeft(true)
	})
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		mustExit(t, h.do("delete", "--force", h.id), 0)
		r := h.do("delete", h.id)
		if r.exit == 0 || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("delete of a missing container: %s; want a failure mentioning \"does not exist\"", r)
		}
		for _, cmd := range []string{"state", "start", "kill"} {
			if r := h.do(cmd, h.id); r.exit == 0 || !strings.Contains(r.stderr, "does not exist") {
				t.Errorf("%s of a missing container: %s; want \"does not exist\"", cmd, r)
			}
		}
	})
}

// listEntry is one element of `list --format json`, as runc prints it.
type listEntry struct {
	ID      string    `json:"id"`
	Pid     int       `json:"pid"`
	Status  string    `json:"status"`
	Bundle  string    `json:"bundle"`
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

func TestList(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	// A --root that does not exist is an error, as with runc 1.5, not an empty list.
	missing := filepath.Join(t.TempDir(), "missing")
	if r := h.hullOpts(cmdOpts{noRoot: true}, "--root", missing, "list"); r.exit == 0 || !strings.Contains(r.stderr, "no such file or directory") {
		t.Errorf("list with a missing --root: %s; want runc's \"open ROOT: no such file or directory\"", r)
	}

	// Empty root first.
	if r := h.do("list", "-q"); r.exit != 0 || r.stdout != "" {
		t.Errorf("list -q with no containers: %s", r)
	}
	if r := h.do("list", "--format", "json"); r.exit != 0 {
		t.Errorf("list --format json with no containers: %s", r)
	} else if out := strings.TrimSpace(r.stdout); out != "null" && out != "[]" {
		t.Errorf("list --format json with no containers printed %q, want null or []", out)
	}

	h2 := h.sibling(t)
	mustExit(t, h.create(baseSpec("sleep", "60")), 0)
	mustExit(t, h2.create(baseSpec("sleep", "60")), 0)
	mustExit(t, h2.do("start", h2.id), 0)
	want := map[string]containerState{h.id: h.mustState(h.id), h2.id: h.mustState(h2.id)}
	if want[h.id].Status != "created" || want[h2.id].Status != "running" {
		t.Fatalf("unexpected states %+v", want)
	}

	t.Run("quiet", func(t *testing.T) {
		r := h.do("list", "-q")
		mustExit(t, r, 0)
		got := strings.Fields(r.stdout)
		sort.Strings(got)
		ids := []string{h.id, h2.id}
		sort.Strings(ids)
		if strings.Join(got, " ") != strings.Join(ids, " ") {
			t.Errorf("list -q: %q, want the ids %v one per line", r.stdout, ids)
		}
	})
	t.Run("json", func(t *testing.T) {
		r := h.do("list", "--format", "json")
		mustExit(t, r, 0)
		var got []listEntry
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("list json: %v\n%s", err, r.stdout)
		}
		if len(got) != 2 {
			t.Fatalf("list json has %d entries, want 2: %s", len(got), r.stdout)
		}
		for _, e := range got {
			w, ok := want[e.ID]
			if !ok {
				t.Errorf("unexpected id %q", e.ID)
				continue
			}
			if e.Pid != w.Pid || e.Status != w.Status || e.Bundle != w.Bundle || e.Rootfs != w.Rootfs || !e.Created.Equal(w.Created) {
				t.Errorf("list entry %+v does not match state %+v", e, w)
			}
		}
	})
	t.Run("table", func(t *testing.T) {
		r := h.do("list")
		mustExit(t, r, 0)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 {
			t.Fatalf("list: want a header and 2 rows, got %q", r.stdout)
		}
		if got := strings.Join(strings.Fields(lines[0]), " "); got != "ID PID STATUS BUNDLE CREATED OWNER" {
			t.Errorf("list header %q", lines[0])
		}
		for _, line := range lines[1:] {
			f := strings.Fields(line)
			if len(f) < 5 {
				t.Errorf("short row %q", line)
				continue
			}
			w, ok := want[f[0]]
			if !ok {
				t.Errorf("row for unknown id: %q", line)
				continue
			}
			if f[1] != strconv.Itoa(w.Pid) || f[2] != w.Status || f[3] != w.Bundle {
				t.Errorf("row %q, want pid %d status %s bundle %s", line, w.Pid, w.Status, w.Bundle)
			}
		}
	})
}

func TestRunModes(t *testing.T) {
	t.Parallel()
	t.Run("detach", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		start := time.Now()
		r := h.run(baseSpec("sleep", "60"), "--detach")
		mustExit(t, r, 0)
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("run --detach took %s", d)
		}
		st := h.mustState(h.id)
		if st.Status != "running" || !pidAlive(st.Pid) {
			t.Errorf("after run -d: %+v, want running", st)
		}
	})
	t.Run("foreground-removes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		mustExit(t, h.run(baseSpec("true")), 0)
		if _, r, ok := h.state(h.id); ok || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("state after run: %s; want \"does not exist\"", r)
		}
		h.assertNothingLeft(true)
	})
	t.Run("keep", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		mustExit(t, h.run(baseSpec(shell("exit 7")...), "--keep"), 7)
		if st := h.mustState(h.id); st.Status != "stopped" {
			t.Errorf("state after run --keep: %+v, want stopped", st)
		}
	})
	t.Run("pid-file", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		pidFile := filepath.Join(h.outDir, "pid")
		mustExit(t, h.run(baseSpec("sleep", "60"), "-d", "--pid-file", pidFile), 0)
		pid, _ := strconv.Atoi(strings.TrimSpace(readFile(pidFile)))
		if st := h.mustState(h.id); st.Pid != pid || pid == 0 {
			t.Errorf("pid file says %d, state says %d", pid, st.Pid)
		}
	})
	t.Run("killed-from-outside", func(t *testing.T) {
		// hull run must wait for and report a PID 1 killed by a signal.
		t.Parallel()
		h := newHarness(t)
		h.writeSpec(baseSpec("sleep", "60"))
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, hullBinary, "--root", h.root, "run", "--bundle", h.bundle, h.id)
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		h.waitStatus(h.id, "running", 10*time.Second)
		mustExit(t, h.do("kill", h.id, "KILL"), 0)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+9 {
			t.Errorf("hull run of a SIGKILLed container: %v, want exit status 137", err)
		}
	})
}

// TestDuplicateID creates a second container under an id in use: it must
// fail and leave the first one alone.
func TestDuplicateID(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mustExit(t, h.create(baseSpec("sleep", "60")), 0)
	first := h.mustState(h.id)

	h2 := h.sibling(t)
	h2.id = h.id // same id, other bundle
	h2.writeSpec(baseSpec("sleep", "60"))
	r := h2.do("create", "--bundle", h2.bundle, h.id)
	h2.cleaned = true // its id is h's: h's cleanup deletes it
	if r.exit == 0 || !strings.Contains(r.stderr, "exist") {
		t.Errorf("duplicate create: %s; want a failure mentioning \"exists\"", r)
	}
	if st := h.mustState(h.id); st.Pid != first.Pid || st.Bundle != h.bundle || st.Status != "created" || !pidAlive(st.Pid) {
		t.Errorf("the first container changed: %+v, was %+v", st, first)
	}
	if p := h2.bundleProcesses(); len(p) != 0 {
		t.Errorf("the failed duplicate left processes: %v", p)
	}
	if m := mountsUnder(h2.bundle); len(m) != 0 {
		t.Errorf("the failed duplicate left mounts: %v", m)
	}
}
