package hulltest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// DeviceProbe tries one device access and returns "ok" or the errno's name.
// probe is one of
//
//	open <path> <r|w|rw>
//	exists <path>            access(2) F_OK: the device filter is asked with no access bit
//	mknod <path> <c|b> <major> <minor>
func DeviceProbe(probe string) string {
	f := strings.Fields(probe)
	var err error
	switch {
	case len(f) == 3 && f[0] == "open":
		flags, ok := map[string]int{"r": unix.O_RDONLY, "w": unix.O_WRONLY, "rw": unix.O_RDWR}[f[2]]
		if !ok {
			return "bad probe " + strconv.Quote(probe)
		}
		var fd int
		fd, err = unix.Open(f[1], flags|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err == nil {
			unix.Close(fd)
		}
	case len(f) == 2 && f[0] == "exists":
		err = unix.Access(f[1], unix.F_OK)
	case len(f) == 5 && f[0] == "mknod":
		mode := uint32(unix.S_IFCHR)
		if f[2] == "b" {
			mode = unix.S_IFBLK
		}
		major, _ := strconv.ParseUint(f[3], 10, 32)
		minor, _ := strconv.ParseUint(f[4], 10, 32)
		err = unix.Mknod(f[1], mode|0o600, int(unix.Mkdev(uint32(major), uint32(minor))))
	default:
		return "bad probe " + strconv.Quote(probe)
	}
	var errno unix.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	default:
		return err.Error()
	}
}

// RunDeviceProbes is the test binary re-executed by ProbeDevices: it prints
// one DeviceProbe result a line.
func RunDeviceProbes(probes []string) int {
	for _, p := range probes {
		fmt.Println(DeviceProbe(p))
	}
	return 0
}

// ProbeDevices runs the probes in a copy of the test binary started in the
// cgroup open at cgroupFD (CLONE_INTO_CGROUP), so that the cgroup's device
// filter judges them; env (KEY=value) makes that copy's TestMain call
// RunDeviceProbes. It returns one result per probe.
func ProbeDevices(t testing.TB, cgroupFD int, env string, probes ...string) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], probes...)
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cgroupFD}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("device probes: %v", err)
	}
	res := strings.Split(string(bytes.TrimSpace(out)), "\n")
	if len(res) != len(probes) {
		t.Fatalf("device probes printed %q for %q", out, probes)
	}
	return res
}

// UnusedCharMajor is a device major that /proc/devices does not list, so that
// a node with it reaches no driver: an open the device filter lets through
// fails with ENXIO instead of EPERM.
func UnusedCharMajor(t testing.TB) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/devices")
	if err != nil {
		t.Fatal(err)
	}
	used := map[int64]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				used[n] = true
			}
		}
	}
	for n := int64(3000); n < 4000; n++ {
		if !used[n] {
			return n
		}
	}
	HostLimit(t, "every device major from 3000 to 3999 is taken in /proc/devices")
	return 0
}

// DeviceNodeDir is a new temporary directory in which device nodes can be made
// and opened.
func DeviceNodeDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	null := filepath.Join(dir, "null")
	if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		HostLimit(t, "cannot make device nodes in %s: %v; runs where TMPDIR allows them", dir, err)
	}
	f, err := os.OpenFile(null, os.O_WRONLY, 0)
	if err != nil {
		HostLimit(t, "device nodes do not work in %s (nodev?): %v; runs where TMPDIR allows them", dir, err)
	}
	f.Close()
	if err := os.Remove(null); err != nil {
		t.Fatal(err)
	}
	return dir
}
