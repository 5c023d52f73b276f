package check

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/config"
)

const allCaps = uint64(1)<<41 - 1 // CAP_CHOWN to CAP_CHECKPOINT_RESTORE

// fakeHost has every capability, namespace and controller, no limits, and
// its cgroup2 mount at mount.
func fakeHost(mount string) *host {
	return &host{
		capBnd: allCaps, capPrm: allCaps, capEff: allCaps, capsOK: true,
		lastCap:     40,
		hasNS:       func(string) bool { return true },
		hardLimit:   func(int) (uint64, error) { return unix.RLIM_INFINITY, nil },
		oomScoreAdj: func() (int, error) { return 0, nil },
		cgroupPath: func(p, id string) (string, error) {
			if p == "" {
				p = id
			}
			return filepath.Join(mount, p), nil
		},
		cgroupMount: func() (string, error) { return mount, nil },
		hullMade:    func(string) bool { return false },
	}
}

// testBundle makes a bundle with a rootfs holding an executable /bin/sh and
// /etc, and returns it with config.Default(false) adjusted to run sh there.
func testBundle(t *testing.T) (string, *specs.Spec) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "sh"), []byte("#!\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := config.Default(false)
	s.Process.Capabilities.Ambient = nil
	s.Linux.Resources = nil
	return dir, s
}

func fields(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f.Severity)+" "+f.Field)
	}
	return out
}

// TestSpec runs every check on the default spec with one change and a fake
// host, and compares the findings' severities and fields, in order.
// maxFindingLen bounds every finding: a few cut values and the text around
// them.
const maxFindingLen = 4096

