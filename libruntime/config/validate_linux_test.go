package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/internal/hulltest"
)

// testBundle makes a bundle directory with an empty rootfs.
func testBundle(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func intp(i int) *int { return &i }

func fields(errs []*Error) []string {
	var fs []string
	for _, e := range errs {
		fs = append(fs, e.Field)
	}
	return fs
}

// Indices into Default(false): namespaces pid, network, ipc, uts, mount; mounts
// /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys, /sys/fs/cgroup.
const (
	nsNetwork = 1
	nsIPC     = 2
	nsUTS     = 3
	nsMount   = 4
)

func removeNS(s *specs.Spec, t specs.LinuxNamespaceType) {
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == t })
}

// maxErrorLen bounds every validation error: a few cut values and the text
// around them.
const maxErrorLen = 4096

func TestValidateAll(t *testing.T) {
	bundle := testBundle(t)
	if err := os.WriteFile(filepath.Join(bundle, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	selfNet := "/proc/self/ns/net"
	huge := strings.Repeat("x", 1<<20)

	tests := []struct {
		name    string
		mutate  func(s *specs.Spec)
		want    []string // exact fields of every error, in order; nil means valid
		wantFix string   // substring of the first error's Fix, optional
	}{
		{name: "default is valid", mutate: func(s *specs.Spec) {}},
		{name: "rootless default is valid", mutate: func(s *specs.Spec) { *s = *Default(true) }},

		// ociVersion
		{name: "version missing", mutate: func(s *specs.Spec) { s.Version = "" }, want: []string{"ociVersion"}},
		{name: "version not semver", mutate: func(s *specs.Spec) { s.Version = "1.0" }, want: []string{"ociVersion"}},
		{name: "version leading zero", mutate: func(s *specs.Spec) { s.Version = "1.02.0" }, want: []string{"ociVersion"}},
		{name: "version major 2", mutate: func(s *specs.Spec) { s.Version = "2.0.0" }, want: []string{"ociVersion"}, wantFix: "1.3.x"},
		{name: "version major 0", mutate: func(s *specs.Spec) { s.Version = "0.9.0" }, want: []string{"ociVersion"}},
		// 1.x keeps compatibility within the major version: a newer minor is
		// accepted (check warns, see VersionWarning).
		{name: "version minor 4", mutate: func(s *specs.Spec) { s.Version = "1.4.0" }},
		{name: "version minor 17 prerelease", mutate: func(s *specs.Spec) { s.Version = "1.17.2-rc.1+build.5" }},
		{name: "version major 2 prerelease", mutate: func(s *specs.Spec) { s.Version = "2.0.0-rc.1" }, want: []string{"ociVersion"}},
		{name: "version empty prerelease", mutate: func(s *specs.Spec) { s.Version = "1.0.0-" }, want: []string{"ociVersion"}},
		{name: "version bad build", mutate: func(s *specs.Spec) { s.Version = "1.0.0+a_b" }, want: []string{"ociVersion"}},
		{name: "version 1.0.0", mutate: func(s *specs.Spec) { s.Version = "1.0.0" }},
		{name: "version 1.0.2-dev", mutate: func(s *specs.Spec) { s.Version = "1.0.2-dev" }},
		{name: "version 1.0.0-rc5", mutate: func(s *specs.Spec) { s.Version = "1.0.0-rc5" }},
		{name: "version 1.2.1", mutate: func(s *specs.Spec) { s.Version = "1.2.1" }},
		{name: "version 1.3.9+build.7", mutate: func(s *specs.Spec) { s.Version = "1.3.9+build.7" }},

		// root
		{name: "root missing", mutate: func(s *specs.Spec) { s.Root = nil }, want: []string{"root"}},
		{name: "root path empty", mutate: func(s *specs.Spec) { s.Root.Path = "" }, want: []string{"root.path"}},
		{name: "rootfs does not exist", mutate: func(s *specs.Spec) { s.Root.Path = "nope" }, want: []string{"root.path"}},
		{name: "rootfs is a file", mutate: func(s *specs.Spec) { s.Root.Path = "file" }, want: []string{"root.path"}},
		{name: "rootfs absolute", mutate: func(s *specs.Spec) { s.Root.Path = filepath.Join(bundle, "rootfs") }},
		{name: "rootfs absolute missing", mutate: func(s *specs.Spec) { s.Root.Path = "/rootfs" }, want: []string{"root.path"}},

		// process
		{name: "process missing", mutate: func(s *specs.Spec) { s.Process = nil }, want: []string{"process"}},
		{name: "args empty", mutate: func(s *specs.Spec) { s.Process.Args = nil }, want: []string{"process.args"}},
		{name: "program empty", mutate: func(s *specs.Spec) { s.Process.Args = []string{""} }, want: []string{"process.args[0]"}},
		{name: "arg with NUL", mutate: func(s *specs.Spec) { s.Process.Args = []string{"sh", "a\x00b"} }, want: []string{"process.args[1]"}},
		{name: "cwd missing", mutate: func(s *specs.Spec) { s.Process.Cwd = "" }, want: []string{"process.cwd"}},
		{name: "cwd relative", mutate: func(s *specs.Spec) { s.Process.Cwd = "home" }, want: []string{"process.cwd"}},
		{name: "env without =", mutate: func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO") },
			want: []string{"process.env[2]"}},
		{name: "env empty name", mutate: func(s *specs.Spec) { s.Process.Env[0] = "=x" }, want: []string{"process.env[0]"}},
		{name: "env empty value", mutate: func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "EMPTY=") }},
		{name: "rlimit unknown", mutate: func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_FOO"})
		}, want: []string{"process.rlimits[1].type"}, wantFix: "RLIMIT_NOFILE"},
		{name: "rlimit duplicate", mutate: func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_CORE"}, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 1})
		}, want: []string{"process.rlimits[2].type"}},
		{name: "rlimit soft above hard", mutate: func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 1025 },
			want: []string{"process.rlimits[0].soft"}},
		{name: "rlimits all known", mutate: func(s *specs.Spec) {
			s.Process.Rlimits = nil
			for _, n := range rlimitNames {
				s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: n, Soft: 1, Hard: 2})
			}
		}},
		// Unknown capability names are not errors: config.md wants them
		// logged as warnings (libruntime/check) and the container to go on.
		{name: "capability unknown in every set", mutate: func(s *specs.Spec) {
			c := s.Process.Capabilities
			c.Bounding = append(c.Bounding, "CAP_FOO")
			c.Effective[1] = "net_admin"
			c.Inheritable = []string{"CAP_CHOWN", "CAP_41"}
			c.Permitted[0] = "SYS_ADMIN"
			c.Ambient = []string{"CAP_KILL", "CAP_CHOWN", ""}
		}},
		{name: "oomScoreAdj too high", mutate: func(s *specs.Spec) { s.Process.OOMScoreAdj = intp(1001) },
			want: []string{"process.oomScoreAdj"}},
		{name: "oomScoreAdj too low", mutate: func(s *specs.Spec) { s.Process.OOMScoreAdj = intp(-1001) },
			want: []string{"process.oomScoreAdj"}},
		{name: "oomScoreAdj bounds", mutate: func(s *specs.Spec) { s.Process.OOMScoreAdj = intp(-1000) }},
		// The form only: whether the host can apply them is lsm.Check's.
		{name: "apparmor", mutate: func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" }},
		{name: "apparmor newline", mutate: func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default\nx" },
			want: []string{"process.apparmorProfile"}},
		{name: "selinux", mutate: func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0:c1,c2" }},
		{name: "selinux NUL", mutate: func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0\x00" },
			want: []string{"process.selinuxLabel"}},

		// hostname, domainname
		{name: "hostname without uts", mutate: func(s *specs.Spec) { removeNS(s, specs.UTSNamespace) },
			want: []string{"hostname"}, wantFix: `{"type": "uts"}`},
		// As runc: the names are set in the joined namespace, unless that is
		// the host's (which would rename the host).
		{name: "hostname with joined uts", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces[nsUTS].Path = "/nonexistent/ns/uts"
			s.Domainname = "example.org"
		}},
		{name: "hostname with the host's uts", mutate: func(s *specs.Spec) { s.Linux.Namespaces[nsUTS].Path = "/proc/self/ns/uts" },
			want: []string{"hostname"}, wantFix: "remove hostname"},
		{name: "domainname with the host's uts", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces[nsUTS].Path = "/proc/self/ns/uts"
			s.Hostname = ""
			s.Domainname = "example.org"
		}, want: []string{"domainname"}},
		{name: "domainname without uts", mutate: func(s *specs.Spec) {
			removeNS(s, specs.UTSNamespace)
			s.Hostname = ""
			s.Domainname = "example.org"
		}, want: []string{"domainname"}},
		{name: "joined uts without names", mutate: func(s *specs.Spec) {
			s.Hostname = ""
			s.Linux.Namespaces[nsUTS].Path = "/proc/1/ns/uts"
		}},

		// mounts
		{name: "bind with filesystem data", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/tmp", Options: []string{"rbind", "size=1m", "mode=755"}})
		}, want: []string{"mounts[7].options"}, wantFix: "source filesystem"},
		{name: "bind type with uid data", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"uid=1000"}})
		}, want: []string{"mounts[7].options"}},
		{name: "bind with superblock flags", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/tmp", Options: []string{"bind", "sync", "lazytime"}})
		}, want: []string{"mounts[7].options"}, wantFix: "remount the source"},
		{name: "bind with tmpcopyup", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/tmp", Options: []string{"bind", "tmpcopyup"}})
		}, want: []string{"mounts[7].options"}},
		{name: "tmpcopyup on proc", mutate: func(s *specs.Spec) { s.Mounts[0].Options = []string{"tmpcopyup"} },
			want: []string{"mounts[0].options"}},
		{name: "bind with per-mount flags", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/tmp", Options: []string{
				"rbind", "ro", "nosuid", "nodev", "noexec", "nosymfollow", "noatime", "nodiratime", "atime", "rprivate",
				"rro", "rnosuid", "rrelatime", "x-systemd.automount", "defaults", "idmap"}})
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}},
		{name: "mount destination relative", mutate: func(s *specs.Spec) { s.Mounts[3].Destination = "dev/shm" },
			want: []string{"mounts[3].destination"}},
		{name: "mount destination missing", mutate: func(s *specs.Spec) { s.Mounts[0].Destination = "" },
			want: []string{"mounts[0].destination"}},
		{name: "mount destination dotdot", mutate: func(s *specs.Spec) { s.Mounts[2].Destination = "/dev/../../etc" },
			want: []string{"mounts[2].destination"}},
		{name: "mount destination dots in names", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/a..b/...", Type: "tmpfs", Source: "tmpfs"})
		}},
		{name: "mount type missing", mutate: func(s *specs.Spec) { s.Mounts[0].Type = "" },
			want: []string{"mounts[0].type"}},
		{name: "bind mount without type", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"rbind", "ro"}})
		}},
		{name: "bind mount without source", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "none", Options: []string{"bind"}})
		}, want: []string{"mounts[7].source"}},
		{name: "mount option empty", mutate: func(s *specs.Spec) { s.Mounts[1].Options[2] = "" },
			want: []string{"mounts[1].options[2]"}},
		{name: "mount option NUL", mutate: func(s *specs.Spec) { s.Mounts[3].Options[4] = "size=1\x00" },
			want: []string{"mounts[3].options[4]"}},
		{name: "bad option on bind mount without type", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"", "bind"}})
		}, want: []string{"mounts[7].options[0]"}},
		{name: "idmap without user namespace", mutate: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"bind", "idmap"}})
		}, want: []string{"mounts[7].options"}},
		{name: "idmap with mount mappings", mutate: func(s *specs.Spec) {
			m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"rbind", "ridmap"},
				UIDMappings: m, GIDMappings: m})
		}},
		{name: "mount mapping overlap", mutate: func(s *specs.Spec) {
			m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}, {ContainerID: 9, HostID: 2000, Size: 1}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"bind", "idmap"},
				UIDMappings: m})
		}, want: []string{"mounts[7].uidMappings[1].containerID"}},

		// hooks
		{name: "hook path relative", mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "bin/hook"}}}
		}, want: []string{"hooks.prestart[0].path"}},
		{name: "hook path missing", mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/ok"}, {}}}
		}, want: []string{"hooks.createRuntime[1].path"}},
		{name: "hook timeout zero", mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Timeout: intp(0)}}}
		}, want: []string{"hooks.poststop[0].timeout"}},
		{name: "hook timeout negative", mutate: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true", Timeout: intp(-5)}}}
		}, want: []string{"hooks.startContainer[0].timeout"}},
		{name: "hooks valid", mutate: func(s *specs.Spec) {
			h := []specs.Hook{{Path: "/bin/true", Args: []string{"true"}, Timeout: intp(3)}}
			s.Hooks = &specs.Hooks{Prestart: h, CreateRuntime: h, CreateContainer: h, StartContainer: h, Poststart: h, Poststop: h}
		}},

		// namespaces
		{name: "namespace type unknown", mutate: func(s *specs.Spec) { s.Linux.Namespaces[nsNetwork].Type = "foo" },
			want: []string{"linux.namespaces[1].type"}, wantFix: "use one of pid, network, mount, ipc, uts, user, cgroup, time"},
		{name: "namespace duplicate", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "ipc", Path: "/proc/1/ns/ipc"})
		}, want: []string{"linux.namespaces[5].type"}},
		{name: "namespace path relative", mutate: func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "proc/1/ns/pid" },
			want: []string{"linux.namespaces[0].path"}},
		// Without a mount namespace the container is only chrooted (runc):
		// everything that needs a mount is refused.
		{name: "no mount namespace", mutate: func(s *specs.Spec) { removeNS(s, specs.MountNamespace) },
			want: []string{"mounts", "root.readonly", "process.terminal", "linux.maskedPaths", "linux.readonlyPaths"}},
		{name: "no mount namespace, nothing mounted", mutate: func(s *specs.Spec) {
			removeNS(s, specs.MountNamespace)
			s.Mounts, s.Root.Readonly, s.Process.Terminal = nil, false, false
			s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
		}},
		{name: "no mount namespace, propagation and devices", mutate: func(s *specs.Spec) {
			removeNS(s, specs.MountNamespace)
			s.Mounts, s.Root.Readonly, s.Process.Terminal = nil, false, false
			s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
			s.Linux.RootfsPropagation = "rslave"
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
		}, want: []string{"linux.rootfsPropagation", "linux.devices"}},
		{name: "no linux section", mutate: func(s *specs.Spec) { s.Linux = nil; s.Hostname = "" },
			want: []string{"mounts", "root.readonly", "process.terminal"}},
		{name: "joined namespaces", mutate: func(s *specs.Spec) {
			s.Hostname = ""
			for i := range s.Linux.Namespaces {
				s.Linux.Namespaces[i].Path = "/proc/1/ns/" + string(s.Linux.Namespaces[i].Type)
			}
		}},
		{name: "all namespace types", mutate: func(s *specs.Spec) {
			*s = *Default(true)
			s.Linux.Namespaces = append(s.Linux.Namespaces,
				specs.LinuxNamespace{Type: "network"}, specs.LinuxNamespace{Type: "cgroup"}, specs.LinuxNamespace{Type: "time"})
		}},

		// user namespace mappings
		{name: "uid mappings without user namespace", mutate: func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, want: []string{"linux.uidMappings"}},
		{name: "gid mappings without user namespace", mutate: func(s *specs.Spec) {
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, want: []string{"linux.gidMappings"}},
		{name: "new user namespace without mappings", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
		}, want: []string{"linux.uidMappings", "linux.gidMappings"}},
		{name: "joined user namespace without mappings", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user", Path: "/proc/1/ns/user"})
		}},
		{name: "mapping size zero", mutate: func(s *specs.Spec) {
			*s = *Default(true)
			s.Linux.UIDMappings[0].Size = 0
		}, want: []string{"linux.uidMappings[0].size"}},
		{name: "mapping beyond 32 bits", mutate: func(s *specs.Spec) {
			*s = *Default(true)
			s.Linux.GIDMappings[0] = specs.LinuxIDMapping{ContainerID: 1, HostID: 0, Size: 1<<32 - 1}
		}, want: []string{"linux.gidMappings[0].size"}},
		{name: "mapping container overlap", mutate: func(s *specs.Spec) {
			*s = *Default(true)
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 100}, {ContainerID: 99, HostID: 5000, Size: 10}}
		}, want: []string{"linux.uidMappings[1].containerID"}},
		{name: "mapping host overlap", mutate: func(s *specs.Spec) {
			*s = *Default(true)
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 100}, {ContainerID: 100, HostID: 900, Size: 101}}
		}, want: []string{"linux.gidMappings[1].hostID"}},
		{name: "mappings adjacent", mutate: func(s *specs.Spec) {
			*s = *Default(true)
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 100}, {ContainerID: 100, HostID: 1100, Size: 100}}
		}},
		{name: "too many mappings", mutate: func(s *specs.Spec) {
			*s = *Default(true)
			s.Linux.UIDMappings = nil
			for i := range uint32(341) {
				s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: i, HostID: 1000 + i, Size: 1})
			}
		}, want: []string{"linux.uidMappings"}},

		// time namespace
		{name: "time offsets without time namespace", mutate: func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
		}, want: []string{"linux.timeOffsets"}},
		{name: "time offsets of joined time namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time", Path: "/proc/1/ns/time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 10}}
		}, want: []string{"linux.timeOffsets"}},
		{name: "time offsets unknown clock", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}, "realtime": {Secs: 10}, "boottime": {Nanosecs: 5}}
		}, want: []string{`linux.timeOffsets."realtime"`}, wantFix: "monotonic or boottime"},
		{name: "time offsets nanosecs too big", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Nanosecs: 1e9}}
		}, want: []string{`linux.timeOffsets."monotonic".nanosecs`}},

		// sysctl
		{name: "sysctl not namespaced", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"vm.swappiness": "10"}
		}, want: []string{`linux.sysctl."vm.swappiness"`}, wantFix: "net.*"},
		{name: "sysctl kernel global", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.pid_max": "10", "kernel.shmmax": "1"}
		}, want: []string{`linux.sysctl."kernel.pid_max"`}},
		{name: "sysctl namespaced", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{
				"kernel.msgmax": "1", "kernel.msgmnb": "1", "kernel.msgmni": "1", "kernel.sem": "1 2 3 4",
				"kernel.shmall": "1", "kernel.shmmax": "1", "kernel.shmmni": "1", "kernel.shm_rmid_forced": "1",
				"fs.mqueue.msg_max": "10", "net.ipv4.ip_forward": "1", "net/ipv4/conf/eth0.100/forwarding": "1",
				"kernel.hostname": "x", "kernel.domainname": "y",
			}
			s.Hostname = ""
		}},
		{name: "sysctl kernel.hostname with hostname", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"}
		}, want: []string{`linux.sysctl."kernel.hostname"`}, wantFix: `"hostname"`},
		{name: "sysctl kernel/domainname with domainname", mutate: func(s *specs.Spec) {
			s.Domainname = "example.org"
			s.Linux.Sysctl = map[string]string{"kernel/domainname": "y", "kernel.hostname": "x"}
		}, want: []string{`linux.sysctl."kernel.hostname"`, `linux.sysctl."kernel/domainname"`}, wantFix: `"hostname"`},
		{name: "sysctl kernel.domainname without domainname", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.domainname": "y"}
		}},
		{name: "sysctl net without network namespace", mutate: func(s *specs.Spec) {
			removeNS(s, specs.NetworkNamespace)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, want: []string{`linux.sysctl."net.ipv4.ip_forward"`}, wantFix: `{"type": "network"}`},
		{name: "sysctl ipc without ipc namespace", mutate: func(s *specs.Spec) {
			removeNS(s, specs.IPCNamespace)
			s.Linux.Sysctl = map[string]string{"fs.mqueue.queues_max": "1", "kernel.sem": "1"}
		}, want: []string{`linux.sysctl."fs.mqueue.queues_max"`, `linux.sysctl."kernel.sem"`}},
		{name: "sysctl uts without uts namespace", mutate: func(s *specs.Spec) {
			removeNS(s, specs.UTSNamespace)
			s.Hostname = ""
			s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"}
		}, want: []string{`linux.sysctl."kernel.hostname"`}},
		{name: "sysctl net in host network namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces[nsNetwork].Path = selfNet
			s.Linux.Sysctl = map[string]string{"net.core.somaxconn": "1", "net.ipv4.ip_forward": "1"}
		}, want: []string{`linux.sysctl."net.core.somaxconn"`, `linux.sysctl."net.ipv4.ip_forward"`}},
		{name: "sysctl escaping /proc/sys", mutate: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net/../../../etc/x": "1", "net..x": "1", "net.": "1"}
		}, want: []string{`linux.sysctl."net."`, `linux.sysctl."net..x"`, `linux.sysctl."net/../../../etc/x"`}},

		// devices
		{name: "device path relative", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/fuse", Type: "c", Major: 10, Minor: 229}}
		}, want: []string{"linux.devices[0].path"}},
		{name: "device outside /dev", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}, {Path: "/dev/../etc/x", Type: "c", Major: 1, Minor: 3}, {Path: "/dev", Type: "c", Major: 1, Minor: 3}}
		}, want: []string{"linux.devices[1].path", "linux.devices[2].path"}},
		{name: "device type unknown", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "d", Major: 1, Minor: 3}}
		}, want: []string{"linux.devices[0].type"}},
		{name: "device major missing", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Minor: 0}}
		}, want: []string{"linux.devices[0].major"}},
		{name: "device minor negative", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/sda", Type: "u", Major: 8, Minor: -1}}
		}, want: []string{"linux.devices[0].minor"}},
		{name: "device major too large", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/big", Type: "c", Major: 4096, Minor: 1}}
		}, want: []string{"linux.devices[0].major"}},
		{name: "devices valid", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{
				{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229},
				{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0},
				{Path: "/dev/net/tun", Type: "u", Major: 10, Minor: 200},
				{Path: "/dev/fifo", Type: "p"},
			}
		}},

		// masked and readonly paths, propagation, LSM labels, unchecked sections
		{name: "masked path relative", mutate: func(s *specs.Spec) { s.Linux.MaskedPaths[1] = "proc/asound" },
			want: []string{"linux.maskedPaths[1]"}},
		{name: "readonly path relative", mutate: func(s *specs.Spec) { s.Linux.ReadonlyPaths[4] = "sysrq-trigger" },
			want: []string{"linux.readonlyPaths[4]"}},
		{name: "rootfs propagation unknown", mutate: func(s *specs.Spec) { s.Linux.RootfsPropagation = "recursive" },
			want: []string{"linux.rootfsPropagation"}},
		{name: "rootfs propagation valid", mutate: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rslave" }},
		{name: "mount label", mutate: func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0:c1,c2" }},
		{name: "mount label quote", mutate: func(s *specs.Spec) { s.Linux.MountLabel = `s0",size=1` },
			want: []string{"linux.mountLabel"}},
		{name: "netDevices valid", mutate: func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth9": {}, "dummy1": {Name: "ctr0"}, "dummy2": {Name: "net%d"}}
		}},
		{name: "netDevices without a network namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth9": {}}
		}, want: []string{"linux.netDevices"}, wantFix: `{"type": "network"}`},
		{name: "netDevices in the host's network namespace", mutate: func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/proc/self/ns/net"
				}
			}
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth9": {}}
		}, want: []string{"linux.netDevices"}},
		{name: "netDevices bad host name", mutate: func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"a/b": {}}
		}, want: []string{"linux.netDevices.a/b"}},
		{name: "netDevices name too long", mutate: func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth9": {Name: "0123456789abcdef"}}
		}, want: []string{"linux.netDevices.eth9.name"}},
		{name: "netDevices name dot", mutate: func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth9": {Name: ".."}}
		}, want: []string{"linux.netDevices.eth9.name"}},
		{name: "netDevices name with space", mutate: func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth9": {Name: "a b"}}
		}, want: []string{"linux.netDevices.eth9.name"}},
		{name: "netDevices bad template", mutate: func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth9": {Name: "n%s"}}
		}, want: []string{"linux.netDevices.eth9.name"}},
		{name: "netDevices same new name", mutate: func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"eth8": {Name: "ctr0"}, "eth9": {Name: "ctr0"}}
		}, want: []string{"linux.netDevices.eth9.name"}},
		{name: "intelRdt refused", mutate: func(s *specs.Spec) {
			s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "x"}
		}, want: []string{"linux.intelRdt"}},
		{name: "memoryPolicy accepted", mutate: func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: "MPOL_BIND", Nodes: "0"}
		}},
		{name: "additionalGids at NGROUPS_MAX", mutate: func(s *specs.Spec) {
			s.Process.User.AdditionalGids = make([]uint32, 65536)
		}},
		{name: "additionalGids above NGROUPS_MAX", mutate: func(s *specs.Spec) {
			s.Process.User.AdditionalGids = make([]uint32, 65537)
		}, want: []string{"process.user.additionalGids"}, wantFix: "65536"},
		{name: "seccomp and resources are not checked", mutate: func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: intp64(-5)}
		}},

		// Huge values (a config may be 16 MiB) are cut in the messages; the
		// loop below checks the length of every error.
		{name: "huge version", mutate: func(s *specs.Spec) { s.Version = huge }, want: []string{"ociVersion"}},
		{name: "huge missing rootfs", mutate: func(s *specs.Spec) { s.Root.Path = "/" + huge }, want: []string{"root.path"}},
		{name: "huge cwd", mutate: func(s *specs.Spec) { s.Process.Cwd = huge }, want: []string{"process.cwd"}},
		{name: "huge env", mutate: func(s *specs.Spec) { s.Process.Env[0] = huge }, want: []string{"process.env[0]"}},
		{name: "huge rlimit", mutate: func(s *specs.Spec) { s.Process.Rlimits[0].Type = huge }, want: []string{"process.rlimits[0].type"}},
		{name: "huge mount destination", mutate: func(s *specs.Spec) { s.Mounts[0].Destination = huge },
			want: []string{"mounts[0].destination"}},
		{name: "huge mount option", mutate: func(s *specs.Spec) { s.Mounts[0].Options = []string{huge + "\x00"} },
			want: []string{"mounts[0].options[0]"}},
		{name: "huge hook path", mutate: func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: huge}}} },
			want: []string{"hooks.poststop[0].path"}},
		{name: "huge namespace", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces[nsIPC].Type = specs.LinuxNamespaceType(huge)
			s.Linux.Namespaces[nsNetwork].Path = huge
		}, want: []string{"linux.namespaces[1].path", "linux.namespaces[2].type"}},
		{name: "huge hostname and sysctl", mutate: func(s *specs.Spec) {
			s.Hostname = huge
			s.Linux.Sysctl = map[string]string{"kernel.hostname": huge}
		}, want: []string{`linux.sysctl."kernel.hostname"`}},
		{name: "huge sysctl key", mutate: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{huge: "1"} },
			want: []string{"linux.sysctl." + clip.Quote(huge)}},
		{name: "huge clock", mutate: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{huge: {}}
		}, want: []string{"linux.timeOffsets." + clip.Quote(huge)}},
		{name: "huge device", mutate: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: huge, Type: huge}}
		}, want: []string{"linux.devices[0].path", "linux.devices[0].type"}},
		{name: "huge masked path", mutate: func(s *specs.Spec) { s.Linux.MaskedPaths[0] = huge }, want: []string{"linux.maskedPaths[0]"}},
		{name: "huge propagation", mutate: func(s *specs.Spec) { s.Linux.RootfsPropagation = huge }, want: []string{"linux.rootfsPropagation"}},

		// several problems at once are all reported, in config order
		{name: "several problems", mutate: func(s *specs.Spec) {
			s.Version = ""
			s.Process.Cwd = "x"
			s.Mounts[0].Destination = "proc"
			s.Linux.Namespaces[nsIPC].Type = "bogus"
			s.Linux.Namespaces[nsMount].Path = "relative"
		}, want: []string{"ociVersion", "process.cwd", "mounts[0].destination", "linux.namespaces[2].type", "linux.namespaces[4].path"}},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Default(false)
			tc.mutate(s)
			errs := ValidateAll(s, bundle)
			if got := fields(errs); !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %q, want %q\nerrors: %v", got, tc.want, errs)
			}
			for _, e := range errs {
				if n := len(e.Error()); n > maxErrorLen {
					t.Errorf("error of %d bytes, want at most %d: %.300s...", n, maxErrorLen, e)
				}
				if e.Msg == "" || e.Fix == "" {
					t.Errorf("error %q lacks a message or a fix", e)
				}
				if !strings.HasPrefix(e.Error(), e.Field+": ") {
					t.Errorf("Error() = %q does not start with the field %q", e.Error(), e.Field)
				}
			}
			if tc.wantFix != "" && !strings.Contains(errs[0].Fix, tc.wantFix) {
				t.Errorf("fix %q does not contain %q", errs[0].Fix, tc.wantFix)
			}

			err := validate(s, bundle)
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			var ve *Error
			if !errors.As(err, &ve) || ve != errs[0] && *ve != *errs[0] {
				t.Errorf("Validate = %v, want the first error %v", err, errs[0])
			}
		})
	}
}

