package container

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// allOps and allStatuses are every operation and status of the state machine: the
// table below must have a row for each pair.
var (
	allOps      = []Op{OpStart, OpKill, OpKillAll, OpDelete, OpDeleteForce, OpPause, OpResume, OpExec, OpExecIgnorePaused, OpUpdate, OpEvents}
	allStatuses = []Status{Creating, Created, Running, Paused, Stopped}
)

const (
	notRunning   = "container not running"
	notPaused    = "container not paused"
	execStopped  = "cannot exec in a stopped container"
	execPaused   = "cannot exec in a paused container (use --ignore-paused to override)"
	execIgnored  = "cannot exec in a paused container even with --ignore-paused: hull starts the process inside the container's frozen cgroup; resume the container first (hull resume)"
	deleteFormat = "cannot delete container c1 that is not stopped: "
)

// transitionTable is what every operation gives in every status: "" where it is
// allowed, else runc's text of the refusal (which callers match on) and the sentinels
// the *TransitionError matches.
var transitionTable = map[Op]map[Status]struct {
	text string
	is   []error
}{
	OpStart: {
		Creating: {"cannot start a container in the creating state", nil},
		Created:  {"", nil},
		Running:  {"cannot start an already running container", []error{ErrRunning}},
		Paused:   {"cannot start a container in the paused state", []error{ErrPaused}},
		Stopped:  {"cannot start a container that has stopped", []error{ErrStopped}},
	},
	OpKill: {
		Creating: {notRunning, []error{ErrNotRunning}},
		Created:  {"", nil}, Running: {"", nil}, Paused: {"", nil},
		Stopped: {notRunning, []error{ErrNotRunning, ErrStopped}},
	},
	OpKillAll: {
		Creating: {notRunning, []error{ErrNotRunning}},
		Created:  {"", nil}, Running: {"", nil}, Paused: {"", nil}, Stopped: {"", nil},
	},
	OpDelete: {
		Creating: {"", nil}, Created: {"", nil}, Stopped: {"", nil},
		Running: {deleteFormat + "running", []error{ErrRunning}},
		Paused:  {deleteFormat + "paused", []error{ErrPaused}},
	},
	OpDeleteForce: {
		Creating: {"", nil}, Created: {"", nil}, Running: {"", nil}, Paused: {"", nil}, Stopped: {"", nil},
	},
	OpPause: {
		Creating: {notRunning, []error{ErrNotRunning}},
		Created:  {"", nil}, Running: {"", nil},
		Paused:  {notRunning, []error{ErrNotRunning, ErrPaused}},
		Stopped: {notRunning, []error{ErrNotRunning, ErrStopped}},
	},
	OpResume: {
		Creating: {notPaused, []error{ErrNotPaused}},
		Created:  {notPaused, []error{ErrNotPaused}},
		Running:  {notPaused, []error{ErrNotPaused, ErrRunning}},
		Paused:   {"", nil},
		Stopped:  {notPaused, []error{ErrNotPaused, ErrStopped}},
	},
	OpExec: {
		Creating: {execStopped, []error{ErrNotRunning}},
		Created:  {"", nil}, Running: {"", nil},
		Paused:  {execPaused, []error{ErrPaused}},
		Stopped: {execStopped, []error{ErrNotRunning, ErrStopped}},
	},
	OpExecIgnorePaused: {
		Creating: {execStopped, []error{ErrNotRunning}},
		Created:  {"", nil}, Running: {"", nil},
		Paused:  {execIgnored, []error{ErrPaused}},
		Stopped: {execStopped, []error{ErrNotRunning, ErrStopped}},
	},
	OpUpdate: {
		Creating: {notRunning, []error{ErrNotRunning}},
		Created:  {"", nil}, Running: {"", nil}, Paused: {"", nil},
		Stopped: {notRunning, []error{ErrNotRunning, ErrStopped}},
	},
	OpEvents: {
		Creating: {notRunning, []error{ErrNotRunning}},
		Created:  {"", nil}, Running: {"", nil}, Paused: {"", nil},
		Stopped: {notRunning, []error{ErrNotRunning, ErrStopped}},
	},
}

