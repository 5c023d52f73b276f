package hulltest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// WaitFor polls cond every 20 ms until it holds (true) or timeout passes (false).
func WaitFor(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return cond()
		}
	}
	return true
}

// PidAlive reports whether pid exists and is not a zombie.
func PidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// PidStaysAlive reports whether pid is still alive after a grace period, for
// checks right after a kill: a process leaves its cgroup in do_exit before it
// becomes a zombie, so an empty (or removed) cgroup does not yet mean every
// one of its processes reads as dead in /proc.
func PidStaysAlive(pid int) bool {
	return !WaitFor(2*time.Second, func() bool { return !PidAlive(pid) })
}

// ReadPid reads a pid file, waiting up to 5 s for it to appear.
func ReadPid(t testing.TB, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 0 {
				t.Fatalf("pid file %s holds %q, want a pid", path, b)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid file %s never appeared: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ProcStatus parses /proc/PID/status (or fdinfo) text into its fields, values
// trimmed; inner tabs ("Uid:\t0\t0\t0\t0") are kept.
func ProcStatus(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// StatusHex is the hexadecimal field key of a ProcStatus map (CapEff, SigBlk...).
func StatusHex(t testing.TB, st map[string]string, key string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(st[key], 16, 64)
	if err != nil {
		t.Fatalf("%s in /proc status: %q: %v", key, st[key], err)
	}
	return v
}

// ReadFile is path's content, or "" if it cannot be read.
func ReadFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// LastLines is the last n lines of s, for quoting logs in failures.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// DirNames lists the names in dir, sorted, or nil if dir does not exist.
func DirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Tree lists dir recursively, one sorted line per path with its mode and, for
// a regular file, its content: to compare a host directory before and after
// something that must not touch it.
func Tree(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", strings.TrimPrefix(p, dir), fi.Mode())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + string(b)
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// HasOpt reports whether the comma-separated mount options list holds opt.
func HasOpt(list, opt string) bool {
	for _, o := range strings.Split(list, ",") {
		if o == opt {
			return true
		}
	}
	return false
}
