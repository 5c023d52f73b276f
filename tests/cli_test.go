//go:build linux

package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogFlags checks --log and --log-format: errors land in the log file in
// the chosen format, and on stderr too.
func TestLogFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format string
		check  func(t *testing.T, line string)
	}{
		{"text", func(t *testing.T, line string) {
			if !strings.Contains(line, "level=error") || !strings.Contains(line, "msg=") || !strings.Contains(line, "does not exist") {
				t.Errorf("text log line %q, want level=error msg=...does not exist", line)
			}
		}},
		{"json", func(t *testing.T, line string) {
			var entry map[string]any
			if err := json.Unmarshal([]byte(line), &entry); err != nil {
				t.Fatalf("json log line %q: %v", line, err)
			}
			if entry["level"] != "error" || !strings.Contains(entry["msg"].(string), "does not exist") || entry["time"] == nil {
				t.Errorf("json log entry %v, want level error, time, and msg ...does not exist", entry)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			logFile := filepath.Join(h.outDir, "hull.log")
			r := h.do("--log", logFile, "--log-format", tc.format, "state", h.id)
			if r.exit == 0 || !strings.Contains(r.stderr, "does not exist") {
				t.Errorf("state of a missing container: %s; want a failure on stderr too", r)
			}
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatalf("log file: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			tc.check(t, lines[len(lines)-1])
		})
	}
}

// TestNoPivot runs with --no-pivot: the container must still see only its
// own root filesystem.
func TestNoPivot(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if err := os.WriteFile(filepath.Join(h.rootfs, "marker"), []byte("inside"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The bundle's host path does not exist in the container's root.
	script := "cat /marker; echo; ls /proc/1/root/ >/dev/null && echo pid1-root-ok; test -e " + h.bundle + " && echo host-visible; true"
	r := h.run(baseSpec(shell(script)...), "--no-pivot")
	mustExit(t, r, 0)
	if r.stdout != "inside\npid1-root-ok\n" {
		t.Errorf("--no-pivot output %q, want the container's /marker and no host paths", r.stdout)
	}
}

// TestCheckpointRestoreUnsupported: hull has no CRIU support yet, and a caller that
// tries must be told so in words, not by a CLI library's "No help topic", whatever
// flags of runc's it passes.
func TestCheckpointRestoreUnsupported(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, args := range [][]string{
		{"checkpoint", h.id},
		{"checkpoint", "--image-path", h.outDir, "--leave-running", "--manage-cgroups-mode", "soft", h.id},
		{"restore", h.id},
		{"restore", "--bundle", h.bundle, "--image-path", h.outDir, "-d", h.id},
	} {
		r := h.do(args...)
		want := args[0] + " is not supported by hull"
		if r.exit == 0 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "help topic") {
			t.Errorf("%s; want a failure saying %q", r, want)
		}
	}
}
