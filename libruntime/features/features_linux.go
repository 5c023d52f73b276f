// Package features builds the runtime-spec "features" document (features.md,
// features-linux.md) that `hull features` prints: what this build of hull
// recognizes in a config.json, limited to what the running kernel supports
// where hull itself is limited by it (capabilities, namespaces, seccomp flags).
//
// Every claim is tied to the package that implements it: mount options are the
// words config.ParseMountOptions interprets, capabilities the names
// process.CapFromName knows, seccomp the tables of the seccomp package. Features
// hull does not have are reported as false, or as empty lists where the spec
// has no boolean, rather than left out: an absent value means "unknown".
package features

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/opencontainers/runtime-spec/specs-go/features"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/hull-runtime/hull/libruntime/cgroups"
	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/process"
	"github.com/hull-runtime/hull/libruntime/rootfs"
	"github.com/hull-runtime/hull/libruntime/seccomp"
)

// The oldest and newest runtime-spec versions config.ValidateAll accepts as a
// config's ociVersion.
const (
	OCIVersionMin = "1.0.0"
	OCIVersionMax = "1.3.0"
)

// Annotations of hull in the features document, in the style of runc's
// org.opencontainers.runc.* keys.
const (
	AnnotationVersion           = "io.github.hull.version"
	AnnotationCommit            = "io.github.hull.commit"
	AnnotationLibseccompVersion = "io.github.hull.libseccomp.version"
)

// hookNames are the hook kinds hull runs (libruntime/hooks, called from the
// container and init packages), in the order of the container lifecycle.
var hookNames = []string{
	"prestart",
	"createRuntime",
	"createContainer",
	"startContainer",
	"poststart",
	"poststop",
}

// mountOptionWords are the mount options of the runtime-spec (config.md and the
// features.md example) that hull interprets itself rather than passing them to
// the filesystem: flags of mount(2), propagation, the recursive mount_setattr(2)
// forms, bind and tmpcopyup. The unit test checks this list against the words
// of config.ParseMountOptions.
//
// "idmap" and "ridmap" are parsed by config too; they are listed (idmapWords)
// only when id-mapped mounts work here, as mountExtensions.idmap says.
var mountOptionWords = []string{
	"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
	"iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
	"noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
	"nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime",
	"relatime", "remount", "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec",
	"rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate",
	"rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid",
	"rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime",
	"suid", "symfollow", "sync", "tmpcopyup", "unbindable",
}

// idmapWords are the id-mapped mount options (libruntime/rootfs).
var idmapWords = []string{"idmap", "ridmap"}

// Document returns the features of this hull build on this kernel. version
// and commit are hull's own (main's version and gitCommit) and go into the
// annotations.
func Document(version, commit string) *features.Features {
	major, minor, micro := libseccomp.GetLibraryVersion()
	// rootfs makes id-mapped bind mounts; whether the kernel lets hull, as
	// it runs now, apply a mapping is tried once (a detached tmpfs mapped
	// through a new user namespace).
	idmap := rootfs.IDMapSupported()
	opts := append([]string(nil), mountOptionWords...)
	if idmap {
		opts = append(opts, idmapWords...)
		slices.Sort(opts)
	}
	return &features.Features{
		OCIVersionMin: OCIVersionMin,
		OCIVersionMax: OCIVersionMax,
		Hooks:         append([]string(nil), hookNames...),
		MountOptions:  opts,
		Linux: &features.Linux{
			Namespaces:   namespaces(),
			Capabilities: capabilities(process.LastCap()),
			Cgroup: &features.Cgroup{
				// libruntime/cgroups manages cgroup v2 only: through cgroupfs, or
				// (--systemd-cgroup) a systemd scope, where systemd runs and answers.
				V1:          boolp(false),
				V2:          boolp(true),
				Systemd:     boolp(cgroups.SystemdAvailable()),
				SystemdUser: boolp(false),
				Rdma:        boolp(true), // linux.resources.rdma -> rdma.max
			},
			Seccomp: seccomp.Features(),
			// hull applies apparmorProfile, selinuxLabel and mountLabel (libruntime/lsm).
			// features.md: whether the runtime supports them, not whether this host
			// has the module on; a host without it refuses the fields (lsm.Check).
			Apparmor: &features.Apparmor{Enabled: boolp(true)},
			Selinux:  &features.Selinux{Enabled: boolp(true)},
			IntelRdt: &features.IntelRdt{
				Enabled:    boolp(false),
				Schemata:   boolp(false),
				Monitoring: boolp(false),
			},
			// Every mode and flag config.MemoryPolicy takes and init applies with
			// set_mempolicy, whatever this host's NUMA layout (features.md: the
			// host may not support all of them).
			MemoryPolicy: &features.MemoryPolicy{Modes: config.MemoryPolicyModes(), Flags: config.MemoryPolicyFlags()},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: boolp(idmap)},
			},
			NetDevices: &features.NetDevices{Enabled: boolp(true)},
		},
		Annotations: map[string]string{
			AnnotationVersion:           version,
			AnnotationCommit:            commit,
			AnnotationLibseccompVersion: fmt.Sprintf("%d.%d.%d", major, minor, micro),
		},
		// hull changes nothing it does because of a config annotation.
		PotentiallyUnsafeConfigAnnotations: []string{},
	}
}