func intp64(i int64) *int64 { return &i }

func TestValidateNilSpec(t *testing.T) {
	if err := validate(nil, t.TempDir()); err == nil {
		t.Fatal("ValidateAll(nil) found nothing")
	}
}

// TestValidateRelativeBundle checks that a relative root.path follows the
// bundle, not the working directory.
func TestValidateRelativeBundle(t *testing.T) {
	bundle := testBundle(t)
	s := Default(false)
	if err := validate(s, bundle); err != nil {
		t.Fatalf("Validate with bundle: %v", err)
	}
	t.Chdir(filepath.Dir(bundle))
	if err := validate(s, filepath.Base(bundle)); err != nil {
		t.Fatalf("Validate with relative bundle: %v", err)
	}
	if err := validate(s, ""); err == nil {
		t.Fatal("Validate with the parent as bundle found a rootfs that is not there")
	}
}

// TestSysctlForeignNamespace checks that a namespaced sysctl may target a
// joined namespace that is not the host's.
func TestSysctlForeignNamespace(t *testing.T) {
	type result struct {
		path string
		err  error
	}
	done := make(chan struct{})
	defer close(done)
	// netnsThread unshares the network namespace of a fresh locked thread. The
	// thread is never unlocked: Go ends it with the goroutine, so nothing else
	// runs in the new namespace. The main thread is not used, because
	// /proc/self/ns names the main thread's namespaces; a goroutine that lands
	// there keeps it busy so the next one gets another thread.
	netnsThread := func() result {
		ready := make(chan result)
		go func() {
			runtime.LockOSThread()
			if unix.Gettid() == unix.Getpid() {
				ready <- result{}
				<-done
				runtime.UnlockOSThread()
				return
			}
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				ready <- result{err: err}
				return
			}
			ready <- result{path: "/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/ns/net"}
			<-done
		}()
		return <-ready
	}
	r := netnsThread()
	if r.path == "" && r.err == nil {
		r = netnsThread()
	}
	if r.err != nil {
		hulltest.Require(t, "a network namespace (root)", r.err)
	}
	if r.path == "" {
		t.Fatal("no thread besides the main one")
	}

	bundle := testBundle(t)
	s := Default(false)
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	s.Linux.Namespaces[nsNetwork].Path = r.path
	if err := validate(s, bundle); err != nil {
		t.Errorf("sysctl in a foreign network namespace: %v", err)
	}
	s.Linux.Namespaces[nsNetwork].Path = "/proc/self/ns/net"
	if err := validate(s, bundle); err == nil {
		t.Errorf("sysctl in the host's network namespace was accepted")
	}
}

