package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/logs"
)

// fsManager is the cgroupfs driver's Manager: one container's cgroup v2
// directory, which hull makes and writes itself. Its methods only read the paths
// it was made with, so one fsManager may be used from several goroutines.
type fsManager struct {
	mount string // the cgroup2 mount point
	path  string // the cgroup directory, below mount

	// created lists the ancestors makeFS made that could not be marked with
	// markerXattr, so that at least this fsManager's Destroy removes them.
	created []string
}

// markerXattr marks the ancestor cgroups hull created. It is how a later
// hull process (delete, update) knows which ancestors are hull's to enable
// controllers in and to remove once empty: hull never writes to, or removes,
// a cgroup somebody else made. trusted.* needs CAP_SYS_ADMIN, so a container
// cannot forge it.
const (
	markerXattr = "trusted.hull.created"
	markerValue = "hull"
)

// makeFS creates the cgroup directory path (an absolute path below the cgroup2
// mount, as Path returns) and any missing ancestors, with no limit and no device
// filter yet (Limit applies them). linux.resources are not checked here: the
// validation pipeline (package check) has done that before create makes anything.
//
// An already existing path is used if it has no processes and is not frozen, as
// the runtime-spec recommends for create. undo removes the directories makeFS
// made, for a caller that fails before the container is recorded; on failure
// makeFS removes them itself.
func makeFS(path string) (m *fsManager, undo func(), err error) {
	m, err = manager(path)
	if err != nil {
		return nil, nil, err
	}
	made, err := m.create()
	if err != nil {
		return nil, nil, fmt.Errorf("create cgroup %s: %w", path, err)
	}
	undo = func() { removeMade(made) }
	if !slices.Contains(made, path) {
		if err := m.checkReusable(); err != nil {
			undo()
			return nil, nil, err
		}
	}
	return m, undo, nil
}

// Limit applies r to a cgroup makeFS returned and installs the device filter
// (r.Devices followed by devices.DefaultRules; with r or r.Devices nil, only the
// defaults). Controllers are enabled in the ancestors hull made. Set is the same
// for a later update, where nil r.Devices leaves the filter alone.
func (m *fsManager) Limit(r *specs.LinuxResources) error {
	return m.set(r, true)
}

