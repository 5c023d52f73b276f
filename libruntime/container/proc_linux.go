package container

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/cgroups"
)

// procStat returns the state letter and start time (in clock ticks since boot) of pid.
func procStat(pid int) (state byte, start uint64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name may contain spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := bytes.Fields(data[i+2:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields))
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat start time: %w", pid, err)
	}
	return fields[0][0], start, nil
}

// alive reports whether pid is still the process that started at start, and not a zombie.
func alive(pid int, start uint64) bool {
	st, s, err := procStat(pid)
	if err != nil || s != start {
		return false
	}
	return st != 'Z' && st != 'X'
}

// pidfdOpen opens a pidfd for pid and then checks the start time, so the fd is known to
// refer to the container's init and not to a process that reused its pid.
func pidfdOpen(pid int, start uint64) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, ErrNotRunning
		}
		return -1, os.NewSyscallError("pidfd_open", err)
	}
	if _, s, err := procStat(pid); err != nil || s != start {
		unix.Close(fd)
		return -1, ErrNotRunning
	}
	return fd, nil
}

func signalInit(pid int, start uint64, sig unix.Signal) error {
	fd, err := pidfdOpen(pid, start)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return os.NewSyscallError("pidfd_send_signal", err)
	}
	return nil
}

// signalAll signals every process of the container: those in its cgroup or, for a
// container made without one, init and everything in its own pid namespace.
func (c *Container) signalAll(sig unix.Signal) error {
	if cg, err := c.cgroup(); err == nil {
		return signalCgroup(cg, sig)
	}
	pid, start := c.p.InitPid, c.p.InitStartTime
	nsLink := fmt.Sprintf("/proc/%d/ns/pid", pid)
	ns, err := os.Readlink(nsLink)
	if err != nil || !c.ownPidNS() {
		return signalInit(pid, start, sig)
	}
	// Init first, so a SIGKILL tears the namespace down at once.
	if err := signalInit(pid, start, sig); err != nil {
		return err
	}
	if sig == unix.SIGKILL {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p)); err == nil && l == ns {
			_ = unix.Kill(p, sig)
		}
	}
	return nil
}

func (c *Container) ownPidNS() bool {
	for _, n := range c.p.namespaces() {
		if n.Type == "pid" && n.Path == "" {
			return true
		}
	}
	return false
}

// waitGone waits until init has exited (a zombie counts: its reaper is the caller's
// subreaper, not us).
func waitGone(pid int, start uint64, timeout time.Duration) error {
	fd, err := pidfdOpen(pid, start)
	if err != nil {
		if errors.Is(err, ErrNotRunning) {
			return nil
		}
		return err
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return fmt.Errorf("init process %d did not exit within %s", pid, timeout)
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		if n > 0 {
			return nil
		}
	}
}

// signalCgroup signals every process in cg; SIGKILL goes through cgroup.kill, which also
// reaches processes forked while the signals are being sent.
func signalCgroup(cg cgroups.Manager, sig unix.Signal) error {
	if sig == unix.SIGKILL {
		return cg.Kill()
	}
	pids, err := cg.Pids()
	if err != nil {
		return err
	}
	for _, p := range pids {
		if err := unix.Kill(p, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal %d: %w", p, os.NewSyscallError("kill", err))
		}
	}
	return nil
}

// primePidfd has Go's one-time pidfd self-check (pidfd_open, waitid, pidfd_send_signal
// and a throwaway vfork child) done in the background now. os.StartProcess and
// os.FindProcess run it at their first call, which would put 0.1-0.5 ms on the path
// to starting init or exec's helper.
func primePidfd() {
	go func() {
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Release()
		}
	}()
}
