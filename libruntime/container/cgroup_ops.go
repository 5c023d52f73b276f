package container

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libruntime/cgroups"
	"github.com/hull-runtime/hull/libruntime/logs"
)

// Pause freezes every process of a running container.
func (c *Container) Pause() error {
	if _, err := c.Gate(OpPause); err != nil {
		return err
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if _, err := c.Gate(OpResume); err != nil {
		return err
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	return cg.Thaw()
}

// Processes lists the host pids of the container's processes.
func (c *Container) Processes() ([]int, error) {
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return cg.Pids()
}

// Stats reads the container's cgroup statistics.
func (c *Container) Stats() (*cgroups.Stats, error) {
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// OOMKillCount returns how many processes the kernel's OOM killer ended in the container.
func (c *Container) OOMKillCount() (uint64, error) {
	cg, err := c.cgroup()
	if err != nil {
		return 0, err
	}
	return cg.OOMKillCount()
}

// Update applies new resource limits to a live container and records them, so that
// state and later updates start from what is in force. merge computes the new
// resources from those in force, under the container's lock, so concurrent updates
// never lose each other's changes.
func (c *Container) Update(merge func(cur *specs.LinuxResources) (*specs.LinuxResources, error)) error {
	unlock, err := c.lockFresh()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := c.Gate(OpUpdate); err != nil {
		return err
	}
	// Set below, and written back whole.
	if _, err := c.p.spec(); err != nil {
		return err
	}
	r, err := merge(c.Resources())
	if err != nil {
		return err
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	if err := cg.Set(r); err != nil {
		return fmt.Errorf("update %s: %w", c.p.ID, err)
	}
	c.p.Config.Linux.Resources = r
	return writeState(c.dir, c.p)
}

// Resources returns the resources in force, as last set by create or update.
func (c *Container) Resources() *specs.LinuxResources {
	s, err := c.p.spec()
	if err != nil {
		logs.Warnf("%v", err)
		return nil
	}
	if s == nil || s.Linux == nil {
		return nil
	}
	return s.Linux.Resources
}
