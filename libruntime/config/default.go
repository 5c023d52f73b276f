package config

import (
	"os"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// defaultVersion is the runtime-spec version hull's defaults follow. It is a
// literal, not specs.Version, so upgrading the module cannot make `hull spec`
// claim a version the validator has not been taught.
const defaultVersion = "1.3.0"

// Default returns the spec `hull spec` writes: the content of runc 1.5's `runc
// spec` (or `runc spec --rootless` when rootless is true) with ociVersion 1.3.0.
// Every call returns a new value the caller may modify.
//
// The rootless variant adds a user namespace mapping root in the container to
// the caller's effective uid and gid, drops the network namespace (an
// unprivileged user cannot give it connectivity), bind-mounts /sys (sysfs
// cannot be mounted without owning the network namespace), drops the devpts
// gid=5 option (gid 5 is not mapped) and leaves out cgroup resources.
func Default(rootless bool) *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s := &specs.Spec{
		Version: defaultVersion,
		Process: &specs.Process{
			Terminal: true,
			User:     specs.User{UID: 0, GID: 0},
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  slices.Clone(caps),
				Effective: slices.Clone(caps),
				Permitted: slices.Clone(caps),
				// No ambient set, as in runc 1.2 and later: a capability can be
				// ambient only while it is also inheritable, and this template has
				// no inheritable set, so listing them gained nothing but a warning
				// from every container made from it.
			},
			Rlimits: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024},
			},
			NoNewPrivileges: true,
		},
		Root: &specs.Root{
			Path:     "rootfs",
			Readonly: true,
		},
		Hostname: "runc",
		Mounts: []specs.Mount{
			{
				Destination: "/proc",
				Type:        "proc",
				Source:      "proc",
			},
			{
				Destination: "/dev",
				Type:        "tmpfs",
				Source:      "tmpfs",
				Options:     []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			},
			{
				Destination: "/dev/pts",
				Type:        "devpts",
				Source:      "devpts",
				Options:     []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
			},
			{
				Destination: "/dev/shm",
				Type:        "tmpfs",
				Source:      "shm",
				Options:     []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"},
			},
			{
				Destination: "/dev/mqueue",
				Type:        "mqueue",
				Source:      "mqueue",
				Options:     []string{"nosuid", "noexec", "nodev"},
			},
			{
				Destination: "/sys",
				Type:        "sysfs",
				Source:      "sysfs",
				Options:     []string{"nosuid", "noexec", "nodev", "ro"},
			},
			{
				Destination: "/sys/fs/cgroup",
				Type:        "cgroup",
				Source:      "cgroup",
				Options:     []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
			},
		},
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{
					{Allow: false, Access: "rwm"},
				},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi",
				"/proc/asound",
				"/proc/kcore",
				"/proc/keys",
				"/proc/latency_stats",
				"/proc/timer_list",
				"/proc/timer_stats",
				"/proc/sched_debug",
				"/sys/firmware",
				"/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus",
				"/proc/fs",
				"/proc/irq",
				"/proc/sys",
				"/proc/sysrq-trigger",
			},
		},
	}
	if rootless {
		makeRootless(s, uint32(os.Geteuid()), uint32(os.Getegid()))
	}
	return s
}

// makeRootless turns the default spec into the variant an unprivileged user
// can run, mapping container root to uid and gid on the host.
func makeRootless(s *specs.Spec, uid, gid uint32) {
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type == specs.NetworkNamespace || n.Type == specs.UserNamespace {
			continue
		}
		ns = append(ns, n)
	}
	ns = append(ns, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.Namespaces = ns
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}}

	for i := range s.Mounts {
		m := &s.Mounts[i]
		switch m.Destination {
		case "/sys":
			m.Type = "none"
			m.Source = "/sys"
			m.Options = []string{"rbind", "nosuid", "noexec", "nodev", "ro"}
		case "/dev/pts":
			m.Options = slices.DeleteFunc(m.Options, func(o string) bool { return o == "gid=5" })
		}
	}
	s.Linux.Resources = nil
}
