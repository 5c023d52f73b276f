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
		{"0", 0, false},
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
