package cgroups

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Manager is one container's cgroup, whichever driver made it. create, exec and
// the commands that act on a container (update, pause, resume, events, ps, kill
// --all, delete) know only this interface.
//
// A driver may make the cgroup before the container's first process, or only
// with it: cgroupfs makes the directory, so init is cloned straight into it
// (CLONE_INTO_CGROUP, through FD); systemd starts a scope unit with the pid in it,
// so the process is started first and then handed over (Apply, which starts the
// unit). The caller asks FD and, on ErrNoFD, takes the second order.
type Manager interface {
	// Path is the cgroup's directory in the cgroup2 hierarchy, the one state.json
	// records and errors name.
	Path() string
	// FD opens the cgroup directory for CLONE_INTO_CGROUP; the caller closes it.
	// ErrNoFD: the cgroup exists only once Apply has put a first process in it.
	FD() (*os.File, error)
	// Apply puts process pid into the cgroup, for a process not born there.
	Apply(pid int) error
	// Limit applies linux.resources and installs the device filter (the
	// config's rules, then devices.DefaultRules), once, at create.
	Limit(r *specs.LinuxResources) error
	// Set applies the set fields of r, as `hull update` does; the device filter
	// is replaced only when r.Devices is not nil.
	Set(r *specs.LinuxResources) error
	// Freeze and Thaw pause and resume every process of the cgroup and wait
	// for the kernel to report it done.
	Freeze() error
	Thaw() error
	// Frozen reports whether the cgroup was asked to freeze (a paused
	// container); EffectivelyFrozen, whether it is frozen by itself or by an
	// ancestor.
	Frozen() (bool, error)
	EffectivelyFrozen() (bool, error)
	// Kill SIGKILLs every process of the cgroup and its children and waits
	// until they are gone.
	Kill() error
	// Pids lists the processes of the cgroup and of its child cgroups.
	Pids() ([]int, error)
	Stats() (*Stats, error)
	OOMKillCount() (uint64, error)
	// PidsLimitHits is how many forks pids.max refused, and pids.max.
	PidsLimitHits() (hits uint64, limit string, err error)
	// Sub is the existing cgroup rel below this one (`exec --cgroup`), never
	// one outside it.
	Sub(rel string) (Manager, error)
	// Destroy removes the cgroup (which must have no processes left, see
	// Kill), its child cgroups and the ancestors the driver made that are now
	// empty. A cgroup already gone is not an error.
	Destroy() error
}

// ErrNoFD is Manager.FD's error for a driver that makes the cgroup only with its
// first process: start the process outside, then Apply it.
var ErrNoFD = errors.New("the cgroup is made with its first process")

// Driver makes and finds containers' cgroups: the path rules, and the Manager of
// a new or an existing cgroup.
type Driver interface {
	// Name is the driver's name, as runc's --systemd-cgroup choice reads.
	Name() string
	// Path resolves linux.cgroupsPath of container id to the cgroup's
	// directory; an error names the field and why.
	Path(cgroupsPath, id string) (string, error)
	// Make prepares the cgroup at path for a new container, without limits
	// (Manager.Limit applies them once the first process is in it). undo
	// removes what Make made, for a create that fails before anything runs in
	// the cgroup.
	Make(path string, o MakeOpts) (m Manager, undo func(), err error)
	// Load returns the Manager of the existing cgroup at path, made by an
	// earlier hull process.
	Load(path string) (Manager, error)
	// RemoveMadeAncestors removes the ancestors of path the driver made and
	// that are empty, for a create killed before the cgroup itself was made.
	RemoveMadeAncestors(path string) error
}

// MakeOpts is what of the config a driver may need to make a container's
// cgroup, beyond its path: the systemd driver starts its unit with the
// org.systemd.property.* annotations and an OOMPolicy from
// resources.unified["memory.oom.group"]; cgroupfs reads nothing of it.
type MakeOpts struct {
	Annotations map[string]string
	Resources   *specs.LinuxResources
}

// Cgroupfs is the driver that manages the cgroup2 hierarchy by writing its
// files: the one without --systemd-cgroup, and the one of a container whose
// state.json names no driver (written before hull had another).
var Cgroupfs Driver = fsDriver{}

type fsDriver struct{}

var _ Manager = (*fsManager)(nil)

func (fsDriver) Name() string                                { return "cgroupfs" }
func (fsDriver) Path(cgroupsPath, id string) (string, error) { return Path(cgroupsPath, id) }
func (fsDriver) Make(path string, _ MakeOpts) (Manager, func(), error) {
	m, undo, err := makeFS(path)
	if err != nil {
		return nil, nil, err
	}
	return m, undo, nil
}

func (fsDriver) Load(path string) (Manager, error) {
	m, err := loadFS(path)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (fsDriver) RemoveMadeAncestors(path string) error { return removeMadeAncestors(path) }

// Select is the one place that picks a container's cgroup driver, from runc's
// --systemd-cgroup: with it, the systemd driver, whose cgroupsPath is empty
// (system.slice:hull:<id>) or "slice:prefix:name", anything else refused as runc
// refuses it; without it, cgroupfs, where colons are just part of a path name,
// as with runc. Whether systemd runs and answers is the driver's Make to find
// out (before anything is started), not Select's: `hull check` reads the config
// alone.
func Select(systemd bool, cgroupsPath string) (Driver, error) {
	if !systemd {
		return Cgroupfs, nil
	}
	// The id only fills an empty path's name part, which cannot be wrong.
	if _, err := parseSystemdPath(cgroupsPath, "id"); err != nil {
		return nil, err
	}
	return Systemd, nil
}

// ByName is the driver state.json names: "" (written before hull recorded it)
// is cgroupfs.
func ByName(name string) (Driver, error) {
	switch name {
	case "", Cgroupfs.Name():
		return Cgroupfs, nil
	case Systemd.Name():
		return Systemd, nil
	}
	return nil, fmt.Errorf("unknown cgroup driver %q in the container's state", name)
}
