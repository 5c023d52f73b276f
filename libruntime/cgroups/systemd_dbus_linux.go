package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// systemdConn is what the systemd driver asks of systemd, over D-Bus: small,
// so that the unit tests run the driver against a fake manager. Every job
// (start, stop) is waited for.
type systemdConn interface {
	// StartTransientUnit starts unit name with props and waits for its job.
	// A unit of that name that exists already is an errUnitExists.
	StartTransientUnit(name string, props []sdbus.Property) error
	// StopUnit stops unit name and waits for its job; no such unit is not an
	// error.
	StopUnit(name string) error
	// ResetFailedUnit makes systemd forget a failed unit; no such unit, or one
	// not failed, is not an error.
	ResetFailedUnit(name string) error
	// SetUnitProperties changes properties of a running unit (runtime only,
	// nothing written to /etc).
	SetUnitProperties(name string, props []sdbus.Property) error
	// ControlGroup is the unit's cgroup, relative to systemd's cgroup root.
	ControlGroup(name string) (string, error)
	// Version is systemd's version number (255 for "255.4-1").
	Version() (int, error)
	Close()
}

// errUnitExists is StartTransientUnit's error for a name already taken.
var errUnitExists = errors.New("unit exists")

// jobTimeout bounds the wait for one of systemd's jobs, as runc's 30 s.
const jobTimeout = 30 * time.Second

// systemdBooted reports whether systemd is the init system (sd_booted(3)).
var systemdBooted = func() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// errNoSystemd is create's error on a host without systemd as init.
var errNoSystemd = errors.New("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); drop --systemd-cgroup and use a cgroupfs path such as /mycontainers/<id>")

// dialSystemd connects to systemd: the system bus, or (as root, without a bus
// daemon) systemd's private socket. A variable for the unit tests.
var dialSystemd = func() (systemdConn, error) {
	if !systemdBooted() {
		return nil, errNoSystemd
	}
	// godbus closes a connection when the context it was dialled with ends,
	// so the context lives as long as the connection (cancelled by Close); the
	// dial's own time limit is the timer below.
	ctx, cancel := context.WithCancel(context.Background())
	type dialed struct {
		c   *sdbus.Conn
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, err := sdbus.NewWithContext(ctx)
		ch <- dialed{c, err}
	}()
	t := time.NewTimer(jobTimeout)
	defer t.Stop()
	var d dialed
	select {
	case d = <-ch:
	case <-t.C:
		cancel()
		d.err = fmt.Errorf("no answer after %s", jobTimeout)
	}
	if d.err != nil {
		cancel()
		return nil, fmt.Errorf("--systemd-cgroup: cannot reach systemd over D-Bus (%w); start dbus, or drop --systemd-cgroup and use a cgroupfs path such as /mycontainers/<id>", d.err)
	}
	return &dbusConn{c: d.c, cancel: cancel}, nil
}

// dbusConn is systemdConn through go-systemd's D-Bus client.
type dbusConn struct {
	c      *sdbus.Conn
	cancel context.CancelFunc // ends the connection's context
}

func (d *dbusConn) Close() {
	d.c.Close()
	d.cancel()
}

// isDBusError reports whether err is the D-Bus error name.
func isDBusError(err error, name string) bool {
	var de dbus.Error
	return errors.As(err, &de) && de.Name == name
}

const (
	dbusNoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit"
	dbusUnitExists = "org.freedesktop.systemd1.UnitExists"
	dbusNotLoaded  = "org.freedesktop.systemd1.LoadFailed"
)

// wait waits for a job's result; "done" is success.
func wait(what, name string, ch <-chan string) error {
	t := time.NewTimer(jobTimeout)
	defer t.Stop()
	select {
	case s := <-ch:
		if s != "done" {
			return fmt.Errorf("%s systemd unit %s: job %s", what, name, s)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%s systemd unit %s: no answer from systemd after %s", what, name, jobTimeout)
	}
}

func (d *dbusConn) StartTransientUnit(name string, props []sdbus.Property) error {
	ch := make(chan string, 1)
	if _, err := d.c.StartTransientUnitContext(context.Background(), name, "replace", props, ch); err != nil {
		if isDBusError(err, dbusUnitExists) {
			return fmt.Errorf("start systemd unit %s: %w", name, errUnitExists)
		}
		return fmt.Errorf("start systemd unit %s: %w", name, err)
	}
	return wait("start", name, ch)
}

func (d *dbusConn) StopUnit(name string) error {
	ch := make(chan string, 1)
	if _, err := d.c.StopUnitContext(context.Background(), name, "replace", ch); err != nil {
		if isDBusError(err, dbusNoSuchUnit) || isDBusError(err, dbusNotLoaded) {
			return nil
		}
		return fmt.Errorf("stop systemd unit %s: %w", name, err)
	}
	return wait("stop", name, ch)
}

func (d *dbusConn) ResetFailedUnit(name string) error {
	err := d.c.ResetFailedUnitContext(context.Background(), name)
	if err == nil || isDBusError(err, dbusNoSuchUnit) || isDBusError(err, dbusNotLoaded) {
		return nil
	}
	return fmt.Errorf("reset-failed systemd unit %s: %w", name, err)
}

func (d *dbusConn) SetUnitProperties(name string, props []sdbus.Property) error {
	if len(props) == 0 {
		return nil
	}
	if err := d.c.SetUnitPropertiesContext(context.Background(), name, true, props...); err != nil {
		return fmt.Errorf("set properties of systemd unit %s: %w", name, err)
	}
	return nil
}

func (d *dbusConn) ControlGroup(name string) (string, error) {
	p, err := d.c.GetUnitTypePropertyContext(context.Background(), name, "Scope", "ControlGroup")
	if err != nil {
		return "", fmt.Errorf("read the cgroup of systemd unit %s: %w", name, err)
	}
	s, ok := p.Value.Value().(string)
	if !ok {
		return "", fmt.Errorf("read the cgroup of systemd unit %s: ControlGroup is %s, not a string", name, p.Value.Signature())
	}
	return s, nil
}

func (d *dbusConn) Version() (int, error) {
	s, err := d.c.GetManagerProperty("Version")
	if err != nil {
		return 0, fmt.Errorf("read systemd's version: %w", err)
	}
	return parseSystemdVersion(s)
}

// parseSystemdVersion reads the number at the start of systemd's Version
// property, which comes quoted as a GVariant string: "\"252.33-1~deb12u1\"".
func parseSystemdVersion(s string) (int, error) {
	s = strings.TrimLeft(s, `"v`)
	end := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		s = s[:end]
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("systemd version %q: no number", s)
	}
	return v, nil
}

// SystemdAvailable reports whether the systemd driver can work on this host:
// systemd is the init process (PID 1, and /run/systemd/system) and answers
// over D-Bus. `hull features` claims the driver only then.
func SystemdAvailable() bool {
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		return false
	}
	c, err := dialSystemd()
	if err != nil {
		return false
	}
	defer c.Close()
	_, err = c.Version()
	return err == nil
}