func TestParseSemver(t *testing.T) {
	tests := []struct {
		in           string
		major, minor uint64
		ok           bool
	}{
		{"1.0.0", 1, 0, true},
		{"1.3.0", 1, 3, true},
		{"0.0.0", 0, 0, true},
		{"1.0.2-dev", 1, 0, true},
		{"1.0.0-rc.1+build.5", 1, 0, true},
		{"1.0.0-0", 1, 0, true},
		{"10.20.30", 10, 20, true},
		{"1.0.0-01", 0, 0, false},
		{"1.0", 0, 0, false},
		{"1.0.0.0", 0, 0, false},
		{"v1.0.0", 0, 0, false},
		{"1.0.0-", 0, 0, false},
		{"1.0.0+", 0, 0, false},
		{"1..0", 0, 0, false},
		{"1.0.0-a..b", 0, 0, false},
		{"1.0.x", 0, 0, false},
		{"99999999999999999999.0.0", 0, 0, false},
	}
	for _, tc := range tests {
		major, minor, err := parseSemver(tc.in)
		if (err == nil) != tc.ok || major != tc.major || minor != tc.minor {
			t.Errorf("parseSemver(%q) = %d, %d, %v; want %d, %d, ok=%v", tc.in, major, minor, err, tc.major, tc.minor, tc.ok)
		}
	}
}

