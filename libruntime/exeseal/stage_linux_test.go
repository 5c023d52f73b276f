package exeseal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// fakeStage is a stage image of data (the test binary, so that it runs), as the
// link would have recorded it.
func fakeStage(t *testing.T, data []byte) *stageImage {
	t.Helper()
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	return &stageImage{
		sum: hexSum, size: int64(len(data)), name: stageName + "-" + hexSum[:24],
		open: func(int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}
}

func selfBytes(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestStageWrittenOnce: the first use writes the stage out, private and read-only;
// later uses find it and leave it as it is; the handle on it is sealed and runs.
func TestStageWrittenOnce(t *testing.T) {
	hulltest.RequireRoot(t)
	data := selfBytes(t)
	s := fakeStage(t, data)
	root := t.TempDir()
	dir := filepath.Join(root, StageDir)
	p, err := s.ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(dir, s.name) {
		t.Fatalf("path %s, want %s", p, filepath.Join(dir, s.name))
	}
	var st1 unix.Stat_t
	if err := unix.Lstat(p, &st1); err != nil {
		t.Fatal(err)
	}
	if st1.Mode&unix.S_IFMT != unix.S_IFREG || st1.Mode&0o7777 != 0o555 || st1.Size != int64(len(data)) {
		t.Fatalf("stage file mode %#o size %d, want a regular 0555 file of %d bytes", st1.Mode, st1.Size, len(data))
	}
	var dst unix.Stat_t
	if err := unix.Lstat(dir, &dst); err != nil || dst.Mode&0o7777 != 0o700 {
		t.Fatalf("stage dir mode %#o (%v), want 0700", dst.Mode&0o7777, err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stage file differs from the image (%v)", err)
	}
	if _, err := s.ensure(dir); err != nil {
		t.Fatal(err)
	}
	var st2 unix.Stat_t
	if err := unix.Lstat(p, &st2); err != nil {
		t.Fatal(err)
	}
	if st1.Ino != st2.Ino || st1.Mtim != st2.Mtim {
		t.Fatal("the second use rewrote the stage file")
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Fatalf("stage dir holds %q, want the stage alone", names)
	}

	f, err := openStage(s, p, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	assertSealed(t, f)
}

// TestStageRefused: a stage directory or file hull did not make as it makes them is
// not used (the caller then starts init from hull's own binary), and nothing is
// written into a directory that is not private.
func TestStageRefused(t *testing.T) {
	hulltest.RequireRoot(t)
	data := []byte("#!/bin/sh\nexit 0\n")
	s := fakeStage(t, data)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"dir open to others", func(t *testing.T, dir string) { mkdir(t, dir, 0o755) }, "not private"},
		{"dir a symlink", func(t *testing.T, dir string) {
			target := t.TempDir()
			if err := os.Symlink(target, dir); err != nil {
				t.Fatal(err)
			}
		}, "open"},
		{"file of another size", func(t *testing.T, dir string) {
			mkdir(t, dir, 0o700)
			write(t, filepath.Join(dir, s.name), data[:4], 0o500)
		}, "not the init stage"},
		{"file writable by others", func(t *testing.T, dir string) {
			mkdir(t, dir, 0o700)
			write(t, filepath.Join(dir, s.name), data, 0o522)
		}, "not the init stage"},
		{"file a symlink", func(t *testing.T, dir string) {
			mkdir(t, dir, 0o700)
			other := filepath.Join(t.TempDir(), "x")
			write(t, other, data, 0o500)
			if err := os.Symlink(other, filepath.Join(dir, s.name)); err != nil {
				t.Fatal(err)
			}
		}, "not the init stage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), StageDir)
			tc.setup(t, dir)
			before := dirNames(t, dir)
			_, err := s.ensure(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ensure: %v, want an error with %q", err, tc.want)
			}
			if after := dirNames(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("stage dir changed from %q to %q", before, after)
			}
		})
	}
}

// TestStageChecked: bytes that do not match what the link recorded are never
// written out, and no temporary file is left.
func TestStageChecked(t *testing.T) {
	hulltest.RequireRoot(t)
	data := []byte("#!/bin/sh\nexit 0\n")
	for _, tc := range []struct {
		name string
		bad  []byte
	}{
		{"altered", []byte("#!/bin/sh\nexit 1\n")},
		{"short", data[:5]},
		{"long", append(append([]byte{}, data...), 'x')},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := fakeStage(t, data)
			s.open = func(int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tc.bad)), nil }
			dir := filepath.Join(t.TempDir(), StageDir)
			if _, err := s.ensure(dir); err == nil {
				t.Fatal("ensure wrote a stage that does not match its checksum")
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Fatalf("left in the stage dir: %q", names)
			}
		})
	}
}

// TestStageTidy: writing a stage removes other versions' files and temporary files
// once they are old, and leaves recent ones to the creates that may be using them.
func TestStageTidy(t *testing.T) {
	hulltest.RequireRoot(t)
	s := fakeStage(t, []byte("#!/bin/sh\nexit 0\n"))
	dir := filepath.Join(t.TempDir(), StageDir)
	mkdir(t, dir, 0o700)
	old := time.Now().Add(-2 * staleStage)
	for _, name := range []string{stageName + "-old", ".tmp-old"} {
		p := filepath.Join(dir, name)
		write(t, p, []byte("x"), 0o500)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, stageName+"-recent"), []byte("x"), 0o500)
	if _, err := s.ensure(dir); err != nil {
		t.Fatal(err)
	}
	got := dirNames(t, dir)
	want := []string{stageName + "-recent", s.name}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("stage dir holds %q, want %q", got, want)
	}
}

// TestStageNotInTestBinary: a binary linked without the stage (this test binary,
// `go build`) has none, and OpenStage gives hull's own binary.
func TestStageNotInTestBinary(t *testing.T) {
	hulltest.RequireRoot(t)
	if stage != nil {
		t.Fatal("a test binary has an init stage")
	}
	f, err := OpenStage(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	assertSealed(t, f)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}