func TestSpec(t *testing.T) {
	i := func(v int) *int { return &v }
	huge := strings.Repeat("x", 1<<20)
	tests := []struct {
		name   string
		mutate func(t *testing.T, s *specs.Spec, h *host, bundle string)
		want   []string
		// msg is a substring of the first finding's message.
		msg string
	}{
		{name: "clean"},
		{name: "config-errors-first",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Process.Cwd = "/nope"
				s.Version = ""
			},
			want: []string{"error ociVersion", "error process.cwd"}},
		{name: "cap-outside-bounding",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.capBnd &^= 1 << unix.CAP_SYS_RESOURCE
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_RESOURCE")
			},
			want: []string{"warning process.capabilities.bounding[3]"}, msg: "not in hull's own bounding set"},
		{name: "cap-not-held",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.capPrm &^= 1 << unix.CAP_KILL
			},
			want: []string{"warning process.capabilities.effective[1]", "warning process.capabilities.permitted[1]"},
			msg:  "hull does not hold CAP_KILL"},
		{name: "cap-unknown-to-kernel",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.lastCap = 39
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_CHECKPOINT_RESTORE")
			},
			want: []string{"warning process.capabilities.bounding[3]"}, msg: "unknown to this kernel"},
		{name: "newer-spec-minor",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) { s.Version = "1.4.0" },
			want:   []string{"warning ociVersion"}, msg: "newer than runtime-spec 1.3"},
		{name: "cap-unknown-name",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_FOO")
				s.Process.Capabilities.Effective = append(s.Process.Capabilities.Effective, "net_admin")
				s.Process.Capabilities.Ambient = []string{huge}
			},
			want: []string{"warning process.capabilities.bounding[3]", "warning process.capabilities.effective[3]",
				"warning process.capabilities.ambient[0]"},
			msg: `unknown capability "CAP_FOO"`},
		{name: "caps-in-new-userns-ignore-hull-sets",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.capBnd, h.capPrm = 0, 0
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
			}},
		{name: "caps-unreadable-say-nothing",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.capBnd, h.capPrm, h.capEff, h.capsOK = 0, 0, 0, false
				h.hardLimit = func(int) (uint64, error) { return 10, nil }
				s.Process.OOMScoreAdj = i(-10)
			}},
		{name: "cpus-partly-offline",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.onlineCPUs = func() ([]int, error) { return []int{0, 1}, nil }
				s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0-3", Final: "1"}
			},
			want: []string{"warning process.execCPUAffinity.initial"}, msg: "CPUs [2 3] are not online"},
		{name: "cpus-all-offline",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.onlineCPUs = func() ([]int, error) { return []int{0, 1}, nil }
				s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "4,6"}
			},
			want: []string{"error process.execCPUAffinity.final"}, msg: `none of the CPUs "4,6" is usable`},
		{name: "memory-nodes",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.memoryNodes = func() ([]int, error) { return []int{0}, nil }
				s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0-1"}
			},
			want: []string{"warning linux.memoryPolicy.nodes"}, msg: "memory nodes [1] have no memory"},
		{name: "memory-nodes-none",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.memoryNodes = func() ([]int, error) { return []int{0}, nil }
				s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "2"}
			},
			want: []string{"error linux.memoryPolicy.nodes"}, msg: "none of the memory nodes"},
		{name: "memory-nodes-relative",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.memoryNodes = func() ([]int, error) { return []int{0}, nil }
				s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "3",
					Flags: []specs.MemoryPolicyFlagType{specs.MpolFRelativeNodes}}
			}},
		{name: "ambient-needs-inheritable",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Process.Capabilities.Ambient = []string{"CAP_KILL"}
			},
			want: []string{"warning process.capabilities.ambient[0]"}},
		{name: "ambient-with-inheritable",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Process.Capabilities.Ambient = []string{"CAP_KILL"}
				s.Process.Capabilities.Inheritable = []string{"CAP_KILL"}
			}},
		{name: "rlimit-above-host",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.capEff &^= 1 << unix.CAP_SYS_RESOURCE
				h.hardLimit = func(int) (uint64, error) { return 1000, nil }
			},
			want: []string{"error process.rlimits[0].hard"}, msg: "RLIMIT_NOFILE hard limit 1024 is above this host's 1000"},
		{name: "rlimit-above-host-with-cap-sys-resource",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.hardLimit = func(int) (uint64, error) { return 1000, nil }
			}},
		{name: "rlimit-equal-to-host",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.capEff = 0
				h.hardLimit = func(int) (uint64, error) { return 1024, nil }
			}},
		{name: "rlimit-unlimited-above-host",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.capEff = 0
				h.hardLimit = func(int) (uint64, error) { return 4096, nil }
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Hard: unix.RLIM_INFINITY}}
			},
			want: []string{"error process.rlimits[0].hard"}, msg: "hard limit unlimited is above this host's 4096"},
		{name: "oom-below-own",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.capEff = 0
				h.oomScoreAdj = func() (int, error) { return -100, nil }
				s.Process.OOMScoreAdj = i(-500)
			},
			want: []string{"error process.oomScoreAdj"}, msg: "-500 is below hull's own oom_score_adj -100"},
		{name: "oom-not-below-own",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.capEff = 0
				h.oomScoreAdj = func() (int, error) { return -100, nil }
				s.Process.OOMScoreAdj = i(-50)
			}},
		{name: "kernel-without-time-namespaces",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.hasNS = func(n string) bool { return n != "time" }
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			},
			want: []string{"error linux.namespaces[5].type"}, msg: "this kernel has no time namespaces"},
		{name: "userns-gid-0-unmapped",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 1, HostID: 1000, Size: 10}}
			},
			want: []string{"error linux.gidMappings"}, msg: "no mapping for gid 0"},
		{name: "userns-with-joined-time-namespace",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Namespaces = append(s.Linux.Namespaces,
					specs.LinuxNamespace{Type: specs.UserNamespace},
					specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/self/ns/time"})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
			},
			want: []string{"error linux.namespaces[6].path"}, msg: "together with a new user namespace is not supported yet"},
		{name: "userns-with-new-time-namespace-exec-does-not-enter",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.execEntersTimeNS = func() (bool, error) { return false, nil }
				s.Linux.Namespaces = append(s.Linux.Namespaces,
					specs.LinuxNamespace{Type: specs.UserNamespace},
					specs.LinuxNamespace{Type: specs.TimeNamespace})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
			},
			want: []string{"error linux.namespaces[6].type"}, msg: "this kernel's execve does not enter a time namespace"},
		{name: "userns-with-new-time-namespace-exec-enters",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.execEntersTimeNS = func() (bool, error) { return true, nil }
				s.Linux.Namespaces = append(s.Linux.Namespaces,
					specs.LinuxNamespace{Type: specs.UserNamespace},
					specs.LinuxNamespace{Type: specs.TimeNamespace})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
			}},
		{name: "idmap-mount",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/tmp", Options: []string{"rbind", "ridmap"}, UIDMappings: m, GIDMappings: m})
			}},
		{name: "idmap-with-container-mapping",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/tmp", Options: []string{"idmap"}})
			}},
		{name: "idmap-mappings-without-option-on-bind",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/tmp", Options: []string{"bind"}, UIDMappings: m, GIDMappings: m})
			}},
		{name: "idmap-mappings-without-option-on-rbind",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/tmp", Options: []string{"rbind"}, UIDMappings: m, GIDMappings: m})
			},
			want: []string{"warning mounts[7].options"}, msg: "hull maps the rbind's top mount only"},
		{name: "idmap-uid-mappings-only",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/tmp", Options: []string{"bind", "idmap"}, UIDMappings: m})
			},
			want: []string{"error mounts[7].gidMappings"}, msg: "missing: the mount has uidMappings"},
		{name: "idmap-gid-mappings-only",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/tmp", GIDMappings: m})
			},
			want: []string{"error mounts[7].uidMappings"}, msg: "missing: the mount has gidMappings"},
		{name: "idmap-on-proc",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Mounts[0].Options = []string{"nosuid", "idmap"}
				s.Mounts[0].UIDMappings, s.Mounts[0].GIDMappings = m, m
			},
			want: []string{"error mounts[0].options[1]"}, msg: `id-mapped mounts are only supported for bind mounts, not type "proc"`},
		{name: "idmap-mappings-on-tmpfs",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", UIDMappings: m, GIDMappings: m})
			},
			want: []string{"error mounts[7].uidMappings"}, msg: `not type "tmpfs"`},
		{name: "idmap-outside-initial-userns",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.inInitialUserNS = func() bool { return false }
				m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Source: "/tmp", Options: []string{"rbind", "idmap"}, UIDMappings: m, GIDMappings: m})
			},
			want: []string{"error mounts[7].options[1]"}, msg: "id-mapped mounts need hull to run in the host's initial user namespace"},
		{name: "no-idmap-outside-initial-userns",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				h.inInitialUserNS = func() bool { return false }
			}},
		{name: "hook-in-rootfs-not-executable",
			mutate: func(t *testing.T, s *specs.Spec, _ *host, b string) {
				if err := os.WriteFile(filepath.Join(b, "rootfs", "hook"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/hook"}}}
			},
			want: []string{"error hooks.startContainer[0].path"}, msg: "/hook is not executable in the container's root filesystem: start would fail"},
		{name: "hook-directory",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, b string) {
				s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: b}}}
			},
			want: []string{"warning hooks.poststart[0].path"}, msg: "is not a regular file on the host"},
		{name: "program-in-mounted-dir",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/opt", Type: "tmpfs", Source: "tmpfs"})
				s.Process.Env = []string{"PATH=/opt/bin"}
				s.Process.Args = []string{"app"}
			}},
		{name: "program-denied-then-missing",
			mutate: func(t *testing.T, s *specs.Spec, _ *host, b string) {
				if err := os.WriteFile(filepath.Join(b, "rootfs", "tmp", "app"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				s.Process.Env = []string{"PATH=/tmp:/bin"}
				s.Process.Args = []string{"app"}
			},
			want: []string{"error process.args[0]"}, msg: `exec: "app": permission denied (/tmp/app: `},
		{name: "program-found-after-denied",
			mutate: func(t *testing.T, s *specs.Spec, _ *host, b string) {
				if err := os.WriteFile(filepath.Join(b, "rootfs", "tmp", "sh"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				s.Process.Env = []string{"PATH=/tmp:/bin"}
			}},
		{name: "program-through-dotdot-symlink",
			// ../../.. stops at the rootfs's root: bin/sh is found there.
			mutate: func(t *testing.T, s *specs.Spec, _ *host, b string) {
				if err := os.Symlink("../../../../../../bin/sh", filepath.Join(b, "rootfs", "tmp", "sh2")); err != nil {
					t.Fatal(err)
				}
				s.Process.Args = []string{"/tmp/sh2"}
			}},
		{name: "cwd-through-symlink-to-file",
			mutate: func(t *testing.T, s *specs.Spec, _ *host, b string) {
				if err := os.Symlink("/bin/sh", filepath.Join(b, "rootfs", "work")); err != nil {
					t.Fatal(err)
				}
				s.Process.Cwd = "/work"
			},
			want: []string{"error process.cwd"}, msg: "/work is not a directory"},
		{name: "seccomp-warnings-and-error",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
					{Names: []string{"nosuch1"}, Action: specs.ActAllow},
					{Names: []string{"read"}, Action: "SCMP_ACT_BAD"},
				}}
			},
			want: []string{"error linux.seccomp.syscalls[1].action"}, msg: `unknown action "SCMP_ACT_BAD"`},
		{name: "seccomp-unknown-syscall",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
					{Names: []string{"read", "nosuch1"}, Action: specs.ActAllow},
				}}
			},
			want: []string{"warning linux.seccomp.syscalls[0].names[1]"}, msg: `unknown syscall "nosuch1"`},
		{name: "seccomp-listener-not-a-socket",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, b string) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: b,
					Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
			},
			want: []string{"error linux.seccomp.listenerPath"}, msg: "is not a unix socket"},
		{name: "resources-error-and-warnings",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				w, sw := uint16(5), uint64(10)
				s.Linux.Resources = &specs.LinuxResources{
					Memory:  &specs.LinuxMemory{Swappiness: &sw},
					BlockIO: &specs.LinuxBlockIO{Weight: &w},
				}
			},
			want: []string{"warning linux.resources.memory.swappiness", "error linux.resources.blockIO.weight"},
			msg:  "cgroup v2 has no per-cgroup swappiness, so it is ignored"},
		{name: "no-cgroup2",
			mutate: func(_ *testing.T, _ *specs.Spec, h *host, _ string) {
				h.cgroupMount = func() (string, error) { return "", errors.New("find cgroup2 mount: none") }
			},
			want: []string{"error linux.cgroupsPath"}, msg: "find cgroup2 mount: none"},
		{name: "bad-cgroups-path",
			mutate: func(_ *testing.T, s *specs.Spec, h *host, _ string) {
				s.Linux.CgroupsPath = "../x"
				h.cgroupPath = func(p, _ string) (string, error) {
					return "", fmt.Errorf("linux.cgroupsPath %q: climbs out", p)
				}
			},
			want: []string{"error linux.cgroupsPath"}, msg: "climbs out"},
		{name: "device-rule-without-access",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true}}}
			},
			want: []string{"error linux.resources.devices[1].access"}, msg: "missing"},
		// Huge values (a config may be 16 MiB) are cut in the findings; the
		// loop below checks the length of every one.
		{name: "huge-path-env",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Process.Args = []string{"nosuch"}
				s.Process.Env = []string{"PATH=" + strings.Repeat("/nowhere:", 1<<12)}
			},
			want: []string{"error process.args[0]"}, msg: "executable file not found in $PATH"},
		{name: "huge-hook-path",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/" + huge}}}
			},
			want: []string{"error hooks.createRuntime[0].path"}, msg: "file name too long"},
		{name: "huge-namespace-path",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Namespaces[1].Path = "/" + huge
			},
			want: []string{"error linux.namespaces[1].path"}, msg: "file name too long"},
		{name: "huge-mount-type",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				m := specs.LinuxIDMapping{ContainerID: 0, HostID: 1000, Size: 1}
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: huge, Source: "x",
					Options: []string{"idmap"}, UIDMappings: []specs.LinuxIDMapping{m}, GIDMappings: []specs.LinuxIDMapping{m}})
			},
			want: []string{"error mounts[7].options[0]"}, msg: "only supported for bind mounts"},
		{name: "huge-listener-path",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/" + huge,
					Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
			},
			want: []string{"error linux.seccomp.listenerPath"}, msg: "a unix socket path has at most 107"},
		{name: "huge-seccomp-values",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.LinuxSeccompAction(huge)}
			},
			want: []string{"error linux.seccomp.defaultAction"}, msg: "unknown action"},
		{name: "huge-unknown-syscall",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
					Syscalls: []specs.LinuxSyscall{{Names: []string{huge}, Action: specs.ActErrno}}}
			},
			want: []string{"warning linux.seccomp.syscalls[0].names[0]"}, msg: "unknown syscall"},
		{name: "huge-unified-key",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Resources = &specs.LinuxResources{Unified: map[string]string{"memory." + huge: "1"}}
			},
			want: []string{"error linux.resources.unified"}, msg: "longer than"},
		{name: "huge-rdma-name",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				n := uint32(1)
				s.Linux.Resources = &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{huge: {HcaHandles: &n}}}
			},
			want: []string{"error linux.resources.rdma"}, msg: "longer than"},
		{name: "huge-page-size",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Resources = &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: huge}}}
			},
			want: []string{"error linux.resources.hugepageLimits[0].pageSize"}, msg: "is not a size"},
		{name: "huge-device-access",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Access: "rw" + huge}}}
			},
			want: []string{"error linux.resources.devices[0].access"}, msg: "is not one of r, w, m"},
		{name: "realtime-fix-from-message",
			mutate: func(_ *testing.T, s *specs.Spec, _ *host, _ string) {
				rt := int64(10)
				s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: &rt}}
			},
			want: []string{"error linux.resources.cpu.realtimeRuntime/realtimePeriod"}, msg: "realtime CPU bandwidth is not supported on cgroup v2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bundle, s := testBundle(t)
			mount := t.TempDir()
			h := fakeHost(mount)
			if tc.mutate != nil {
				tc.mutate(t, s, h, bundle)
			}
			got := newChecker(s, bundle, h).run()
			if !slices.Equal(fields(got), tc.want) {
				t.Fatalf("findings %.500q, want %q", fields(got), tc.want)
			}
			if tc.msg != "" && !strings.Contains(got[0].Message, tc.msg) {
				t.Errorf("first finding %.500q does not contain %q", got[0].String(), tc.msg)
			}
			for _, f := range got {
				if f.Message == "" || f.Fix == "" {
					t.Errorf("finding without message or fix: %.300s", f.String())
				}
				if n := len(f.String()); n > maxFindingLen {
					t.Errorf("finding of %d bytes, want at most %d: %.300s...", n, maxFindingLen, f.String())
				}
			}
		})
	}
}

