package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/libruntime/container"
)

// TestCommandsAskTheGate runs each command that acts on an existing container against
// a stopped one (a state with no init, as a create killed before it recorded init
// leaves) and checks that the refusal comes from the state machine: a
// *container.TransitionError for that operation, in runc's words, exec's behind
// "exec failed: ".
func TestCommandsAskTheGate(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "c1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(`{"id":"c1","config":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		op   container.Op
		text string
	}{
		{[]string{"kill", "c1", "0"}, container.OpKill, "container not running"},
		{[]string{"pause", "c1"}, container.OpPause, "container not running"},
		{[]string{"resume", "c1"}, container.OpResume, "container not paused"},
		{[]string{"update", "--pids-limit", "5", "c1"}, container.OpUpdate, "container not running"},
		{[]string{"events", "--stats", "c1"}, container.OpEvents, "container not running"},
		{[]string{"exec", "c1", "true"}, container.OpExec, "exec failed: cannot exec in a stopped container"},
		{[]string{"exec", "--ignore-paused", "c1", "true"}, container.OpExecIgnorePaused, "exec failed: cannot exec in a stopped container"},
		{[]string{"start", "c1"}, container.OpStart, "cannot start a container that has stopped"},
	} {
		_, err := runApp(append([]string{"--root", root}, tc.args...)...)
		var te *container.TransitionError
		if !errors.As(err, &te) || te.Op != tc.op || te.From != container.Stopped {
			t.Errorf("%s: %v (%T), want a refusal of %s from stopped", strings.Join(tc.args, " "), err, err, tc.op)
			continue
		}
		if err.Error() != tc.text {
			t.Errorf("%s: %q, want %q", strings.Join(tc.args, " "), err, tc.text)
		}
	}
	// kill --all and delete are allowed on a stopped container: nothing left to
	// signal is a success, and delete removes it.
	for _, args := range [][]string{{"kill", "--all", "c1", "0"}, {"delete", "c1"}} {
		if _, err := runApp(append([]string{"--root", root}, args...)...); err != nil {
			t.Errorf("%s of a stopped container: %v", strings.Join(args, " "), err)
		}
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete left %s: %v", dir, err)
	}
}
