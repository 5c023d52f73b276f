package main

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNormalizeArgs(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"hull", "-root", "/r", "create", "-bundle", "/b", "x"}, []string{"hull", "--root", "/r", "create", "--bundle", "/b", "x"}},
		{[]string{"hull", "run", "-no-subreaper", "-d", "x"}, []string{"hull", "run", "--no-subreaper", "-d", "x"}},
		{[]string{"hull", "create", "-b", "/b", "x"}, []string{"hull", "create", "-b", "/b", "x"}},
		{[]string{"hull", "create", "-pid-file=/p", "x"}, []string{"hull", "create", "--pid-file=/p", "x"}},
		{[]string{"hull", "kill", "x", "--", "-root"}, []string{"hull", "kill", "x", "--", "-root"}},
		{[]string{"hull", "list", "-la"}, []string{"hull", "list", "-la"}},

		// The container's command is never hull's to rewrite: everything from the
		// first positional argument of the command on goes through as given.
		{[]string{"hull", "exec", "ct", "java", "-version"}, []string{"hull", "exec", "ct", "java", "-version"}},
		{[]string{"hull", "exec", "-t", "ct", "java", "-version"}, []string{"hull", "exec", "-t", "ct", "java", "-version"}},
		{[]string{"hull", "exec", "-tty", "-cwd", "/tmp", "ct", "java", "-version"}, []string{"hull", "exec", "--tty", "--cwd", "/tmp", "ct", "java", "-version"}},
		{[]string{"hull", "exec", "ct", "find", ".", "-name", "x", "-user", "0", "-debug"}, []string{"hull", "exec", "ct", "find", ".", "-name", "x", "-user", "0", "-debug"}},
		{[]string{"hull", "exec", "ct", "sh", "-c", "ls -la -root", "-env", "-detach"}, []string{"hull", "exec", "ct", "sh", "-c", "ls -la -root", "-env", "-detach"}},
		{[]string{"hull", "exec", "-e", "A=1", "ct", "--", "ls", "-tty"}, []string{"hull", "exec", "-e", "A=1", "ct", "--", "ls", "-tty"}},
		{[]string{"hull", "exec", "-tty", "--", "ct", "java", "-version"}, []string{"hull", "exec", "--tty", "--", "ct", "java", "-version"}},
		{[]string{"hull", "exec", "--", "ct", "-version"}, []string{"hull", "exec", "--", "ct", "-version"}},
		{[]string{"hull", "run", "-bundle", "/b", "ct", "-detach"}, []string{"hull", "run", "--bundle", "/b", "ct", "-detach"}},
		// A flag's value is not a flag, even when it looks like one.
		{[]string{"hull", "exec", "-env", "-version", "ct", "sh"}, []string{"hull", "exec", "--env", "-version", "ct", "sh"}},
		{[]string{"hull", "exec", "--cwd", "-root", "ct", "sh"}, []string{"hull", "exec", "--cwd", "-root", "ct", "sh"}},
		{[]string{"hull", "create", "-b", "-pid-file", "ct"}, []string{"hull", "create", "-b", "-pid-file", "ct"}},

		// Global flags before the command, each level with its own flags only.
		{[]string{"hull", "-root", "/x", "list"}, []string{"hull", "--root", "/x", "list"}},
		{[]string{"hull", "-root=/x", "-debug", "list", "-quiet"}, []string{"hull", "--root=/x", "--debug", "list", "--quiet"}},
		{[]string{"hull", "--debug", "exec", "-t", "ct", "java", "-version"}, []string{"hull", "--debug", "exec", "-t", "ct", "java", "-version"}},
		{[]string{"hull", "-log", "/l", "-log-format", "json", "exec", "-cwd", "/", "ct", "ls", "-root"}, []string{"hull", "--log", "/l", "--log-format", "json", "exec", "--cwd", "/", "ct", "ls", "-root"}},
		{[]string{"hull", "--root", "-debug", "list"}, []string{"hull", "--root", "-debug", "list"}},
		{[]string{"hull", "-bundle", "/b", "create", "ct"}, []string{"hull", "-bundle", "/b", "create", "ct"}},
		{[]string{"hull", "list", "-root", "/x"}, []string{"hull", "list", "-root", "/x"}},
		{[]string{"hull", "-version"}, []string{"hull", "--version"}},
		{[]string{"hull", "exec", "-help"}, []string{"hull", "exec", "--help"}},
		{[]string{"hull", "nosuch", "-root", "x"}, []string{"hull", "nosuch", "-root", "x"}},
		{[]string{"hull", "-=", "list"}, []string{"hull", "-=", "list"}},
		{[]string{"hull", "run", "-db", "/b", "-keep", "ct"}, []string{"hull", "run", "-db", "/b", "--keep", "ct"}},
	} {
		if got := normalizeArgs(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("normalizeArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal
		ok   bool
	}{
		{"9", unix.SIGKILL, true},
		{"KILL", unix.SIGKILL, true},
		{"SIGKILL", unix.SIGKILL, true},
		{"sigterm", unix.SIGTERM, true},
		{"USR1", unix.SIGUSR1, true},
		{"FOO", 0, false},
		{"0", 0, true},
		{"65", 0, false},
		{"-1", 0, false},
	} {
		got, err := parseSignal(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSignal(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "TERM=xterm", "A=1"}, []string{"TERM=dumb", "B=2", "A=3", "B=4"})
	want := []string{"PATH=/bin", "TERM=dumb", "A=3", "B=4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mergeEnv = %q, want %q", got, want)
	}
}