// TestControllers works out the controllers of a cgroup from a fake cgroup2
// tree: hull enables what is needed only in the ancestors it made or will make
// and in the parent.
func TestControllers(t *testing.T) {
	type dir struct {
		controllers, subtree, procs string
		hull                        bool
	}
	tests := []struct {
		name      string
		dirs      map[string]dir // below the mount; "" is the root
		path      string
		want      []string // controllers needed
		have      []string
		missingAt string
	}{
		{name: "root-passes-nothing",
			dirs: map[string]dir{"": {controllers: "cpu memory hugetlb", subtree: ""}},
			path: "c", want: []string{"memory"}, have: nil, missingAt: ""},
		{name: "new-ancestors-get-what-root-passes",
			dirs: map[string]dir{"": {controllers: "cpu memory pids", subtree: "cpu memory"}},
			path: "a/b/c", want: []string{"memory", "pids"}, have: []string{"memory"}, missingAt: ""},
		{name: "foreign-ancestor-is-not-changed",
			dirs: map[string]dir{
				"":    {controllers: "cpu memory pids", subtree: "cpu memory pids"},
				"a":   {controllers: "cpu memory pids", subtree: "cpu"},
				"a/b": {controllers: "cpu", subtree: ""},
			},
			path: "a/b/c", want: []string{"memory", "cpu"}, have: []string{"cpu"}, missingAt: "a"},
		// kubelet's cgroupfs driver: the pod's cgroup has the controllers but
		// leaves them to the runtime to enable for its containers.
		{name: "foreign-parent-gets-enabled",
			dirs: map[string]dir{
				"":    {controllers: "cpu memory pids", subtree: "cpu memory pids"},
				"a":   {controllers: "cpu memory pids", subtree: "cpu memory pids"},
				"a/b": {controllers: "cpu memory pids", subtree: ""},
			},
			path: "a/b/c", want: []string{"memory", "pids"}, have: []string{"memory", "pids"}, missingAt: "a"},
		{name: "foreign-parent-with-processes-is-not-changed",
			dirs: map[string]dir{
				"":    {controllers: "cpu memory pids", subtree: "cpu memory pids"},
				"a":   {controllers: "cpu memory pids", subtree: "cpu memory pids"},
				"a/b": {controllers: "cpu memory pids", subtree: "", procs: "42"},
			},
			path: "a/b/c", want: []string{"memory"}, have: nil, missingAt: "a/b"},
		{name: "hull-ancestor-gets-enabled",
			dirs: map[string]dir{
				"":  {controllers: "cpu memory pids", subtree: "cpu memory pids"},
				"a": {controllers: "cpu memory pids", subtree: "", hull: true},
			},
			path: "a/b/c", want: []string{"memory", "pids"}, have: []string{"memory", "pids"}, missingAt: ""},
		{name: "hull-ancestor-below-foreign-one",
			dirs: map[string]dir{
				"":    {controllers: "cpu memory pids", subtree: "cpu memory pids"},
				"a":   {controllers: "cpu memory pids", subtree: "memory"},
				"a/b": {controllers: "memory", subtree: "", hull: true},
			},
			path: "a/b/c", want: []string{"memory", "pids"}, have: []string{"memory"}, missingAt: "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mount := t.TempDir()
			made := map[string]bool{}
			for rel, d := range tc.dirs {
				p := filepath.Join(mount, rel)
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
				for name, v := range map[string]string{"cgroup.controllers": d.controllers, "cgroup.subtree_control": d.subtree, "cgroup.procs": d.procs} {
					if err := os.WriteFile(filepath.Join(p, name), []byte(v+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				made[p] = d.hull
			}
			h := fakeHost(mount)
			h.hullMade = func(dir string) bool { return made[dir] }
			var needs []need
			for _, w := range tc.want {
				needs = append(needs, need{field: "x", controller: w})
			}
			c := newChecker(&specs.Spec{}, t.TempDir(), h)
			have, at := c.controllers(mount, filepath.Join(mount, tc.path), needs)
			want := slices.Clone(tc.have)
			slices.Sort(want)
			if !slices.Equal(have, want) {
				t.Errorf("have %q, want %q", have, want)
			}
			if wantAt := filepath.Join(mount, tc.missingAt); at != wantAt {
				t.Errorf("missing at %s, want %s", at, wantAt)
			}
		})
	}
}

// TestCgroupFindings: each controller the cgroup lacks is one error, on the
// first field needing it, in the cgroups package's order.
func TestCgroupFindings(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		name      string
		subtree   string
		resources *specs.LinuxResources
		want      []string
	}{
		{name: "none-needed", resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}},
		{name: "all-there", subtree: "memory pids cpu",
			resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}, Pids: &specs.LinuxPids{Limit: i64(10)}}},
		{name: "one-error-per-controller",
			resources: &specs.LinuxResources{
				Memory: &specs.LinuxMemory{Limit: i64(1 << 20), Reservation: i64(1 << 19)},
				Pids:   &specs.LinuxPids{Limit: i64(10)},
				CPU:    &specs.LinuxCPU{Cpus: "0"},
			},
			want: []string{"linux.resources.memory.limit memory", "linux.resources.cpu.cpus cpuset", "linux.resources.pids.limit pids"}},
		{name: "unified-keys", subtree: "memory",
			resources: &specs.LinuxResources{Unified: map[string]string{"memory.high": "1", "io.max": "x", "cgroup.max.depth": "2"}},
			want:      []string{`linux.resources.unified["io.max"] io`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mount := t.TempDir()
			if err := os.WriteFile(filepath.Join(mount, "cgroup.subtree_control"), []byte(tc.subtree), 0o644); err != nil {
				t.Fatal(err)
			}
			s := &specs.Spec{Linux: &specs.Linux{Resources: tc.resources}}
			c := newChecker(s, t.TempDir(), fakeHost(mount))
			c.resources()
			var got []string
			for _, f := range c.findings {
				ctrl, _, _ := strings.Cut(f.Message, " ")
				got = append(got, f.Field+" "+ctrl)
				if f.Severity != SeverityError {
					t.Errorf("not an error: %s", f)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLoadFailure: an unreadable config.json is one error finding whose text
// is config.Load's error, the one create fails with.
func TestLoadFailure(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string
		msg   string
	}{
		{name: "no-bundle", setup: func(_ *testing.T, dir string) string { return filepath.Join(dir, "nope") }, msg: "does not exist"},
		{name: "no-config", setup: func(_ *testing.T, dir string) string { return dir }, msg: "config.json not found"},
		{name: "bad-json", setup: func(t *testing.T, dir string) string {
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{\n  \"ociVersion\": 1\n}"), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}, msg: "wrong type for ociVersion at line 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bundle := tc.setup(t, t.TempDir())
			fs, err := Bundle(bundle)
			if err == nil {
				t.Fatalf("no error; findings %v", fs)
			}
			if len(fs) != 1 || fs[0].Severity != SeverityError || fs[0].Field != "" {
				t.Fatalf("findings %#v, want one error without a field", fs)
			}
			if !strings.Contains(fs[0].Message, tc.msg) || fs[0].Fix == "" {
				t.Errorf("finding %#v: want a message with %q and a fix", fs[0], tc.msg)
			}
			if fs[0].Error() != err.Error() {
				t.Errorf("finding text %q is not the load error %q", fs[0].Error(), err)
			}
		})
	}
}

func TestForCreate(t *testing.T) {
	bundle, s := testBundle(t)
	if w, err := ForCreate(s, bundle, nil, Create{ConsoleSocket: true}); err != nil || len(w) != 0 {
		t.Fatalf("clean spec: warnings %v, error %v", w, err)
	}
	s.Process.Capabilities.Ambient = []string{"CAP_KILL"}
	w, err := ForCreate(s, bundle, nil, Create{ConsoleSocket: true})
	if err != nil || len(w) != 1 || w[0].Field != "process.capabilities.ambient[0]" || w[0].Severity != SeverityWarning {
		t.Fatalf("got warnings %v, error %v; want the one ambient warning", w, err)
	}
	s.Process.Cwd = "/missing"
	w, err = ForCreate(s, bundle, nil, Create{ConsoleSocket: true})
	f, ok := err.(*Finding)
	if !ok || f.Field != "process.cwd" {
		t.Fatalf("got %#v, want the process.cwd finding", err)
	}
	if w != nil {
		t.Errorf("warnings %v returned with an error: create logs none when it fails", w)
	}
	want := "process.cwd: /missing does not exist in the container's root filesystem; " + f.Fix
	if err.Error() != want || f.String() != "error: "+want {
		t.Errorf("text %q / %q, want %q", err.Error(), f.String(), want)
	}
}

func TestOutput(t *testing.T) {
	e := Finding{Field: "a.b", Severity: SeverityError, Message: "bad", Fix: "fix it"}
	w := Finding{Field: "c", Severity: SeverityWarning, Message: "odd", Fix: "look"}
	tests := []struct {
		name     string
		findings []Finding
		status   int
		text     string
	}{
		{name: "none", status: 0, text: ""},
		{name: "warning", findings: []Finding{w}, status: 2, text: "warning: c: odd; look\n"},
		{name: "error-after-warning", findings: []Finding{w, e}, status: 1, text: "warning: c: odd; look\nerror: a.b: bad; fix it\n"},
		{name: "no-field", findings: []Finding{{Severity: SeverityError, Message: "m", Fix: "f"}}, status: 1, text: "error: m; f\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Status(tc.findings); got != tc.status {
				t.Errorf("status %d, want %d", got, tc.status)
			}
			var b bytes.Buffer
			if err := WriteText(&b, tc.findings); err != nil || b.String() != tc.text {
				t.Errorf("text %q (%v), want %q", b.String(), err, tc.text)
			}
			b.Reset()
			if err := WriteJSON(&b, tc.findings); err != nil {
				t.Fatal(err)
			}
			var back []map[string]string
			if err := json.Unmarshal(b.Bytes(), &back); err != nil || back == nil || len(back) != len(tc.findings) {
				t.Fatalf("json %q: %v", b.String(), err)
			}
			for i, f := range tc.findings {
				want := map[string]string{"field": f.Field, "severity": string(f.Severity), "message": f.Message, "fix": f.Fix}
				if len(back[i]) != 4 || back[i]["field"] != want["field"] || back[i]["severity"] != want["severity"] ||
					back[i]["message"] != want["message"] || back[i]["fix"] != want["fix"] {
					t.Errorf("json element %d: %v, want %v", i, back[i], want)
				}
			}
		})
	}
}

