package cgroups

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// The test binary doubles as the processes the tests put into cgroups:
// HULL_CGROUPS_HELPER selects what it does instead of running tests.
const helperEnv = "HULL_CGROUPS_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "sleep":
		time.Sleep(time.Hour)
	case "spin":
		spin(os.Args[1])
	case "alloc":
		alloc(os.Args[1])
	case "devices":
		os.Exit(hulltest.RunDeviceProbes(os.Args[1:]))
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", os.Getenv(helperEnv))
		os.Exit(2)
	}
	os.Exit(0)
}

// spin increments a counter in the first 8 bytes of file, shared with the
// test through the page cache, as fast as it can.
func spin(file string) {
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		panic(err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, 8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		panic(err)
	}
	counter := (*uint64)(unsafe.Pointer(&mem[0]))
	for {
		atomic.AddUint64(counter, 1)
	}
}

// alloc allocates and touches the given number of MiB, then sleeps.
func alloc(mib string) {
	n, err := strconv.Atoi(mib)
	if err != nil {
		panic(err)
	}
	var keep [][]byte
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := range len(b) / 4096 {
			b[j*4096] = 1
		}
		keep = append(keep, b)
	}
	fmt.Println("allocated", len(keep))
	time.Sleep(time.Hour)
}

// requireRoot fails tests that make cgroups when they cannot, and returns the
// cgroup2 mount.
func requireRoot(t *testing.T) string {
	t.Helper()
	hulltest.RequireRoot(t)
	mount, err := Mount()
	hulltest.Require(t, "a cgroup2 mount (the host's /sys/fs/cgroup/unified, the VM's /sys/fs/cgroup)", err)
	return mount
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// testParent makes <mount>/hull-test-<random> for the test to work below,
// passes on to its children every controller it has (it is the test's own
// cgroup, so writing it is fine), and at the end removes it with whatever is
// left below it.
func testParent(t *testing.T) string {
	t.Helper()
	mount := requireRoot(t)
	dir := filepath.Join(mount, randomName("hull-test-"))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeTree(dir); err != nil {
			t.Errorf("clean up test cgroup: %v", err)
		}
	})
	avail, err := controllers(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range avail {
		if err := writeFile(dir, "cgroup.subtree_control", "+"+c); err != nil {
			t.Logf("cannot enable %s in the test cgroup: %v", c, err)
		}
	}
	return dir
}

// requireController skips unless the test cgroup's children get ctrl.
func requireController(t *testing.T, parent, ctrl string) {
	t.Helper()
	on, err := readFile(parent, "cgroup.subtree_control")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(on), ctrl) {
		hulltest.HostLimit(t, "the %s controller is not available below %s (this host's cgroup2 root passes on %q); runs in the cgroup v2 VM: make vm-test", ctrl, parent, on)
	}
}

// New is what create does in steps, in one: check r (the validation pipeline's
// part, package check, in create), make the cgroup, then limit it and install the
// device filter; on failure it removes what it made.
func New(path string, r *specs.LinuxResources) (*fsManager, error) {
	if _, err := Validate(r); err != nil {
		return nil, err
	}
	m, undo, err := makeFS(path)
	if err != nil {
		return nil, err
	}
	if err := m.Limit(r); err != nil {
		undo()
		return nil, err
	}
	return m, nil
}

// newManager is New with cleanup: the cgroup is destroyed at the end (after
// the processes the test started are killed, as cleanups run in reverse).
func newManager(t *testing.T, path string, r *specs.LinuxResources) *fsManager {
	t.Helper()
	m, err := New(path, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Destroy(); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	return m
}

// helper starts this binary as helper mode with args. With m it starts in
// m's cgroup through CLONE_INTO_CGROUP. The process is killed, by pid, and
// reaped at the end of the test.
func helper(t *testing.T, m *fsManager, mode string, args ...string) *exec.Cmd {
	t.Helper()
	var cg *os.File
	if m != nil {
		fd, err := m.FD()
		if err != nil {
			t.Fatal(err)
		}
		defer fd.Close()
		cg = fd
	}
	return helperIn(t, cg, mode, args...)
}

// helperIn is helper started in the cgroup open at cg (nil: hull's own).
func helperIn(t *testing.T, cg *os.File, mode string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	if cg != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// counter maps the spin helper's counter file.
type counter struct{ mem []byte }

func newCounter(t *testing.T) (string, *counter) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "counter")
	if err := os.WriteFile(file, make([]byte, 8), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 8, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Munmap(mem) })
	return file, &counter{mem}
}

func (c *counter) load() uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&c.mem[0])))
}

// waitAdvance waits up to 5s for the counter to move past from.
func (c *counter) waitAdvance(from uint64) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c.load() != from {
			return true
		}
	}
	return false
}
