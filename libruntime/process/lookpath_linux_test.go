package process

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// lookPathTree makes dir/{bin1,bin2,bin3} with files of various modes and
// makes every level searchable by other users.
func lookPathTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{"bin1/tool", 0o644},
		{"bin1/rootonly", 0o744},
		{"bin2/tool", 0o755},
		{"bin2/only", 0o755},
		{"bin2/rootonly", 0o755},
		{"bin3/noexec", 0o644},
	} {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), f.mode); err != nil {
			t.Fatal(err)
		}
		// WriteFile's mode passes through the umask.
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin1/dir", "bin3/rootonly"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("only", filepath.Join(dir, "bin2/lnk")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("missing", filepath.Join(dir, "bin2/dangling")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// firstInDefaultPath is where the default PATH finds name on this host.
func firstInDefaultPath(t *testing.T, name string) string {
	t.Helper()
	for _, d := range filepath.SplitList(defaultPath) {
		p := d + "/" + name
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	hulltest.HostLimit(t, "%s is not in the default PATH on this host; runs on Debian", name)
	return ""
}

func TestLookPath(t *testing.T) {
	dir := lookPathTree(t)
	bin := func(s string) string { return filepath.Join(dir, s) }
	path := func(dirs ...string) string {
		for i, d := range dirs {
			if d != "" {
				dirs[i] = bin(d)
			}
		}
		return "PATH=" + strings.Join(dirs, ":")
	}

	tests := []struct {
		name     string
		file     string
		env      []string
		chdir    string
		want     string
		wantErr  string // exact error text
		notFound bool   // errors.Is(err, exec.ErrNotFound)
		denied   bool   // errors.Is(err, fs.ErrPermission)
	}{
		{name: "skips a match that is not executable", file: "tool", env: []string{path("bin1", "bin2")}, want: bin("bin2/tool")},
		{name: "first executable match wins", file: "tool", env: []string{path("bin2", "bin1")}, want: bin("bin2/tool")},
		{name: "symlink to an executable", file: "lnk", env: []string{path("bin2")}, want: bin("bin2/lnk")},
		{name: "last PATH in env wins", file: "only", env: []string{"PATH=/nonexistent", "HOME=/", path("bin2")}, want: bin("bin2/only")},
		{name: "other variables ignored", file: "only", env: []string{"XPATH=" + bin("bin1"), path("bin2"), "MYPATH=/"}, want: bin("bin2/only")},
		{
			name: "not found", file: "missing", env: []string{path("bin1", "bin2")}, notFound: true,
			wantErr: `exec: "missing": executable file not found in $PATH`,
		},
		{name: "dangling symlink is not found", file: "dangling", env: []string{path("bin2")}, notFound: true},
		{
			name: "found but not executable", file: "noexec", env: []string{path("bin3")}, denied: true,
			wantErr: `exec: "noexec": ` + bin("bin3/noexec") + `: permission denied (no execute permission for this user, or a noexec mount)`,
		},
		{
			name: "found but a directory", file: "dir", env: []string{path("bin1")}, denied: true,
			wantErr: `exec: "dir": ` + bin("bin1/dir") + `: permission denied (it is a directory)`,
		},
		{name: "a later executable beats an earlier directory", file: "rootonly", env: []string{path("bin3", "bin2")}, want: bin("bin2/rootonly")},
		{name: "empty PATH finds nothing", file: "tool", env: []string{"PATH="}, notFound: true},
		{name: "empty name", file: "", env: []string{path("bin2")}, notFound: true},
		{name: "empty entry is the working directory", file: "tool", env: []string{"PATH=/nonexistent:"}, chdir: "bin2", want: "./tool"},
		{name: "relative entry", file: "tool", env: []string{"PATH=bin2"}, chdir: ".", want: "bin2/tool"},
		{name: "absolute path checked as is", file: bin("bin2/only"), env: []string{"PATH=/nonexistent"}, want: bin("bin2/only")},
		{
			name: "absolute path not executable", file: bin("bin1/tool"), denied: true,
			wantErr: `exec: "` + bin("bin1/tool") + `": ` + bin("bin1/tool") + `: permission denied (no execute permission for this user, or a noexec mount)`,
		},
		{
			name: "absolute path missing", file: bin("bin1/missing"),
			wantErr: `exec: "` + bin("bin1/missing") + `": stat ` + bin("bin1/missing") + `: no such file or directory`,
		},
		{name: "relative path with a slash", file: "bin2/only", chdir: ".", want: "bin2/only"},
		{name: "no PATH uses the default", file: "sh", env: []string{"HOME=/"}, want: firstInDefaultPath(t, "sh")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.chdir != "" {
				t.Chdir(bin(tt.chdir))
			}
			got, err := LookPath(tt.file, tt.env)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("LookPath(%q) = %q, %v; want %q", tt.file, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("LookPath(%q) = %q, want an error", tt.file, got)
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Errorf("error = %q\n want %q", err, tt.wantErr)
			}
			if errors.Is(err, exec.ErrNotFound) != tt.notFound {
				t.Errorf("errors.Is(%v, exec.ErrNotFound) = %v", err, !tt.notFound)
			}
			if errors.Is(err, fs.ErrPermission) != tt.denied {
				t.Errorf("errors.Is(%v, fs.ErrPermission) = %v", err, !tt.denied)
			}
		})
	}
}

type lookPathAsArg struct {
	User specs.User
	File string
	Env  []string
}

func init() {
	// lookpath-as switches the thread to another user first, as init does,
	// and prints LookPath's answer.
	scenarios["lookpath-as"] = func(b []byte) error {
		var a lookPathAsArg
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		if err := SetUser(a.User, false); err != nil {
			return err
		}
		if err := ApplyCaps(nil); err != nil {
			return err
		}
		p, err := LookPath(a.File, a.Env)
		if err != nil {
			return err
		}
		_, err = os.Stdout.WriteString(p)
		return err
	}
}

// TestLookPathAsUser checks execute permission with the calling thread's
// credentials: a file only root may execute is skipped for another user.
func TestLookPathAsUser(t *testing.T) {
	requireRoot(t)
	dir := lookPathTree(t)
	user := specs.User{UID: 1000, GID: 1000}
	tests := []struct {
		name    string
		file    string
		env     []string
		want    string
		wantErr string
	}{
		{name: "root-only file skipped", file: "rootonly", env: []string{"PATH=" + dir + "/bin1:" + dir + "/bin2"}, want: dir + "/bin2/rootonly"},
		{
			name: "root-only file denied", file: "rootonly", env: []string{"PATH=" + dir + "/bin1"},
			wantErr: `exec: "rootonly": ` + dir + `/bin1/rootonly: permission denied (no execute permission for this user, or a noexec mount)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As root, the root-only file is found first.
			if got, err := LookPath(tt.file, tt.env); err != nil || got != dir+"/bin1/rootonly" {
				t.Fatalf("as root: LookPath = %q, %v", got, err)
			}
			res := runChild(t, "lookpath-as", lookPathAsArg{User: user, File: tt.file, Env: tt.env})
			if tt.wantErr != "" {
				if got := res.childErr(); got != tt.wantErr {
					t.Fatalf("error = %q\n want %q", got, tt.wantErr)
				}
				return
			}
			res.mustSucceed(t)
			if res.stdout != tt.want {
				t.Errorf("LookPath = %q, want %q", res.stdout, tt.want)
			}
		})
	}
}
