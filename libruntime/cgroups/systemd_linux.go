package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Systemd is the driver of --systemd-cgroup with a "slice:prefix:name"
// cgroupsPath, as runc's: each container is a transient scope unit that systemd
// starts, over D-Bus, with the container's init as its first process, delegated
// to hull (Delegate=yes). linux.resources become unit properties, so that
// systemd, which rewrites the files of the units it manages, keeps hull's values;
// then the cgroup's files are written and the device filter installed as with
// cgroupfs (an fsManager on the scope's directory), for everything systemd has
// no property for. delete stops the unit.
var Systemd Driver = sdDriver{}

type sdDriver struct{}

func (sdDriver) Name() string { return "systemd" }

// Path is the scope's directory, where systemd puts it: the slice's nested
// path ("a-b.slice" below "a.slice") and the scope's name.
func (sdDriver) Path(cgroupsPath, id string) (string, error) {
	u, err := parseSystemdPath(cgroupsPath, id)
	if err != nil {
		return "", err
	}
	mount, err := Mount()
	if err != nil {
		return "", err
	}
	return unitPath(mount, u)
}

// Make prepares the scope; systemd starts it only with its first process
// (FD: ErrNoFD, then Apply). systemd is asked for here already, so that a host
// where it is not running or not reachable fails before anything is started.
func (sdDriver) Make(path string, o MakeOpts) (Manager, func(), error) {
	m, err := sdManagerAt(path)
	if err != nil {
		return nil, nil, err
	}
	if m.startProps, err = annotationProperties(o.Annotations); err != nil {
		return nil, nil, err
	}
	m.annotations = o.Annotations
	if o.Resources != nil {
		m.startProps = append(oomPolicy(o.Resources.Unified), m.startProps...)
	}
	if m.conn, err = dialSystemd(); err != nil {
		return nil, nil, err
	}
	// A scope of this name that runs something is another container's.
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		if err := m.fs.checkReusable(); err != nil {
			m.conn.Close()
			return nil, nil, fmt.Errorf("systemd unit %s: %w; name another scope in linux.cgroupsPath", m.unit, err)
		}
	}
	undo := func() { _ = m.Destroy() }
	return m, undo, nil
}

// Load is the Manager of a container's scope made by an earlier hull process.
// It does not reach systemd: only update and delete need to, and they connect
// when they do.
func (sdDriver) Load(path string) (Manager, error) {
	m, err := sdManagerAt(path)
	if err != nil {
		return nil, err
	}
	if m.fs, err = loadFS(path); err != nil {
		return nil, err
	}
	m.started = true
	return m, nil
}

// RemoveMadeAncestors is, for a scope, making sure its unit is gone: a create
// killed before or while starting it may leave a failed unit.
func (sdDriver) RemoveMadeAncestors(path string) error {
	m, err := sdManagerAt(path)
	if err != nil {
		return err
	}
	defer m.close()
	return m.stopUnit()
}

// sdManager is the systemd driver's Manager: the scope unit, and an fsManager on
// its directory for everything but starting, changing and stopping the unit.
type sdManager struct {
	fs    *fsManager
	unit  string // the scope, e.g. "hull-ctr.scope"
	slice string // its slice, e.g. "system.slice"

	startProps  []sdbus.Property  // the annotations' properties, for the start
	annotations map[string]string // the container's, to name one systemd refuses

	mu      sync.Mutex
	conn    systemdConn // dialled when first needed
	version int         // systemd's, once read
	started bool        // the unit runs (Apply), or was found running (Load)
}

var _ Manager = (*sdManager)(nil)

// sdManagerAt reads the unit and its slice back from a scope's directory: the
// directory's name is the unit's, its parent's the slice's (the cgroup2 mount
// itself being the root slice, "-.slice").
func sdManagerAt(path string) (*sdManager, error) {
	fs, err := manager(path)
	if err != nil {
		return nil, err
	}
	name, parent := filepath.Base(path), filepath.Dir(path)
	if !strings.HasSuffix(name, ".scope") {
		return nil, fmt.Errorf("cgroup %s is not a systemd scope", path)
	}
	slice := filepath.Base(parent)
	if parent == fs.mount {
		slice = "-.slice"
	}
	return &sdManager{fs: fs, unit: name, slice: slice}, nil
}

