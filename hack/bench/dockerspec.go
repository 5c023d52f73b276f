package main

// The "docker-default" bundle: the config.json Docker 28 hands its runtime for
// `docker run busybox true`, written here from what moby's daemon puts in it by
// default (daemon/pkg/oci/defaults.go, daemon/oci_linux.go: capabilities,
// mounts, masked and read-only paths, namespaces, sysctls, device rules, empty
// resource objects, oomScoreAdj) plus a seccomp profile in Docker's own file
// format, converted the way dockerd converts it. No Docker engine runs on this
// machine kind, so the config cannot be captured from dockerd; dockerNotes
// lists every place where the bundle differs from what dockerd would send.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// dockerCaps is Docker's default capability set (moby's caps.DefaultCapabilities).
// Since Docker 25 the inheritable set is left empty, so are the ambient ones.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// dockerMasked is Docker's list; dockerMaskedPaths adds, as dockerd does, the
// thermal_throttle directory of every possible CPU that has one.
var dockerMasked = []string{
	"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
	"/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
}

var dockerReadonly = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// dockerID stands for the 64-hex container id: the hostname is its first 12.
const dockerID = "d0cce7d0cce7d0cce7d0cce7d0cce7d0cce7d0cce7d0cce7d0cce7d0cce7d0cc"

// Where the seccomp profile comes from, in the order bench.sh looks for it. First
// Docker's own default profile, in the source of Debian's docker.io 20.10: bench.sh
// extracts only usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json
// from the .deb of golang-github-docker-docker-dev (the package's dependencies are not
// installed) and passes it as -seccomp-profile.
const (
	// podman's default (containers-common), derived from Docker's: its default
	// action returns ENOSYS rather than EPERM, with an EPERM list of known
	// syscalls instead, and it has no clone/clone3 argument rules.
	podmanProfile = "/usr/share/containers/seccomp.json"
)

// dockerProfile is the file format of Docker's seccomp profiles, which
// containers-common's profile shares.
type dockerProfile struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet,omitempty"`
	ArchMap         []struct {
		Arch specs.Arch   `json:"architecture"`
		Sub  []specs.Arch `json:"subArchitectures"`
	} `json:"archMap"`
	Syscalls []struct {
		Name     string                   `json:"name"` // the format before Docker 1.13
		Names    []string                 `json:"names"`
		Action   specs.LinuxSeccompAction `json:"action"`
		ErrnoRet *uint                    `json:"errnoRet,omitempty"`
		Args     []specs.LinuxSeccompArg  `json:"args"`
		Includes dockerFilter             `json:"includes"`
		Excludes dockerFilter             `json:"excludes"`
	} `json:"syscalls"`
}

type dockerFilter struct {
	Caps      []string `json:"caps"`
	Arches    []string `json:"arches"`
	MinKernel string   `json:"minKernel"`
}

var seccompArch = map[string]specs.Arch{
	"amd64": specs.ArchX86_64, "arm64": specs.ArchAARCH64, "386": specs.ArchX86,
	"arm": specs.ArchARM, "ppc64le": specs.ArchPPC64LE, "s390x": specs.ArchS390X,
	"riscv64": specs.ArchRISCV64,
}

// kernelAtLeast compares the major.minor of two kernel versions.
func kernelAtLeast(have, want string) bool {
	parse := func(s string) (int, int) {
		f := strings.SplitN(s, ".", 3)
		num := func(i int) int {
			n := 0
			for _, c := range f[min(i, len(f)-1)] {
				if c < '0' || c > '9' {
					break
				}
				n = n*10 + int(c-'0')
			}
			if i >= len(f) {
				return 0
			}
			return n
		}
		return num(0), num(1)
	}
	hMaj, hMin := parse(have)
	wMaj, wMin := parse(want)
	return hMaj > wMaj || hMaj == wMaj && hMin >= wMin
}