// loadFS returns the fsManager of an existing cgroup directory, for the commands
// that act on a container made by an earlier hull process.
func loadFS(path string) (*fsManager, error) {
	m, err := manager(path)
	if err != nil {
		return nil, err
	}
	var st unix.Statfs_t
	if err := statfs(path, &st); err != nil {
		return nil, fmt.Errorf("load cgroup: %w", err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("load cgroup %s: not a cgroup2 directory", path)
	}
	return m, nil
}

// manager checks that path is a clean path strictly below the cgroup2 mount.
func manager(path string) (*fsManager, error) {
	mount, err := Mount()
	if err != nil {
		return nil, err
	}
	if path != filepath.Clean(path) || !strings.HasPrefix(path, mount+"/") {
		return nil, fmt.Errorf("cgroup path %q is not a clean path below the cgroup2 mount %s", path, mount)
	}
	return &fsManager{mount: mount, path: path}, nil
}

// Path returns the cgroup's directory.
func (m *fsManager) Path() string { return m.path }

// FD opens the cgroup directory as an O_PATH descriptor, for clone3's
// CLONE_INTO_CGROUP (syscall.SysProcAttr UseCgroupFD and CgroupFD), which
// starts a process directly in the cgroup. The caller closes it. The cgroupfs
// driver makes the directory before any process, so FD never returns ErrNoFD.
func (m *fsManager) FD() (*os.File, error) {
	fd, err := open(m.path, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, fmt.Errorf("open cgroup: %w", err)
	}
	return os.NewFile(uintptr(fd), m.path), nil
}

// Apply moves process pid into the cgroup, for processes not started in it
// with CLONE_INTO_CGROUP.
func (m *fsManager) Apply(pid int) error {
	var err error
	// A process still being forked (TASK_NEW) refuses to move with
	// EINVAL for a moment.
	for i := 0; i < 5; i++ {
		err = writeFile(m.path, "cgroup.procs", strconv.Itoa(pid))
		if !errors.Is(err, unix.EINVAL) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("move pid %d into cgroup: %w", pid, err)
	}
	return nil
}

// create makes the missing directories from the mount down to m.path and
// returns them top first. Ancestors (not the cgroup itself) are marked as
// hull's.
func (m *fsManager) create() ([]string, error) {
	parts := split(strings.TrimPrefix(m.path, m.mount))
	var made []string
	// An ENOENT means another hull's Destroy removed an empty ancestor
	// between our mkdirs; start again from the top.
	for attempt := 0; ; attempt++ {
		err := m.createOnce(parts, &made)
		if err == nil {
			return made, nil
		}
		if !errors.Is(err, unix.ENOENT) || attempt == 4 {
			removeMade(made)
			return nil, err
		}
	}
}

// removeMade removes the directories create made, deepest first, on a path that is
// already failing: the caller returns its own error, so one left behind is logged.
func removeMade(made []string) {
	for i := len(made) - 1; i >= 0; i-- {
		if err := rmdir(made[i]); err != nil {
			logs.Warnf("cgroup %s left behind: %v", made[i], err)
		}
	}
}

func (m *fsManager) createOnce(parts []string, made *[]string) error {
	dir := m.mount
	for i, p := range parts {
		dir = filepath.Join(dir, p)
		err := mkdir(dir)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return err
		}
		*made = append(*made, dir)
		if i == len(parts)-1 {
			break
		}
		err = setxattr(dir, markerXattr, markerValue)
		if errors.Is(err, unix.EOPNOTSUPP) {
			m.created = append(m.created, dir)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// hullMade reports whether hull created the ancestor dir.
func (m *fsManager) hullMade(dir string) (bool, error) {
	if slices.Contains(m.created, dir) {
		return true, nil
	}
	v, err := getxattr(dir, markerXattr)
	if errors.Is(err, unix.EOPNOTSUPP) {
		return false, nil
	}
	return v == markerValue, err
}

// checkReusable refuses an existing cgroup that already runs something or
// is frozen: the container would share it, or hang on its first exec.
func (m *fsManager) checkReusable() error {
	pids, err := m.Pids()
	if err != nil {
		return err
	}
	if len(pids) > 0 {
		return fmt.Errorf("cgroup %s already has %d processes", m.path, len(pids))
	}
	frozen, err := m.Frozen()
	if err != nil {
		return err
	}
	if frozen {
		return fmt.Errorf("cgroup %s is frozen", m.path)
	}
	return nil
}

// need is a controller some field of linux.resources writes through.
type need struct{ field, controller string }

// ensureControllers enables, top down, the needed controllers in the
// subtree_control of each ancestor hull made and of the cgroup's parent,
// then checks that the cgroup itself has them all. Any other ancestor not
// hull's is left as it is: enabling a controller there would change the
// cgroups of everything else below it. The parent is the exception because
// the caller who named it delegates it to its containers: kubelet's cgroupfs
// driver makes a pod's cgroup with the controllers enabled down to it but
// not in it, and leaves that to the runtime, as runc and crun do it.
func (m *fsManager) ensureControllers(needs []need) error {
	if len(needs) == 0 {
		return nil
	}
	var want []string
	for _, n := range needs {
		if !slices.Contains(want, n.controller) {
			want = append(want, n.controller)
		}
	}
	parts := split(strings.TrimPrefix(m.path, m.mount))
	dir := m.mount
	for i, p := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, p)
		ours, err := m.hullMade(dir)
		if err != nil {
			return fmt.Errorf("enable controllers in %s: %w", dir, err)
		}
		if !ours {
			if i != len(parts)-2 {
				continue
			}
			// A parent with processes of its own is somebody's working
			// cgroup, not one handed to containers: the kernel refuses a
			// domain controller there (EBUSY) and a threaded one would set
			// the container against those processes. It is left alone; the
			// check below names what is missing.
			procs, err := readFile(dir, "cgroup.procs")
			if err != nil {
				return fmt.Errorf("enable controllers in %s: %w", dir, err)
			}
			if strings.TrimSpace(procs) != "" {
				continue
			}
		}
		if err := enable(dir, want); err != nil {
			return err
		}
	}
	have, err := controllers(m.path)
	if err != nil {
		return err
	}
	for _, n := range needs {
		if !slices.Contains(have, n.controller) {
			return fmt.Errorf("%s: %s controller not available in cgroup2 at %s", n.field, n.controller, m.mount)
		}
	}
	return nil
}

// enable turns on in dir's subtree_control each of want that dir has and
// has not enabled yet, one write per controller so a failure names it.
func enable(dir string, want []string) error {
	avail, err := controllers(dir)
	if err != nil {
		return err
	}
	on, err := readFile(dir, "cgroup.subtree_control")
	if err != nil {
		return fmt.Errorf("enable controllers in %s: %w", dir, err)
	}
	enabled := strings.Fields(on)
	for _, c := range want {
		if !slices.Contains(avail, c) || slices.Contains(enabled, c) {
			continue
		}
		if err := writeFile(dir, "cgroup.subtree_control", "+"+c); err != nil {
			return fmt.Errorf("enable %s controller: %w", c, err)
		}
	}
	return nil
}

func controllers(dir string) ([]string, error) {
	s, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return nil, fmt.Errorf("list controllers: %w", err)
	}
	return strings.Fields(s), nil
}

// Destroy removes the cgroup, the child cgroups the container made in it,
// and then each ancestor hull made that is now empty, stopping at the first
// one that is still in use or not hull's. The cgroup must have no processes
// left (see Kill); a cgroup whose last processes are still exiting is
// retried for about a second. Destroying a cgroup that is already gone is
// not an error.
func (m *fsManager) Destroy() error {
	if err := removeTree(m.path); err != nil {
		return fmt.Errorf("destroy cgroup %s: %w", m.path, err)
	}
	return m.removeAncestors()
}

// removeTree removes dir and its child cgroups, deepest first.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	// rmdir fails with EBUSY while a task is still exiting; the kernel
	// gives no event for "now removable", so back off, about 1s in total.
	delay := 10 * time.Millisecond
	for i := 0; ; i++ {
		err = rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || i == 7 {
			return err
		}
		time.Sleep(delay)
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// removeAncestors removes each ancestor of the cgroup that hull made and that is now
// empty, from the nearest up, stopping at the first one still in use or not hull's.
func (m *fsManager) removeAncestors() error {
	for dir := filepath.Dir(m.path); strings.HasPrefix(dir, m.mount+"/"); dir = filepath.Dir(dir) {
		ours, err := m.hullMade(dir)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("destroy cgroup %s: %w", m.path, err)
		}
		if !ours {
			return nil
		}
		err = rmdir(dir)
		switch {
		case err == nil, errors.Is(err, unix.ENOENT):
		case errors.Is(err, unix.EBUSY), errors.Is(err, unix.ENOTEMPTY):
			// Another container still lives below it.
			return nil
		default:
			return fmt.Errorf("destroy cgroup %s: remove parent: %w", m.path, err)
		}
	}
	return nil
}

// removeMadeAncestors is Destroy's second half for a container whose own cgroup was
// never made: a `hull create` killed after it made (and marked) an ancestor of path.
func removeMadeAncestors(path string) error {
	m, err := manager(path)
	if err != nil {
		return err
	}
	return m.removeAncestors()
}
