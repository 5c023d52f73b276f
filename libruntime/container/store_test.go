package container

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// waitFlockWaiter waits until /proc/locks shows a process blocked on a flock of the
// inode ino: only then is the second locker known to hold the old directory open, which
// is the moment the race needs, without sleeping and hoping.
func waitFlockWaiter(t *testing.T, ino uint64) {
	t.Helper()
	suffix := ":" + strconv.FormatUint(ino, 10)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f, err := os.Open("/proc/locks")
		if err != nil {
			hulltest.HostLimit(t, "no /proc/locks: %v; runs on kernels with CONFIG_FILE_LOCKING (Debian's)", err)
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			// "1: -> FLOCK  ADVISORY  WRITE 123 00:2d:4567 0 EOF"
			fs := strings.Fields(s.Text())
			if len(fs) > 6 && fs[1] == "->" && fs[2] == "FLOCK" && strings.HasSuffix(fs[6], suffix) {
				f.Close()
				return
			}
		}
		f.Close()
	}
	t.Fatalf("no process ever waited on the flock of inode %d", ino)
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// heldByOther reports whether another open file description holds a flock on dir.
func heldByOther(t *testing.T, dir string) bool {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

type lockResult struct {
	unlock func()
	err    error
}

// TestLockFollowsReplacedDir: a command that waited for the lock of a container that
// was deleted meanwhile, and whose id was then used again, must end up holding the new
// directory's lock, not a lock on the removed one (which serializes with nothing, so it
// could kill the new container's init while its create still runs).
func TestLockFollowsReplacedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	unlockA, err := lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if unlockA != nil {
			unlockA()
		}
	}()
	got := make(chan lockResult, 1)
	go func() {
		u, err := lock(dir)
		got <- lockResult{u, err}
	}()
	waitFlockWaiter(t, inode(t, dir))

	// A deletes the container; a create of the same id makes a new directory.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The new create holds its directory's lock while it builds the container.
	unlockC, err := lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	unlockA()
	unlockA = nil

	select {
	case r := <-got:
		if r.err == nil {
			r.unlock()
		}
		unlockC()
		t.Fatalf("the waiting locker returned (%v) while the new directory's lock was held: it locked the removed directory", r.err)
	case <-time.After(200 * time.Millisecond):
	}
	unlockC()
	var r lockResult
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting locker never got the new directory's lock")
	}
	if r.err != nil {
		t.Fatalf("lock after the directory was replaced: %v", r.err)
	}
	defer r.unlock()
	if !heldByOther(t, dir) {
		t.Error("the waiting locker does not hold the lock of the directory now at the path")
	}
}

// TestLockFreshGone: a command that waited for the lock of a container that was then
// deleted finds it gone.
func TestLockFreshGone(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "c1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	unlockA, err := lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{root: root, dir: dir, p: &persisted{ID: "c1"}}
	got := make(chan lockResult, 1)
	go func() {
		u, err := c.lockFresh()
		got <- lockResult{u, err}
	}()
	waitFlockWaiter(t, inode(t, dir))
	if err := os.RemoveAll(dir); err != nil {
		unlockA()
		t.Fatal(err)
	}
	unlockA()
	r := <-got
	if r.err == nil {
		r.unlock()
		t.Fatal("lockFresh of a deleted container succeeded")
	}
	if !errors.Is(r.err, ErrNotExist) {
		t.Errorf("lockFresh of a deleted container: %v, want ErrNotExist", r.err)
	}
}

// TestLockFreshRereads: lockFresh keeps what Load read only while the state file is
// the same one; a state written in between (a new file, however alike) is read again.
func TestLockFreshRereads(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "c1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeState(dir, &persisted{ID: "c1", Bundle: "/b1"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	read := c.p
	unlock, err := c.lockFresh()
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if c.p != read || !c.noCreator {
		t.Fatalf("unchanged state read again (%v) or the lock not taken as the creator's (%v)", c.p != read, c.noCreator)
	}
	// Same size, same fields but one, right after: only the file's identity differs.
	if err := writeState(dir, &persisted{ID: "c1", Bundle: "/b2"}); err != nil {
		t.Fatal(err)
	}
	if unlock, err = c.lockFresh(); err != nil {
		t.Fatal(err)
	}
	unlock()
	if c.p.Bundle != "/b2" {
		t.Fatalf("lockFresh kept bundle %q after the state was rewritten", c.p.Bundle)
	}
}

// TestCreatingNeedsLiveCreator: a container without init is creating only while the
// `hull create` building it lives; remains of a killed one are stopped, so delete works.
func TestCreatingNeedsLiveCreator(t *testing.T) {
	root := t.TempDir()
	_, selfStart, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	status := func(id string) Status {
		t.Helper()
		c, err := Load(root, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.Status()
	}
	mk := func(id string, p *persisted) string {
		t.Helper()
		dir := filepath.Join(root, id)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if p != nil {
			p.ID = id
			if err := writeState(dir, p); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}

	mk("live", &persisted{CreatorPid: os.Getpid(), CreatorStartTime: selfStart})
	if s := status("live"); s != Creating {
		t.Errorf("creator alive: %s, want creating", s)
	}
	// The same pid with another start time is a process that reused the pid.
	mk("reused", &persisted{CreatorPid: os.Getpid(), CreatorStartTime: selfStart + 1})
	if s := status("reused"); s != Stopped {
		t.Errorf("creator's pid reused: %s, want stopped", s)
	}

	// No record yet: the lock tells whether a create is at work.
	dir := mk("norecord", nil)
	unlock, err := lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s := status("norecord"); s != Creating {
		t.Errorf("no record, lock held: %s, want creating", s)
	}
	unlock()
	if s := status("norecord"); s != Stopped {
		t.Errorf("no record, lock free: %s, want stopped", s)
	}
}
