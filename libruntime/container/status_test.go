package container

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestTransitions(t *testing.T) {
	for _, tc := range []struct {
		op      string
		from    Status
		ok      bool
		errText string
	}{
		{"start", Created, true, ""},
		{"start", Stopped, false, "cannot start a container that has stopped"},
		{"start", Running, false, "cannot start an already running container"},
		{"start", Paused, false, "cannot start a container in the paused state"},
		{"start", Creating, false, "cannot start a container in the creating state"},
		{"delete", Stopped, true, ""},
		{"delete", Created, true, ""},
		{"delete", Running, false, "cannot delete a container that is running"},
		{"kill", Running, true, ""},
		{"kill", Stopped, false, "cannot kill a container that is stopped"},
		{"pause", Running, true, ""},
		{"pause", Created, true, ""},
		{"pause", Paused, false, "container not running"},
		{"pause", Stopped, false, "container not running"},
		{"resume", Paused, true, ""},
		{"resume", Running, false, "container not paused"},
		{"resume", Created, false, "container not paused"},
		{"resume", Stopped, false, "container not paused"},
		{"exec", Stopped, false, "cannot exec a container that is stopped"},
	} {
		err := check(tc.op, tc.from)
		if tc.ok != (err == nil) {
			t.Errorf("%s from %s: err = %v, want ok=%v", tc.op, tc.from, err, tc.ok)
			continue
		}
		if err != nil && err.Error() != tc.errText {
			t.Errorf("%s from %s: %q, want %q", tc.op, tc.from, err, tc.errText)
		}
	}
	if err := check("start", Stopped); !errors.Is(err, ErrStopped) {
		t.Errorf("start from stopped is not ErrStopped: %v", err)
	}
	if err := check("pause", Stopped); !errors.Is(err, ErrNotRunning) {
		t.Errorf("pause from stopped is not ErrNotRunning: %v", err)
	}
	if err := check("resume", Running); !errors.Is(err, ErrNotPaused) {
		t.Errorf("resume from running is not ErrNotPaused: %v", err)
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
