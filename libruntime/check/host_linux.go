package check

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/cgroups"
	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/lsm"
	"github.com/hull-runtime/hull/libruntime/process"
	"github.com/hull-runtime/hull/nsenter"
)

// host is what check knows about the machine and about hull's own process,
// which the container's init inherits. Tests replace it.
type host struct {
	// Capability sets of hull's own process, bit n for capability n, from
	// /proc/self/status; capsOK is false when they could not be read, and
	// then nothing is said about capabilities hull lacks.
	capBnd, capPrm, capEff uint64
	capsOK                 bool
	lastCap                int // highest capability number the kernel knows

	// hasNS reports whether the kernel has the namespace whose file under
	// /proc/self/ns is name.
	hasNS func(name string) bool
	// hardLimit is hull's own hard limit of rlimit resource res.
	hardLimit func(res int) (uint64, error)
	// oomScoreAdj is hull's own oom_score_adj.
	oomScoreAdj func() (int, error)

	// cgroupPath resolves linux.cgroupsPath like cgroups.Path; cgroupMount
	// is the cgroup2 mount it lies below.
	cgroupPath  func(cgroupsPath, id string) (string, error)
	cgroupMount func() (string, error)
	// hullMade reports whether hull created the cgroup dir (its marker
	// xattr), which is where hull enables controllers itself.
	hullMade func(dir string) bool
	// effectiveUID is hull's effective uid; nil means root.
	effectiveUID func() int
	// inInitialUserNS reports whether hull runs in the initial user
	// namespace; nil means it does.
	inInitialUserNS func() bool
	// onlineCPUs and memoryNodes read the kernel's lists of CPUs that are
	// online and of NUMA nodes that have memory; nil when unknown.
	onlineCPUs, memoryNodes func() ([]int, error)
	// execEntersTimeNS is nsenter.ExecEntersTimeNS; nil means it does.
	execEntersTimeNS func() (bool, error)
	// netDevice reports whether hull's network namespace has a device of
	// that name; nil means every name exists.
	netDevice func(name string) bool
	// lsm says which LSM settings this host cannot apply (lsm.Check); nil
	// means it can apply them all.
	lsm func(apparmorProfile, selinuxLabel, mountLabel string) []*config.Error
	// lsmWarnings says which labels this host applies but does not enforce
	// (lsm.Warnings: SELinux permissive); nil: none.
	lsmWarnings func(selinuxLabel, mountLabel string) []*config.Error
}

// initialUserNS reports whether hull runs in the initial user namespace,
// where it can id-map the host's filesystems.
func (h *host) initialUserNS() bool {
	return h.inInitialUserNS == nil || h.inInitialUserNS()
}

// euid is hull's effective uid.
func (h *host) euid() int {
	if h.effectiveUID == nil {
		return 0
	}
	return h.effectiveUID()
}

// capSysResource reports whether hull's effective set has CAP_SYS_RESOURCE,
// which raising a hard rlimit and lowering oom_score_adj need. Unknown
// capabilities count as held, so that nothing is reported on a guess.
func (h *host) capSysResource() bool {
	return !h.capsOK || h.capEff&(1<<unix.CAP_SYS_RESOURCE) != 0
}

func realHost() *host {
	h := &host{
		lastCap:     process.LastCap(),
		hasNS:       func(name string) bool { return exists("/proc/self/ns/" + name) },
		hardLimit:   hardLimit,
		oomScoreAdj: ownOOMScoreAdj,
		cgroupPath:  cgroups.Path,
		cgroupMount: cgroups.Mount,
		hullMade:    hullMade,

		effectiveUID:    realEUID,
		inInitialUserNS: inInitialUserNS,
		onlineCPUs:      sysList("/sys/devices/system/cpu/online"),
		// Probed only for a config with both new namespaces (a process start).
		execEntersTimeNS: sync.OnceValues(nsenter.ExecEntersTimeNS),
		memoryNodes:      sysList("/sys/devices/system/node/has_memory"),
		netDevice: func(name string) bool {
			_, err := net.InterfaceByName(name)
			return err == nil
		},
		lsm:         lsm.Check,
		lsmWarnings: lsm.Warnings,
	}
	if st, err := os.ReadFile("/proc/self/status"); err == nil {
		h.capBnd, h.capPrm, h.capEff, h.capsOK = parseCaps(st)
	}
	return h
}

// sysList reads a sysfs list of numbers such as "0-3,7".
func sysList(path string) func() ([]int, error) {
	return func() ([]int, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		list, cerr := config.CPUList(path, strings.TrimSpace(string(b)), 1<<20)
		if cerr != nil {
			return nil, cerr
		}
		return list, nil
	}
}

// parseCaps reads CapBnd, CapPrm and CapEff from /proc/<pid>/status text.
func parseCaps(status []byte) (bnd, prm, eff uint64, ok bool) {
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, cut := strings.Cut(sc.Text(), ":")
		if !cut {
			continue
		}
		var dst *uint64
		switch k {
		case "CapBnd":
			dst = &bnd
		case "CapPrm":
			dst = &prm
		case "CapEff":
			dst = &eff
		default:
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return 0, 0, 0, false
		}
		*dst = n
		found++
	}
	return bnd, prm, eff, found == 3
}

func hardLimit(res int) (uint64, error) {
	var l unix.Rlimit
	if err := unix.Prlimit(0, res, nil, &l); err != nil {
		return 0, err
	}
	return l.Max, nil
}

func ownOOMScoreAdj() (int, error) {
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// markerXattr is the xattr cgroups puts on the ancestors hull created.
const markerXattr, markerValue = "trusted.hull.created", "hull"

func hullMade(dir string) bool {
	buf := make([]byte, 64)
	n, err := unix.Getxattr(dir, markerXattr, buf)
	return err == nil && string(buf[:n]) == markerValue
}

// inInitialUserNS reads /proc/self/uid_map: the initial user namespace maps
// every id to itself. Unreadable counts as initial, so nothing is reported on
// a guess.
func inInitialUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return true
	}
	return strings.Join(strings.Fields(string(b)), " ") == "0 0 4294967295"
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