// FuzzValidate decodes arbitrary bytes as Load does and validates the result:
// neither may panic, and Validate must agree with ValidateAll.
func FuzzValidate(f *testing.F) {
	for _, rootless := range []bool{false, true} {
		b, err := json.Marshal(Default(rootless))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"ociVersion": "1.0.0-rc.1", "root": {"path": "/"}, "process": {"args": ["sh"], "cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 5, "hard": 1}]}}`))
	f.Add([]byte(`{"linux": {"namespaces": [{"type": "user"}, {"type": "user", "path": "x"}], "uidMappings": [{"containerID": 4294967295, "hostID": 0, "size": 4294967295}], "sysctl": {"net/../x": "1", "": ""}, "timeOffsets": {"": {}}}}`))
	f.Add([]byte(`{"mounts": [{"destination": "..", "options": ["", "rbind", "idmap", "rnoatime"]}], "hooks": {"prestart": [{"path": "", "timeout": -1}]}, "linux": {"devices": [{"path": "/dev/..", "type": "c", "major": -1, "minor": 9999999}]}}`))

	bundle := testBundle(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decode(data, "config.json")
		if err != nil {
			if s != nil {
				t.Fatalf("decode returned a spec and an error")
			}
			return
		}
		errs := ValidateAll(s, bundle)
		for _, e := range errs {
			if e == nil || e.Msg == "" {
				t.Fatalf("empty error in %v", errs)
			}
			if !strings.Contains(e.Error(), e.Field) {
				t.Fatalf("Error() %q does not mention %q", e.Error(), e.Field)
			}
		}
		if err := validate(s, bundle); (err == nil) != (len(errs) == 0) {
			t.Fatalf("Validate = %v, ValidateAll = %v", err, errs)
		}
	})
}

func BenchmarkLoadValidate(b *testing.B) {
	bundle := testBundle(b)
	data, err := json.Marshal(Default(false))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := Load(bundle)
		if err != nil {
			b.Fatal(err)
		}
		if err := validate(s, bundle); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVersionWarning(t *testing.T) {
	tests := []struct {
		ver  string
		warn bool
	}{
		{"1.0.0", false}, {"1.3.0", false}, {"1.3.7-dev", false},
		{"1.4.0", true}, {"1.12.0-rc.1+git.abc", true},
		// Errors, reported by ValidateAll, not warnings.
		{"2.0.0", false}, {"1.4", false}, {"", false},
	}
	for _, tc := range tests {
		e := VersionWarning(tc.ver)
		if (e != nil) != tc.warn {
			t.Errorf("VersionWarning(%q) = %v, want a warning: %v", tc.ver, e, tc.warn)
			continue
		}
		if e == nil {
			continue
		}
		if e.Field != "ociVersion" || !strings.Contains(e.Msg, tc.ver) || !strings.Contains(e.Msg, "1.3") || e.Fix == "" {
			t.Errorf("VersionWarning(%q) = %+v, want it to name ociVersion, the version and 1.3, with a fix", tc.ver, e)
		}
	}
}

// validate is ValidateAll's first problem, as create reports it (through package
// check), or nil.
func validate(s *specs.Spec, bundle string) error {
	if errs := ValidateAll(s, bundle); len(errs) > 0 {
		return errs[0]
	}
	return nil
}
