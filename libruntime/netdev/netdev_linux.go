// Package netdev moves the network devices of linux.netDevices (runtime-spec 1.3,
// config-linux.md "Network Devices") from hull's network namespace into the
// container's, renamed as asked, with their permanent global addresses and up.
//
// A failed create moves them back (Moved.Undo), under their old names and with their
// addresses; a deleted container does not: the spec forbids moving them out, and the
// kernel returns a physical device to the initial namespace and destroys a virtual one
// when the container's namespace goes (runc 1.5 does the same).
package netdev

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
)

// Moved is the devices one Move put into a container's network namespace.
type Moved struct {
	host, target *conn
	hostNS       *os.File
	devs         []moved
}

type moved struct {
	hostName string // its name in hull's namespace, to go back under
	name     string // its name in the container's namespace
	wasUp    bool
	addrs    []address
}

// Move moves every device of devs (keyed by their name in hull's network namespace)
// into the network namespace ns. On error nothing is moved: what was is moved back.
// The caller calls Undo if the container is not created after all, then Close.
func Move(devs map[string]specs.LinuxNetDevice, ns *os.File) (*Moved, error) {
	m := &Moved{}
	if err := m.moveAll(devs, ns); err != nil {
		if uerr := m.Undo(); uerr != nil {
			err = fmt.Errorf("%w; and then: %w", err, uerr)
		}
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Moved) moveAll(devs map[string]specs.LinuxNetDevice, ns *os.File) error {
	var err error
	if m.hostNS, err = os.Open("/proc/thread-self/ns/net"); err != nil {
		return fmt.Errorf("linux.netDevices: hull's network namespace: %w", err)
	}
	if m.host, err = dial(); err != nil {
		return fmt.Errorf("linux.netDevices: %w", err)
	}
	if m.target, err = dialIn(ns); err != nil {
		return fmt.Errorf("linux.netDevices: the container's network namespace: %w", err)
	}
	names := make([]string, 0, len(devs))
	for k := range devs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, hostName := range names {
		name := devs[hostName].Name
		if name == "" {
			name = hostName
		}
		if err := m.moveOne(hostName, name, int(ns.Fd())); err != nil {
			return fmt.Errorf("linux.netDevices.%s: %w", clip.String(hostName), err)
		}
	}
	return nil
}

func (m *Moved) moveOne(hostName, name string, nsFd int) error {
	l, err := m.host.linkByName(hostName)
	if errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("no network device %s in hull's network namespace; create it before the container, or correct the name", clip.Quote(hostName))
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", clip.Quote(hostName), err)
	}
	// Read before the move, which flushes them.
	addrs, err := m.host.permanentGlobalAddrs(l.index)
	if err != nil {
		return fmt.Errorf("addresses of %s: %w", clip.Quote(hostName), err)
	}
	up := l.flags&unix.IFF_UP != 0
	// Not set down first (runc does): the kernel closes the device itself as it moves
	// it, and one it refuses to move (the loopback, a bridge: netns-local) or to
	// rename stays as it is. Down and up again would cost the host every route through
	// it and its IPv6 addresses, which the kernel flushes when a device goes down.
	d := moved{hostName: hostName, name: name, wasUp: up, addrs: addrs}
	if err := m.host.move(l.index, nsFd, name); err != nil {
		if _, herr := m.host.linkByName(hostName); herr != nil {
			// Moved, but not renamed: it is in the container under its old name.
			d.name = hostName
			m.devs = append(m.devs, d)
		}
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("a device named %s exists in the container's network namespace already; choose another name, or end it with %%d for the kernel to number it", clip.Quote(name))
		}
		return fmt.Errorf("move %s into the container's network namespace as %s: %w", clip.Quote(hostName), clip.Quote(name), err)
	}
	m.devs = append(m.devs, d)
	// A name with %d is numbered by the kernel: the device keeps its index unless the
	// namespace had it taken.
	var tl link
	if strings.Contains(name, "%") {
		tl, err = m.target.linkByIndex(l.index)
	} else {
		tl, err = m.target.linkByName(name)
	}
	if err != nil {
		return fmt.Errorf("find %s in the container's network namespace: %w", clip.Quote(name), err)
	}
	m.devs[len(m.devs)-1].name = tl.name
	for _, a := range addrs {
		if err := m.target.addAddr(tl.index, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add an address of %s back: %w", clip.Quote(hostName), err)
		}
	}
	// The spec wants it up in the container, whatever it was on the host.
	if err := m.target.setUp(tl.index, true); err != nil {
		return fmt.Errorf("set %s up: %w", clip.Quote(tl.name), err)
	}
	return nil
}

// Undo moves the devices back into hull's network namespace, last first, under their
// old names, with their addresses and as up as they were. It returns what failed.
func (m *Moved) Undo() error {
	if m == nil || m.target == nil {
		return nil
	}
	var errs []error
	for i := len(m.devs) - 1; i >= 0; i-- {
		if err := m.back(m.devs[i]); err != nil {
			errs = append(errs, fmt.Errorf("linux.netDevices.%s: move it back: %w", clip.String(m.devs[i].hostName), err))
		}
	}
	m.devs = nil
	return errors.Join(errs...)
}

func (m *Moved) back(d moved) error {
	l, err := m.target.linkByName(d.name)
	if err != nil {
		return fmt.Errorf("find %s in the container's network namespace: %w", clip.Quote(d.name), err)
	}
	// Down only so that nothing uses it half-way, as on the way in; the move below is
	// what must work, and it reports.
	_ = m.target.setUp(l.index, false)
	if err := m.target.move(l.index, int(m.hostNS.Fd()), d.hostName); err != nil {
		return err
	}
	hl, err := m.host.linkByName(d.hostName)
	if err != nil {
		return err
	}
	for _, a := range d.addrs {
		if err := m.host.addAddr(hl.index, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add an address back: %w", err)
		}
	}
	if d.wasUp {
		return m.host.setUp(hl.index, true)
	}
	return nil
}

// Close releases the sockets and namespace handle; the devices stay where they are.
func (m *Moved) Close() {
	if m == nil {
		return
	}
	for _, c := range []*conn{m.host, m.target} {
		if c != nil {
			c.close()
		}
	}
	m.host, m.target = nil, nil
	if m.hostNS != nil {
		m.hostNS.Close()
		m.hostNS = nil
	}
}
