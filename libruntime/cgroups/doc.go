// Package cgroups places a container in a cgroup of its own and manages it: the
// Driver interface (path rules, making and finding a container's cgroup) and the
// Manager interface (limit, freeze, kill, list, measure, remove) are all that
// create, exec and the other commands know. Select picks the driver, in one
// place, from --systemd-cgroup and the form of linux.cgroupsPath.
//
// The one driver so far is Cgroupfs, hull's cgroup v2 manager: it writes the
// cgroup2 hierarchy itself, applies linux.resources with runc's cgroup v2
// conversions and installs the eBPF device filter (package devices). Cgroup v1
// is not managed; on a hybrid host only the cgroup2 hierarchy is used. A systemd
// driver (a transient scope unit per container) fits the same interfaces: its
// cgroup exists only once its first process is in it, which Manager.FD says with
// ErrNoFD, and the caller then starts the process first and Applies it.
//
// A container's cgroup, command by command:
//
//	d, err := cgroups.Select(systemd, spec.Linux.CgroupsPath) // create: which driver
//	path, err := d.Path(spec.Linux.CgroupsPath, id)           // where
//	m, undo, err := d.Make(path)                              // the cgroup, no limits yet
//	fd, err := m.FD()                                         // init born in it: SysProcAttr.UseCgroupFD/CgroupFD
//	err = m.Apply(pid)                                        // ... or (ErrNoFD) put there once started
//	err = m.Limit(resources)                                  // then limit and filter devices
//	m, err = cgroups.Cgroupfs.Load(path)                      // any later command, from state.json
//	m.Freeze(), m.Thaw(), m.Frozen()                          // pause, resume, state
//	m.Set(resources)                                          // update
//	m.Pids(), m.Stats(), m.OOMKillCount()                     // ps, events
//	m.Kill(); m.Destroy()                                     // kill --all, delete
//
// linux.resources are checked (Validate, Requirements) by the validation
// pipeline, package check, before create makes anything; Make and Limit do not
// check them again. Set, for `hull update`, which has no such pass, does.
//
// Hull marks the ancestor cgroups it creates (xattr trusted.hull.created).
// Only in those, and in the container's parent, does it enable controllers
// (the ones the limits need), and only those does Destroy remove, once
// empty; cgroups made by anyone else are never written to, except the
// container's own cgroup named by cgroupsPath and its parent's
// cgroup.subtree_control, when the parent has no processes of its own: such
// a parent named by the caller is delegated to its containers, as kubelet's
// pod cgroup is (its cgroupfs driver leaves the controllers there for the
// runtime to enable, as runc and crun do).
package cgroups
