package tests

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// stageDir is where hull writes out its init stage, under --root: like the seccomp
// cache, a name no container id can take, and it outlives containers by design.
const stageDir = ".stage"

// stateEntries lists the state root's entries but those that outlive containers by
// design: the seccomp cache and the init stage.
func stateEntries(root string) []string {
	ents, _ := os.ReadDir(root)
	var names []string
	for _, e := range ents {
		if e.Name() != seccompCacheDir && e.Name() != stageDir {
			names = append(names, e.Name())
		}
	}
	return names
}

// stageFile is the one init stage file under root, or "" if there is none.
func stageFile(t *testing.T, root string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, stageDir))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range ents {
		files = append(files, e.Name())
	}
	if len(files) != 1 || !strings.HasPrefix(files[0], "hull-init-") {
		t.Fatalf("%s holds %q, want one hull-init-* file", stageDir, files)
	}
	return filepath.Join(root, stageDir, files[0])
}

// initExe is the size and name of the file a created container's init runs.
func initExe(t *testing.T, h *harness) (int64, string) {
	t.Helper()
	pid := h.mustState(h.id).Pid
	exe := "/proc/" + strconv.Itoa(pid) + "/exe"
	var st unix.Stat_t
	if err := unix.Stat(exe, &st); err != nil {
		t.Fatal(err)
	}
	name, err := os.Readlink(exe)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size, name
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestInitStage: hull (as make builds it) carries its init stage in a section that is
// never loaded, writes it out once under --root, privately, and starts each
// container's init from it (sealed): not from hull's own, larger binary. A stage
// file it did not write as it writes them is not used: init then runs from hull
// itself, and the container works all the same.
func TestInitStage(t *testing.T) {
	ef, err := elf.Open(hullBinary)
	if err != nil {
		t.Fatal(err)
	}
	sec := ef.Section(".hull_stage")
	ef.Close()
	if sec == nil {
		t.Fatalf("%s has no .hull_stage section: build it with make hull (objcopy from binutils)", hullBinary)
	}
	if sec.Flags&elf.SHF_ALLOC != 0 {
		t.Fatalf(".hull_stage is loaded into memory (flags %v): every hull process would count it in its RSS", sec.Flags)
	}
	hullSize := fileSize(t, hullBinary)

	h := newHarness(t)
	if stageFile(t, h.root) != "" {
		t.Fatal("a fresh root holds a stage already")
	}
	mustExit(t, h.create(baseSpec("sleep", "1000")), 0)
	stage := stageFile(t, h.root)
	if stage == "" {
		t.Fatal("create wrote no init stage under --root")
	}
	var st unix.Stat_t
	if err := unix.Lstat(stage, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o555 || st.Uid != 0 || uint64(st.Size) != sec.Size {
		t.Errorf("stage file mode %#o uid %d size %d, want 0555, root's, %d bytes", st.Mode&0o7777, st.Uid, st.Size, sec.Size)
	}
	size, name := initExe(t, h)
	if size != st.Size || size == hullSize {
		t.Errorf("init runs %s of %d bytes, want the stage's %d (hull's is %d)", name, size, st.Size, hullSize)
	}
	if r := h.do("exec", h.id, "true"); r.exit != 0 {
		t.Errorf("exec: %s", r)
	}
	// Not a container: list leaves it out, and no command takes it for an id.
	if r := h.do("list", "-q"); r.stdout != h.id+"\n" {
		t.Errorf("list -q: %q, want %q", r.stdout, h.id+"\n")
	}
	for _, cmd := range [][]string{{"state"}, {"delete", "--force"}, {"kill"}} {
		if r := h.do(append(cmd, stageDir)...); r.exit == 0 {
			t.Errorf("%s %s succeeded: %s", cmd, stageDir, r)
		}
	}
	mustExit(t, h.do("delete", "--force", h.id), 0)

	// Removed, it is written again; the file written once is not rewritten.
	var ino uint64
	if err := os.RemoveAll(filepath.Join(h.root, stageDir)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		mustExit(t, h.create(baseSpec("sleep", "1000")), 0)
		p := stageFile(t, h.root)
		if p == "" {
			t.Fatal("create did not write the stage again")
		}
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		if i == 1 && st.Ino != ino {
			t.Error("the second create rewrote the stage file")
		}
		ino = st.Ino
		if size, name := initExe(t, h); size != st.Size {
			t.Errorf("init runs %s of %d bytes, want the stage's %d", name, size, st.Size)
		}
		mustExit(t, h.do("delete", "--force", h.id), 0)
	}

	// Not hull's as hull makes it: hull's own binary serves, and nothing is written.
	dir := filepath.Join(h.root, stageDir)
	for _, tc := range []struct {
		name          string
		breakIt, mend func() error
	}{
		{"dir open to others", func() error { return os.Chmod(dir, 0o755) }, func() error { return os.Chmod(dir, 0o700) }},
		{"file writable by others", func() error { return os.Chmod(stage, 0o557) }, func() error { return os.Chmod(stage, 0o555) }},
		{"file truncated", func() error { return os.Truncate(stage, 4096) }, func() error { return os.Remove(stage) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stage = stageFile(t, h.root)
			if err := tc.breakIt(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := tc.mend(); err != nil {
					t.Error(err)
				}
			}()
			before := fileSize(t, stage)
			mustExit(t, h.create(baseSpec("sleep", "1000")), 0)
			defer h.do("delete", "--force", h.id)
			if size, name := initExe(t, h); size != hullSize {
				t.Errorf("init runs %s of %d bytes, want hull's own %d", name, size, hullSize)
			}
			if r := h.do("exec", h.id, "true"); r.exit != 0 {
				t.Errorf("exec: %s", r)
			}
			if stageFile(t, h.root) != stage || fileSize(t, stage) != before {
				t.Error("hull rewrote a stage file it does not trust")
			}
		})
	}
}
