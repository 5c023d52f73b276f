//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPreserveFds hands the runtime two extra open files (fds 3 and 4) and
// lists the container's fds: only --preserve-fds lets them through. ls itself
// holds one more fd, the lowest free one, for reading the directory.
func TestPreserveFds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantFds  string
		wantRead string // what `cat <&3; cat <&4` prints
	}{
		{"preserve-2", []string{"--preserve-fds", "2"}, "0 1 2 3 4 5", "three|four|"},
		{"preserve-1", []string{"--preserve-fds", "1"}, "0 1 2 3 4", "three|"},
		{"none", nil, "0 1 2 3", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var extra []*os.File
			for _, content := range []string{"three", "four"} {
				p := filepath.Join(h.outDir, content)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				extra = append(extra, f)
			}
			h.writeSpec(baseSpec(shell(`ls /proc/self/fd | tr '\n' ' '; echo @@
{ cat <&3 && echo '|'; } 2>/dev/null | tr -d '\n'
{ cat <&4 && echo '|'; } 2>/dev/null | tr -d '\n'`)...))
			args := append([]string{"run", "--bundle", h.bundle}, tc.args...)
			r := h.hullOpts(cmdOpts{extra: extra}, append(args, h.id)...)
			mustExit(t, r, 0)
			parts := sections(r.stdout)
			if len(parts) != 2 {
				t.Fatalf("unexpected output %q", r.stdout)
			}
			if got := strings.TrimSpace(parts[0]); got != tc.wantFds {
				t.Errorf("fds inside: %q, want %q", got, tc.wantFds)
			}
			if parts[1] != tc.wantRead {
				t.Errorf("reading fds 3 and 4: %q, want %q", parts[1], tc.wantRead)
			}
		})
	}
}

// TestListenFds: under systemd socket activation (LISTEN_FDS=n and LISTEN_PID
// naming hull's own pid) hull run passes fds 3..3+n-1 to the container's
// process, ahead of --preserve-fds, and tells it so with LISTEN_FDS=n and
// LISTEN_PID=1, in place of any such variables of config.json; the process
// is pid 1 of its namespace. As with runc, a LISTEN_PID of another process
// means the fds are not hull's to pass on.
func TestListenFds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		listenPid string // "self": hull's own pid
		args      []string
		wantEnv   string
		wantFds   string
		wantRead  string
	}{
		{name: "listen-1", listenPid: "self",
			wantEnv: "LISTEN_FDS=1 LISTEN_PID=1", wantFds: "0 1 2 3 4", wantRead: "socket|"},
		{name: "listen-1-preserve-1", listenPid: "self", args: []string{"--preserve-fds", "1"},
			wantEnv: "LISTEN_FDS=1 LISTEN_PID=1", wantFds: "0 1 2 3 4 5", wantRead: "socket|three|"},
		{name: "another-process", listenPid: "1",
			wantEnv: "LISTEN_FDS=7 LISTEN_PID=9", wantFds: "0 1 2 3", wantRead: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			rd, wr, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			if _, err := wr.WriteString("socket"); err != nil {
				t.Fatal(err)
			}
			wr.Close()
			p := filepath.Join(h.outDir, "three")
			if err := os.WriteFile(p, []byte("three"), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			s := baseSpec(shell(`env | grep ^LISTEN_ | sort | tr '\n' ' '; echo @@
ls /proc/self/fd | tr '\n' ' '; echo @@
{ cat <&3 && echo '|'; } 2>/dev/null | tr -d '\n'
{ cat <&4 && echo '|'; } 2>/dev/null | tr -d '\n'`)...)
			// What the bundle says is replaced, not repeated.
			s.Process.Env = append(s.Process.Env, "LISTEN_FDS=7", "LISTEN_PID=9")
			h.writeSpec(s)
			pid := `"$$"`
			if tc.listenPid != "self" {
				pid = tc.listenPid
			}
			// exec keeps the shell's pid, so $$ is hull's.
			script := `LISTEN_FDS=1 LISTEN_PID=` + pid + ` exec "$0" "$@"`
			args := append([]string{"-c", script, hullBinary, "--root", h.root, "run", "--bundle", h.bundle}, tc.args...)
			r, err := h.runBinary("/bin/sh", cmdOpts{extra: []*os.File{rd, f}, noRoot: true}, append(args, h.id)...)
			if err != nil {
				t.Fatal(err)
			}
			mustExit(t, r, 0)
			parts := sections(r.stdout)
			if len(parts) != 3 {
				t.Fatalf("unexpected output %q", r.stdout)
			}
			if got := strings.TrimSpace(parts[0]); got != tc.wantEnv {
				t.Errorf("LISTEN_ variables inside: %q, want %q", got, tc.wantEnv)
			}
			if got := strings.TrimSpace(parts[1]); got != tc.wantFds {
				t.Errorf("fds inside: %q, want %q", got, tc.wantFds)
			}
			if parts[2] != tc.wantRead {
				t.Errorf("reading fds 3 and 4: %q, want %q", parts[2], tc.wantRead)
			}
		})
	}
}