func (m *sdManager) Path() string { return m.fs.path }

// dial returns the connection to systemd, made on first use.
func (m *sdManager) dial() (systemdConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		return m.conn, nil
	}
	c, err := dialSystemd()
	if err != nil {
		return nil, err
	}
	m.conn = c
	return c, nil
}

// systemdVersion is systemd's version; 0 (new enough for every property) when it
// cannot be read, since a property systemd then refuses is an error to see.
func (m *sdManager) systemdVersion(c systemdConn) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.version == 0 {
		if v, err := c.Version(); err == nil {
			m.version = v
		}
	}
	return m.version
}

// FD: the scope's cgroup exists only once systemd has started it with init.
func (m *sdManager) FD() (*os.File, error) {
	m.mu.Lock()
	started := m.started
	m.mu.Unlock()
	if !started {
		return nil, ErrNoFD
	}
	return m.fs.FD()
}

// Apply starts the scope with pid as its process, or, once it runs, moves pid
// into it (exec's helper when it could not be born there).
func (m *sdManager) Apply(pid int) error {
	m.mu.Lock()
	started := m.started
	m.mu.Unlock()
	if started {
		return m.fs.Apply(pid)
	}
	c, err := m.dial()
	if err != nil {
		return err
	}
	props := append([]sdbus.Property{
		sdbus.PropDescription("hull container " + strings.TrimSuffix(m.unit, ".scope")),
		sdbus.PropSlice(m.slice),
		// hull writes the scope's cgroup files and installs its device filter;
		// without delegation systemd could reset them.
		prop("Delegate", true),
		sdbus.PropPids(uint32(pid)),
		// As runc: the controllers enabled from the start, and no ordering
		// against shutdown.target and the like, which a container has no part in.
		prop("MemoryAccounting", true),
		prop("CPUAccounting", true),
		prop("IOAccounting", true),
		prop("TasksAccounting", true),
		prop("DefaultDependencies", false),
	}, m.startProps...)
	err = c.StartTransientUnit(m.unit, props)
	if errors.Is(err, errUnitExists) {
		// A failed unit of an earlier container of that name is kept until
		// reset; one still running is not ours.
		_ = c.ResetFailedUnit(m.unit)
		err = c.StartTransientUnit(m.unit, props)
	}
	if errors.Is(err, errUnitExists) {
		return fmt.Errorf("systemd unit %s exists already (another container's?); name another scope in linux.cgroupsPath", m.unit)
	}
	if err != nil {
		_ = c.ResetFailedUnit(m.unit)
		return fmt.Errorf("start the container's scope in %s: %w%s", m.slice, err, annotationHint(err, m.annotations))
	}
	m.mu.Lock()
	m.started = true
	m.mu.Unlock()
	// The state hull recorded names the directory Path predicted; a systemd
	// whose cgroup root is elsewhere (nested in a container) puts it elsewhere.
	cg, err := c.ControlGroup(m.unit)
	if err != nil {
		return err
	}
	if got := filepath.Join(m.fs.mount, cg); got != m.fs.path {
		return fmt.Errorf("systemd put unit %s in cgroup %s, not %s where hull expects it (systemd's cgroup root is not the cgroup2 mount's); use the cgroupfs driver: drop --systemd-cgroup", m.unit, got, m.fs.path)
	}
	return nil
}

// Limit sets the unit's properties for r, then writes the cgroup's files and
// installs the device filter as the cgroupfs driver does.
func (m *sdManager) Limit(r *specs.LinuxResources) error {
	if err := m.setProperties(r, true); err != nil {
		return err
	}
	return m.fs.Limit(r)
}