// ociSeccomp turns a Docker-format profile into linux.seccomp the way dockerd
// does for a container: the native architecture with its sub-architectures, and
// only the rules whose includes hold (every listed capability in the bounding
// set, the architecture listed, the kernel new enough) and whose excludes do not
// (no listed capability in the set, the architecture not listed).
func ociSeccomp(data []byte, goarch, kernel string, bounding []string) (*specs.LinuxSeccomp, error) {
	var p dockerProfile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	if p.DefaultAction == "" || len(p.Syscalls) == 0 {
		return nil, errors.New("not a seccomp profile in Docker's format (no defaultAction or syscalls)")
	}
	native, ok := seccompArch[goarch]
	if !ok {
		return nil, fmt.Errorf("no seccomp architecture known for GOARCH %s", goarch)
	}
	s := &specs.LinuxSeccomp{DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet}
	for _, a := range p.ArchMap {
		if a.Arch == native {
			s.Architectures = append([]specs.Arch{a.Arch}, a.Sub...)
		}
	}
	for _, r := range p.Syscalls {
		if len(r.Includes.Arches) > 0 && !slices.Contains(r.Includes.Arches, goarch) ||
			slices.Contains(r.Excludes.Arches, goarch) ||
			r.Includes.MinKernel != "" && !kernelAtLeast(kernel, r.Includes.MinKernel) ||
			r.Excludes.MinKernel != "" && kernelAtLeast(kernel, r.Excludes.MinKernel) {
			continue
		}
		if slices.ContainsFunc(r.Includes.Caps, func(c string) bool { return !slices.Contains(bounding, c) }) ||
			slices.ContainsFunc(r.Excludes.Caps, func(c string) bool { return slices.Contains(bounding, c) }) {
			continue
		}
		names := r.Names
		if r.Name != "" {
			names = append([]string{r.Name}, names...)
		}
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: names, Action: r.Action, ErrnoRet: r.ErrnoRet, Args: r.Args})
	}
	return s, nil
}

// dockerMaskedPaths is dockerMasked plus /sys/devices/system/cpu/cpuN/thermal_throttle
// for the possible CPUs where it exists.
func dockerMaskedPaths() []string {
	out := slices.Clone(dockerMasked)
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return out
	}
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		lo, hi, found := strings.Cut(r, "-")
		a, err1 := strconv.Atoi(lo)
		z, err2 := strconv.Atoi(hi)
		if !found {
			z, err2 = a, nil
		}
		if err1 != nil || err2 != nil {
			continue
		}
		for c := a; c <= z; c++ {
			p := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/thermal_throttle", c)
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

func i64(v int64) *int64 { return &v }

// dockerSpec is the config of `docker run busybox true` on a cgroup v2 host with
// the default bridge network, apart from what dockerNotes says. files is the
// directory of the container's hosts, hostname and resolv.conf (dockerd keeps
// them in /var/lib/docker/containers/ID).
func dockerSpec(rootfs, files string, seccomp *specs.LinuxSeccomp) *specs.Spec {
	oom := 0
	var blkioWeight uint16
	hostname := dockerID[:12]
	bind := func(name string) specs.Mount {
		return specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: filepath.Join(files, name), Options: []string{"rbind", "rprivate"}}
	}
	allow := func(major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(major), Minor: i64(minor), Access: "rwm"}
	}
	return &specs.Spec{
		// Docker 28 vendors runtime-spec 1.2.
		Version: "1.2.0",
		Process: &specs.Process{
			User: specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0, 10}}, // busybox's root is in wheel
			Args: []string{"true"},
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=" + hostname},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: dockerCaps, Effective: dockerCaps, Permitted: dockerCaps,
			},
			OOMScoreAdj: &oom,
		},
		Root:     &specs.Root{Path: rootfs},
		Hostname: hostname,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}},
			bind("resolv.conf"), bind("hostname"), bind("hosts"),
		},
		Linux: &specs.Linux{
			// Set only where a new network namespace is made, as here.
			Sysctl: map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{
					{Allow: false, Access: "rwm"},
					allow(1, 5), allow(1, 3), allow(1, 9), allow(1, 8), allow(5, 0), allow(5, 1),
					{Allow: false, Type: "c", Major: i64(10), Minor: i64(229), Access: "rwm"},
				},
				// dockerd always sends these objects; with no --memory, --cpus or
				// --blkio-weight they ask for nothing (weight 0 means unset to runc).
				Memory:  &specs.LinuxMemory{},
				CPU:     &specs.LinuxCPU{},
				BlockIO: &specs.LinuxBlockIO{Weight: &blkioWeight},
			},
			CgroupsPath: "system.slice:docker:" + dockerID, // replaced per container by the harness
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.CgroupNamespace}, // private by default on a cgroup v2 host
			},
			Devices:       []specs.LinuxDevice{},
			Seccomp:       seccomp,
			MaskedPaths:   dockerMaskedPaths(),
			ReadonlyPaths: dockerReadonly,
		},
	}
}