func TestParseCaps(t *testing.T) {
	tests := []struct {
		status        string
		bnd, prm, eff uint64
		ok            bool
	}{
		{"Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t0000000000000001\nCapBnd:\t000001fffeffffff\n",
			0x1fffeffffff, 0x1fffeffffff, 1, true},
		{"CapPrm:\t0\nCapEff:\t0\n", 0, 0, 0, false},
		{"CapPrm:\tzz\nCapEff:\t0\nCapBnd:\t0\n", 0, 0, 0, false},
	}
	for _, tc := range tests {
		bnd, prm, eff, ok := parseCaps([]byte(tc.status))
		if bnd != tc.bnd || prm != tc.prm || eff != tc.eff || ok != tc.ok {
			t.Errorf("parseCaps(%q) = %x %x %x %v, want %x %x %x %v", tc.status, bnd, prm, eff, ok, tc.bnd, tc.prm, tc.eff, tc.ok)
		}
	}
}

func TestSplitField(t *testing.T) {
	tests := []struct{ in, def, field, msg string }{
		{"linux.seccomp.syscalls[0].names[1]: unknown syscall", "linux.seccomp", "linux.seccomp.syscalls[0].names[1]", "unknown syscall"},
		{`linux.resources.unified["a b"]: not: a name`, "linux.resources", "linux.resources", `linux.resources.unified["a b"]: not: a name`},
		{`linux.resources.rdma["mlx"]: set hcaHandles`, "linux.resources", `linux.resources.rdma["mlx"]`, "set hcaHandles"},
		{"something else: entirely", "linux.resources", "linux.resources", "something else: entirely"},
	}
	for _, tc := range tests {
		f, m := splitField(tc.in, tc.def)
		if f != tc.field || m != tc.msg {
			t.Errorf("splitField(%q) = %q, %q; want %q, %q", tc.in, f, m, tc.field, tc.msg)
		}
	}
}

