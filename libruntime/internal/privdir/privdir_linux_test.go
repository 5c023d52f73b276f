package privdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	private := filepath.Join(dir, "private")
	open := filepath.Join(dir, "open")
	link := filepath.Join(dir, "link")
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{private, 0o700}, {open, 0o750}} {
		if err := os.Mkdir(d.path, d.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	fd, err := Open(private)
	if err != nil {
		t.Fatalf("private dir: %v", err)
	}
	unix.Close(fd)
	if _, err := Open(open); err == nil || !strings.Contains(err.Error(), "not private") {
		t.Errorf("dir open to its group: %v, want refused as not private", err)
	}
	if _, err := Open(link); err == nil {
		t.Error("a symlink to a private dir was followed")
	}
}

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	fd, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	write := func(data string) func(*os.File) error {
		return func(f *os.File) error { _, err := f.WriteString(data); return err }
	}
	for _, data := range []string{"one", "two"} {
		if err := Replace(fd, "entry", ".tmp-", write(data)); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "entry")); err != nil || string(got) != data {
			t.Fatalf("entry holds %q (%v), want %q", got, err, data)
		}
	}
	failed := errors.New("fill failed")
	if err := Replace(fd, "entry", ".tmp-", func(f *os.File) error {
		_, _ = f.WriteString("half")
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("Replace: %v, want the fill's error", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "entry" {
		t.Errorf("after a failed fill the dir holds %v, want entry alone", ents)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "entry")); string(got) != "two" {
		t.Errorf("a failed fill changed the entry to %q", got)
	}
}
