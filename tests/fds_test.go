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