func boolp(b bool) *bool { return &b }

// capabilities lists the names of capabilities 0 to lastCap, the kernel's last
// one, that hull knows by name; a capability newer than hull has no name here
// and config.ValidateAll would refuse it.
func capabilities(lastCap int) []string {
	var out []string
	for _, name := range process.CapNames() {
		n, err := process.CapFromName(name)
		if err != nil || n > lastCap {
			continue
		}
		out = append(out, name)
	}
	return out
}

// namespaces lists the namespace types whose /proc/self/ns file exists, that
// is which this kernel has. Without a readable /proc/self/ns (no procfs) every
// type hull implements is listed: the kernel then tells at create.
func namespaces() []string {
	if _, err := os.Stat("/proc/self/ns"); err != nil {
		var all []string
		for _, n := range config.Namespaces() {
			all = append(all, string(n.Type))
		}
		return all
	}
	var out []string
	for _, n := range config.Namespaces() {
		if _, err := os.Lstat("/proc/self/ns/" + n.File); err == nil {
			out = append(out, string(n.Type))
		}
	}
	return out
}

// Marshal encodes f as `runc features` prints it: JSON indented by four
// spaces, with a final newline. Unlike the spec's Go types (omitempty), it
// keeps empty lists: the spec distinguishes an empty list ("none", as hull's
// potentiallyUnsafeConfigAnnotations and memory policy modes) from an absent
// one ("unknown").
func Marshal(f *features.Features) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "    ")
	if err := enc.Encode(toDoc(f)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// doc and linuxDoc are features.Features and features.Linux, field for field
// and in the same order, with omitzero for lists: only a nil list is left out.
type doc struct {
	OCIVersionMin                      string            `json:"ociVersionMin"`
	OCIVersionMax                      string            `json:"ociVersionMax"`
	Hooks                              []string          `json:"hooks,omitzero"`
	MountOptions                       []string          `json:"mountOptions,omitzero"`
	Linux                              *linuxDoc         `json:"linux,omitempty"`
	Annotations                        map[string]string `json:"annotations,omitzero"`
	PotentiallyUnsafeConfigAnnotations []string          `json:"potentiallyUnsafeConfigAnnotations,omitzero"`
}

type linuxDoc struct {
	Namespaces      []string                  `json:"namespaces,omitzero"`
	Capabilities    []string                  `json:"capabilities,omitzero"`
	Cgroup          *features.Cgroup          `json:"cgroup,omitempty"`
	Seccomp         *features.Seccomp         `json:"seccomp,omitempty"`
	Apparmor        *features.Apparmor        `json:"apparmor,omitempty"`
	Selinux         *features.Selinux         `json:"selinux,omitempty"`
	IntelRdt        *features.IntelRdt        `json:"intelRdt,omitempty"`
	MemoryPolicy    *memoryPolicyDoc          `json:"memoryPolicy,omitempty"`
	MountExtensions *features.MountExtensions `json:"mountExtensions,omitempty"`
	NetDevices      *features.NetDevices      `json:"netDevices,omitempty"`
}

type memoryPolicyDoc struct {
	Modes []string `json:"modes,omitzero"`
	Flags []string `json:"flags,omitzero"`
}

func toDoc(f *features.Features) *doc {
	if f == nil {
		return nil
	}
	d := &doc{
		OCIVersionMin:                      f.OCIVersionMin,
		OCIVersionMax:                      f.OCIVersionMax,
		Hooks:                              f.Hooks,
		MountOptions:                       f.MountOptions,
		Annotations:                        f.Annotations,
		PotentiallyUnsafeConfigAnnotations: f.PotentiallyUnsafeConfigAnnotations,
	}
	if l := f.Linux; l != nil {
		d.Linux = &linuxDoc{
			Namespaces:      l.Namespaces,
			Capabilities:    l.Capabilities,
			Cgroup:          l.Cgroup,
			Seccomp:         l.Seccomp,
			Apparmor:        l.Apparmor,
			Selinux:         l.Selinux,
			IntelRdt:        l.IntelRdt,
			MountExtensions: l.MountExtensions,
			NetDevices:      l.NetDevices,
		}
		if mp := l.MemoryPolicy; mp != nil {
			d.Linux.MemoryPolicy = &memoryPolicyDoc{Modes: mp.Modes, Flags: mp.Flags}
		}
	}
	return d
}
