// Package cgroups is hull's cgroup v2 manager. It places a container in its
// own cgroup below the cgroup2 mount, applies linux.resources with runc's
// cgroup v2 conversions, installs the eBPF device filter (package devices),
// and freezes, kills, lists, measures and removes the cgroup. Cgroup v1 is
// not managed; on a hybrid host only the cgroup2 hierarchy is used.
//
// A container's cgroup, command by command:
//
//	path, err := cgroups.Path(spec.Linux.CgroupsPath, id) // create: where
//	warns, err := cgroups.Validate(spec.Linux.Resources)  // log the warnings
//	m, err := cgroups.New(path, spec.Linux.Resources)     // create: make, limit, filter devices
//	m, undo, err := cgroups.Make(path, resources)          // ... or in two steps: make,
//	fd, err := m.FD()                                      // start init in it: SysProcAttr.UseCgroupFD/CgroupFD
//	err = m.Apply(pid)                                     // ... or move it there afterwards
//	err = m.Limit(resources)                               // then limit and filter devices
//	m, err = cgroups.Load(path)                            // any later command, from state.json
//	m.Freeze(), m.Thaw(), m.Frozen()                       // pause, resume, state
//	m.Set(resources)                                       // update
//	m.Pids(), m.Stats(), m.OOMKillCount()                  // ps, events
//	m.Kill(); m.Destroy()                                  // kill --all, delete
//
// Hull marks the ancestor cgroups it creates (xattr trusted.hull.created).
// Only in those does it enable controllers, and only those does Destroy
// remove, once empty; cgroups made by anyone else are never written to,
// except the container's own cgroup named by cgroupsPath.
package cgroups