var allSentinels = []error{ErrNotExist, ErrExist, ErrNotRunning, ErrNotPaused, ErrRunning, ErrStopped, ErrPaused}

// checkRefusal reports how err differs from what transitionTable says op gives in s.
func checkRefusal(t *testing.T, what string, op Op, s Status, err error) {
	t.Helper()
	want := transitionTable[op][s]
	if want.text == "" {
		var te *TransitionError
		if errors.As(err, &te) {
			t.Errorf("%s: %s from %s refused: %v", what, op, s, err)
		}
		return
	}
	var te *TransitionError
	if !errors.As(err, &te) {
		t.Errorf("%s: %s from %s: %v (%T), want a *TransitionError %q", what, op, s, err, err, want.text)
		return
	}
	if te.From != s || te.Op != op {
		t.Errorf("%s: %s from %s: the error says %s from %s", what, op, s, te.Op, te.From)
	}
	if err.Error() != want.text {
		t.Errorf("%s: %s from %s: %q, want %q", what, op, s, err, want.text)
	}
	for _, sentinel := range allSentinels {
		if got, w := errors.Is(err, sentinel), slices.Contains(want.is, sentinel); got != w {
			t.Errorf("%s: %s from %s: errors.Is(%q) = %v, want %v", what, op, s, sentinel, got, w)
		}
	}
}

// TestTransitions holds the state machine to the whole table: every operation in every
// status is allowed or refused with its typed error, in runc's words.
func TestTransitions(t *testing.T) {
	for _, op := range allOps {
		row, ok := transitionTable[op]
		if !ok || len(row) != len(allStatuses) {
			t.Fatalf("the test table lacks statuses of %s", op)
		}
		for _, s := range allStatuses {
			err := check(op, s)
			if transitionTable[op][s].text == "" && err != nil {
				t.Errorf("%s from %s: %v, want it allowed", op, s, err)
			}
			if err != nil {
				err.(*TransitionError).ID = "c1"
			}
			checkRefusal(t, "check", op, s, err)
		}
	}
	// No operation the table allows is missing from the test's list.
	for s, ops := range allowed {
		for _, op := range ops {
			if !slices.Contains(allOps, op) {
				t.Errorf("status %s allows %s, which the test does not know", s, op)
			}
		}
	}
}

func TestProcStat(t *testing.T) {
	st, start, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st != 'R' && st != 'S' {
		t.Errorf("own state %c", st)
	}
	if !alive(os.Getpid(), start) {
		t.Error("own process not alive")
	}
	if alive(os.Getpid(), start+1) {
		t.Error("a different start time must not match: a reused pid would be mistaken for init")
	}
}

func TestLoadErrors(t *testing.T) {
	root := t.TempDir()
	if _, err := Load(root, "nope"); !errors.Is(err, ErrNotExist) || err.Error() != `container "nope" does not exist` {
		t.Errorf("Load missing: %v", err)
	}
	for _, id := range []string{"", "..", "a/b", "../x"} {
		if _, err := Load(root, id); err == nil {
			t.Errorf("Load(%q) accepted a bad id", id)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := &persisted{ID: "x", Bundle: "/b", InitPid: os.Getpid()}
	if err := writeState(dir, p); err != nil {
		t.Fatal(err)
	}
	got, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "x" || got.Bundle != "/b" || got.InitPid != os.Getpid() {
		t.Errorf("round trip: %+v", got)
	}
	fi, err := os.Stat(dir + "/" + stateFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, %v", fi.Mode(), err)
	}
}

func TestLoadForeignState(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(root+"/c1", 0o700); err != nil {
		t.Fatal(err)
	}
	// runc's state.json has no "id" field of ours at the top level.
	if err := os.WriteFile(root+"/c1/state.json", []byte(`{"init_process_pid": 42, "config": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root, "c1"); err == nil || !strings.Contains(err.Error(), "not hull's") {
		t.Fatalf("Load of a foreign state: %v", err)
	}
}
