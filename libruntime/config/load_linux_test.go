package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func writeConfig(t *testing.T, dir string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	valid, err := json.Marshal(Default(false))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the bundle to load
		want    []string                              // substrings of the error; nil means success
		wantErr error                                 // errors.Is target, optional
	}{
		{
			name:  "valid",
			setup: func(t *testing.T, dir string) string { writeConfig(t, dir, valid); return dir },
		},
		{
			name:    "missing bundle",
			setup:   func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") },
			want:    []string{"nope", "does not exist", "--bundle"},
			wantErr: fs.ErrNotExist,
		},
		{
			name: "bundle is a file",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "file")
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			},
			want: []string{"file", "not a directory"},
		},
		{
			name:    "missing config.json",
			setup:   func(t *testing.T, dir string) string { return dir },
			want:    []string{"config.json", "not found", "hull spec"},
			wantErr: fs.ErrNotExist,
		},
		{
			name:  "empty file",
			setup: func(t *testing.T, dir string) string { writeConfig(t, dir, []byte(" \n")); return dir },
			want:  []string{"config.json", "is empty"},
		},
		{
			name: "syntax error",
			setup: func(t *testing.T, dir string) string {
				writeConfig(t, dir, []byte("{\n  \"ociVersion\": \"1.3.0\",\n  \"process\": {,}\n}"))
				return dir
			},
			want: []string{"config.json", "malformed JSON at line 3, column 15", "invalid character ','"},
		},
		{
			name: "truncated",
			setup: func(t *testing.T, dir string) string {
				writeConfig(t, dir, []byte("{\n\"ociVersion\": \"1.3.0\""))
				return dir
			},
			want: []string{"malformed JSON at line 2", "unexpected end of JSON input"},
		},
		{
			name: "trailing garbage",
			setup: func(t *testing.T, dir string) string {
				writeConfig(t, dir, []byte("{}\n}"))
				return dir
			},
			want: []string{"malformed JSON at line 2, column 1"},
		},
		{
			name: "wrong type",
			setup: func(t *testing.T, dir string) string {
				writeConfig(t, dir, []byte("{\n \"ociVersion\": \"1.3.0\",\n \"linux\": {\"namespaces\": [{\"type\": 5}]}\n}"))
				return dir
			},
			want: []string{"config.json", "wrong type for linux.namespaces", "at line 3, column 36"},
		},
		{
			name: "too large",
			setup: func(t *testing.T, dir string) string {
				f, err := os.Create(filepath.Join(dir, "config.json"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				// Sparse: the size check must come before reading.
				if err := f.Truncate(MaxConfigSize + 1); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: []string{"config.json", "16777217 bytes", "16 MiB"},
		},
		{
			name: "directory",
			setup: func(t *testing.T, dir string) string {
				if err := os.Mkdir(filepath.Join(dir, "config.json"), 0o755); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: []string{"config.json", "not a regular file"},
		},
		{
			name: "fifo",
			setup: func(t *testing.T, dir string) string {
				if err := unix.Mkfifo(filepath.Join(dir, "config.json"), 0o644); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: []string{"config.json", "not a regular file"},
		},
		{
			name: "symlink to regular file",
			setup: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "real.json")
				if err := os.WriteFile(p, valid, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("real.json", filepath.Join(dir, "config.json")); err != nil {
					t.Fatal(err)
				}
				return dir
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bundle := tc.setup(t, t.TempDir())
			done := make(chan struct{})
			var (
				s   any
				err error
			)
			go func() {
				defer close(done)
				s, err = Load(bundle)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Load blocked")
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if s == nil {
					t.Fatal("Load returned nil spec")
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded, want error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v is not %v", err, tc.wantErr)
			}
		})
	}
}

func TestLoadContent(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, []byte(`{"ociVersion": "1.0.2-dev", "process": {"args": ["sh", "-c", "true"], "cwd": "/w"}, "root": {"path": "rootfs"}}`))
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != "1.0.2-dev" || s.Root.Path != "rootfs" || strings.Join(s.Process.Args, " ") != "sh -c true" || s.Process.Cwd != "/w" {
		t.Errorf("decoded %+v", s)
	}
}

func TestLoadCurrentDir(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, []byte(`{"ociVersion": "1.3.0", "hostname": "here"}`))
	t.Chdir(dir)
	s, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if s.Hostname != "here" {
		t.Errorf("hostname = %q, want the config of the current directory", s.Hostname)
	}
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncde\n\nf")
	tests := []struct {
		offset    int64
		line, col int
	}{
		{0, 1, 1},
		{1, 1, 1},
		{2, 1, 2},
		{4, 2, 1},
		{6, 2, 3},
		{8, 3, 1},
		{9, 4, 1},
		{10, 4, 2},
		{100, 4, 2},
	}
	for _, tc := range tests {
		// The table gives v1's offsets (one past the byte); a jsonv2 build reports
		// the byte's own.
		line, col := position(data, max(tc.offset-1+offsetPastError, 0))
		if line != tc.line || col != tc.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tc.offset, line, col, tc.line, tc.col)
		}
	}
}

func TestIndexSegments(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"process":                 "process",
		"linux.namespaces.0.type": "linux.namespaces[0].type",
		"mounts.12":               "mounts[12]",
		"linux.sysctl.net.ipv4":   "linux.sysctl.net.ipv4",
	} {
		if got := indexSegments(in); got != want {
			t.Errorf("indexSegments(%q) = %q, want %q", in, got, want)
		}
	}
}