// Set is Limit for `hull update`: the set fields only, the device filter only
// when r.Devices is given.
func (m *sdManager) Set(r *specs.LinuxResources) error {
	if _, err := Validate(r); err != nil {
		return err
	}
	// Before systemd applies a lower memory limit (see fsManager.Set).
	if r != nil && r.Memory != nil && r.Memory.CheckBeforeUpdate != nil && *r.Memory.CheckBeforeUpdate {
		if err := m.fs.checkMemoryUsage(val(r.Memory.Limit), val(r.Memory.Swap)); err != nil {
			return err
		}
	}
	if err := m.setProperties(r, r != nil && r.Devices != nil); err != nil {
		return err
	}
	return m.fs.Set(r)
}

func (m *sdManager) setProperties(r *specs.LinuxResources, devices bool) error {
	c, err := m.dial()
	if err != nil {
		return err
	}
	props, err := resourceProperties(r, m.systemdVersion(c), devices)
	if err != nil {
		return err
	}
	return c.SetUnitProperties(m.unit, props)
}

func (m *sdManager) Freeze() error                          { return m.fs.Freeze() }
func (m *sdManager) Thaw() error                            { return m.fs.Thaw() }
func (m *sdManager) Frozen() (bool, error)                  { return m.fs.Frozen() }
func (m *sdManager) EffectivelyFrozen() (bool, error)       { return m.fs.EffectivelyFrozen() }
func (m *sdManager) Pids() ([]int, error)                   { return m.fs.Pids() }
func (m *sdManager) Stats() (*Stats, error)                 { return m.fs.Stats() }
func (m *sdManager) OOMKillCount() (uint64, error)          { return m.fs.OOMKillCount() }
func (m *sdManager) PidsLimitHits() (uint64, string, error) { return m.fs.PidsLimitHits() }
func (m *sdManager) Sub(rel string) (Manager, error)        { return m.fs.Sub(rel) }

// Kill is cgroupfs's; systemd removes a scope's cgroup as soon as its last
// process is gone, which may happen while Kill waits on it.
func (m *sdManager) Kill() error {
	err := m.fs.Kill()
	if err != nil {
		if _, serr := os.Stat(m.fs.path); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
	}
	return err
}

// Destroy stops the unit, waiting for systemd to remove it, and makes systemd
// forget it if it failed; a unit already gone (systemd collects a scope whose
// processes have all exited) is not an error. Child cgroups the container made
// (which systemd before 240 left behind) are removed; the slices are systemd's
// and left alone.
func (m *sdManager) Destroy() error {
	if err := m.stopUnit(); err != nil {
		return err
	}
	if err := removeTree(m.fs.path); err != nil {
		return fmt.Errorf("destroy cgroup %s: %w", m.fs.path, err)
	}
	m.close()
	return nil
}

// close drops the connection to systemd, if there is one.
func (m *sdManager) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conn != nil {
		m.conn.Close()
		m.conn = nil
	}
}

func (m *sdManager) stopUnit() error {
	c, err := m.dial()
	if err != nil {
		return err
	}
	if err := c.StopUnit(m.unit); err != nil {
		return err
	}
	return c.ResetFailedUnit(m.unit)
}

// annotationHint points at the org.systemd.property.* annotation behind a
// property systemd refused to start the scope with ("Cannot set property X, or
// unknown property."): systemd names the property, the user wrote the
// annotation. Empty when no annotation's property is named.
func annotationHint(err error, annotations map[string]string) string {
	msg := err.Error()
	for _, k := range sortedKeys(annotations) {
		name, ok := strings.CutPrefix(k, propertyPrefix)
		if !ok || name == "" {
			continue
		}
		names := []string{name}
		// A ...Sec annotation is sent as the ...USec property.
		if trimmed, ok := strings.CutSuffix(name, "Sec"); ok {
			names = append(names, trimmed+"USec")
		}
		for _, n := range names {
			if strings.Contains(msg, "property "+n+",") || strings.Contains(msg, "property "+n+" ") || strings.HasSuffix(msg, "property "+n) {
				return fmt.Sprintf("; the property comes from annotations[%q]: fix its name or value (systemd.resource-control(5), systemd.scope(5)) or drop it", k)
			}
		}
	}
	return ""
}