// TestCreateFindings: what depends on how create was asked is part of the same
// pass, after the config's own findings, with create's texts; `hull check` is
// asked nothing of it and prints none.
func TestCreateFindings(t *testing.T) {
	const noTTY = "cannot allocate tty if hull will detach without setting console socket"
	const noSocket = "cannot use console socket if hull will not detach or allocate tty"
	tests := []struct {
		name   string
		change func(*specs.Spec, *host)
		o      Create
		want   string // create's error, "" for none
	}{
		{"clean", nil, Create{}, ""},
		{"no linux", func(s *specs.Spec, _ *host) {
			// What ValidateAll would refuse without a mount namespace goes too.
			s.Linux, s.Mounts, s.Hostname, s.Root.Readonly = nil, nil, "", false
		}, Create{}, "linux: missing; config.json must have a linux section with the namespaces to create"},
		{"not root", func(_ *specs.Spec, h *host) { h.effectiveUID = func() int { return 1000 } }, Create{}, "rootless containers are not supported yet: run hull as root"},
		{"systemd path", func(s *specs.Spec, _ *host) { s.Linux.CgroupsPath = "system.slice:hull:x" }, Create{SystemdCgroup: true}, ""},
		{"systemd flag, empty path", func(s *specs.Spec, _ *host) { s.Linux.CgroupsPath = "" }, Create{SystemdCgroup: true}, ""},
		// As runc: under --systemd-cgroup a path must be slice:prefix:name.
		{"systemd flag, cgroupfs path", func(s *specs.Spec, _ *host) { s.Linux.CgroupsPath = "/hull/x" }, Create{SystemdCgroup: true},
			`linux.cgroupsPath "/hull/x": with --systemd-cgroup it must have the form slice:prefix:name (e.g. system.slice:hull:<id>); drop --systemd-cgroup to use a cgroupfs path`},
		{"systemd flag, bad slice", func(s *specs.Spec, _ *host) { s.Linux.CgroupsPath = "a--b.slice:hull:x" }, Create{SystemdCgroup: true},
			`linux.cgroupsPath "a--b.slice:hull:x": slice "a--b.slice" has an empty part between dashes; name a systemd slice such as system.slice or machine-pods.slice`},
		{"systemd flag, bad property annotation", func(s *specs.Spec, _ *host) {
			s.Linux.CgroupsPath = "system.slice:hull:x"
			s.Annotations = map[string]string{"org.systemd.property.Bad1": "true"}
		}, Create{SystemdCgroup: true},
			`annotations["org.systemd.property.Bad1"]: the systemd property name "Bad1" has '1', not a letter; use letters only, e.g. org.systemd.property.TimeoutStopUSec`},
		{"property annotations without the flag", func(s *specs.Spec, _ *host) {
			s.Annotations = map[string]string{"org.systemd.property.Bad1": "true"}
		}, Create{}, ""},
		{"colons without the flag", func(s *specs.Spec, _ *host) { s.Linux.CgroupsPath = "system.slice:hull:x" }, Create{}, ""},
		{"terminal without a socket", func(s *specs.Spec, _ *host) { s.Process.Terminal = true }, Create{}, noTTY},
		{"terminal with a socket", func(s *specs.Spec, _ *host) { s.Process.Terminal = true }, Create{ConsoleSocket: true}, ""},
		{"terminal relayed by run", func(s *specs.Spec, _ *host) { s.Process.Terminal = true }, Create{ConsoleRelay: true}, ""},
		{"socket without a terminal", nil, Create{ConsoleSocket: true}, noSocket},
		{"the config's errors first", func(s *specs.Spec, _ *host) { s.Process.Terminal, s.Process.Cwd = true, "rel" }, Create{},
			`process.cwd: "rel" is not absolute; use an absolute path inside the container, e.g. "/"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bundle, s := testBundle(t)
			s.Process.Terminal = false
			h := fakeHost(t.TempDir())
			if tc.change != nil {
				tc.change(s, h)
			}
			c := newChecker(s, bundle, h)
			_, err := c.forCreate(tc.o)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("create's error %q\nwant %q", got, tc.want)
			}
			// `hull check` runs the config's part alone.
			for _, f := range newChecker(s, bundle, h).run() {
				if tc.want != "" && f.Error() == tc.want && !strings.HasPrefix(tc.want, "process.") {
					t.Errorf("hull check reports create's own finding %q", f.Error())
				}
			}
		})
	}
}

// TestLSMFindings: what lsm.Check refuses is an error, what lsm.Warnings says
// (SELinux permissive: applied, not enforced) a warning that create logs and
// goes on with.
func TestLSMFindings(t *testing.T) {
	bundle, s := testBundle(t)
	s.Process.SelinuxLabel = "system_u:system_r:svirt_t:s0:c1,c2"
	s.Linux.MountLabel = "system_u:object_r:svirt_image_t:s0:c1,c2"
	h := fakeHost(t.TempDir())
	h.lsm = func(_, sl, ml string) []*config.Error { return nil }
	h.lsmWarnings = func(sl, ml string) []*config.Error {
		return []*config.Error{{Field: "process.selinuxLabel", Msg: "permissive " + sl}, {Field: "linux.mountLabel", Msg: "permissive " + ml}}
	}
	c := newChecker(s, bundle, h)
	w, err := c.forCreate(Create{ConsoleSocket: true})
	if err != nil || len(w) != 2 || w[0].Severity != SeverityWarning || w[1].Field != "linux.mountLabel" ||
		w[0].Message != "permissive "+s.Process.SelinuxLabel {
		t.Fatalf("permissive: warnings %v, error %v; want the two label warnings", w, err)
	}
	// A refused label is reported as the error alone, not also as a warning.
	h.lsm = func(_, sl, ml string) []*config.Error {
		return []*config.Error{{Field: "process.selinuxLabel", Msg: "invalid " + sl}}
	}
	c = newChecker(s, bundle, h)
	findings := c.run()
	var got []string
	for _, f := range findings {
		got = append(got, string(f.Severity)+" "+f.Field)
	}
	if strings.Join(got, ", ") != "error process.selinuxLabel, warning linux.mountLabel" {
		t.Errorf("findings %v, want the selinuxLabel error and the mountLabel warning", got)
	}
}