// dockerNotes says where the docker-default bundle differs from dockerd's.
func dockerNotes(profileDesc string) []string {
	return []string{
		"seccomp: " + profileDesc + ", converted as dockerd does (native architecture and its sub-architectures; rules kept by their caps/arches/minKernel conditions for Docker's default capabilities).",
		"left out: the prestart hook dockerd adds to plumb the bridge network (it re-executes dockerd, `libnetwork-setkey`): no dockerd here, so the new network namespace holds only lo; the AppArmor profile docker-default, which dockerd sets only where the host has AppArmor (this one has none).",
		"cgroups: linux.cgroupsPath is the bench's own directory (dockerd: system.slice:docker:ID with the systemd driver); the device rules and the empty memory and cpu objects dockerd sends are kept (the device rules are an eBPF program, which needs no controller); **blockIO {weight: 0} is dropped**: it asks for nothing, but crun refuses it where the io controller is not enabled, and this hybrid host's cgroup2 tree has no controllers. dockerd sets no limit by default, so no limit is lost.",
		"root: a plain directory with static busybox (dockerd: the image's overlay mount), read-write as by default; /etc/hosts, /etc/hostname and /etc/resolv.conf are bind-mounted from files the bench writes; no rlimits, as dockerd sends none unless --ulimit or default-ulimits are set.",
	}
}

// writeDockerBundle writes DIR/config.json (and DIR/files/) for the
// docker-default bundle on the minimal bundle's rootfs, with the seccomp
// profile at profilePath.
func writeDockerBundle(dir, rootfs, profilePath string) error {
	data, err := os.ReadFile(profilePath)
	if err != nil {
		return err
	}
	sc, err := ociSeccomp(data, runtime.GOARCH, kernel(), dockerCaps)
	if err != nil {
		return fmt.Errorf("%s: %w", profilePath, err)
	}
	files := filepath.Join(dir, "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		return err
	}
	hostname := dockerID[:12]
	for name, text := range map[string]string{
		"hostname":    hostname + "\n",
		"hosts":       "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n172.17.0.2\t" + hostname + "\n",
		"resolv.conf": "nameserver 192.0.2.53\noptions ndots:0\n",
	} {
		if err := os.WriteFile(filepath.Join(files, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	// Docker's init layer gives every image these mount points.
	for _, name := range []string{"hostname", "hosts", "resolv.conf"} {
		p := filepath.Join(rootfs, "etc", name)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				return err
			}
		}
	}
	spec := dockerSpec(rootfs, files, sc)
	// crun refuses any blockIO object, even weight 0 (unset), where the io
	// controller is not enabled, and no controller is in this hybrid host's
	// cgroup2 tree: dropped for every runtime (dockerNotes says so).
	spec.Linux.Resources.BlockIO = nil
	out, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), out, 0o644)
}
