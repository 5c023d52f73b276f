package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// How long Freeze, Thaw and Kill wait for the kernel to finish. Freezing
// waits for every task to reach a safe point, which a task in an
// uninterruptible sleep can delay; a kill waits for every task to exit.
var (
	freezeTimeout = 10 * time.Second
	killTimeout   = 10 * time.Second
)

// Freeze freezes every process of the cgroup (and of its child cgroups) and
// waits until the kernel reports the cgroup frozen. If that does not happen
// in time, Freeze thaws the cgroup again and fails, rather than leave it
// half frozen.
func (m *fsManager) Freeze() error {
	if err := writeFile(m.path, "cgroup.freeze", "1"); err != nil {
		return fmt.Errorf("freeze cgroup: %w", err)
	}
	if err := m.waitEvent("frozen", "1", freezeTimeout); err != nil {
		if terr := writeFile(m.path, "cgroup.freeze", "0"); terr != nil {
			return fmt.Errorf("freeze cgroup %s: %w; thaw it again: %w", m.path, err, terr)
		}
		return fmt.Errorf("freeze cgroup %s: %w", m.path, err)
	}
	return nil
}

// Thaw undoes Freeze and waits until the kernel reports the cgroup running.
// A cgroup whose ancestor is frozen stays frozen; Thaw then times out.
func (m *fsManager) Thaw() error {
	if err := writeFile(m.path, "cgroup.freeze", "0"); err != nil {
		return fmt.Errorf("thaw cgroup: %w", err)
	}
	if err := m.waitEvent("frozen", "0", freezeTimeout); err != nil {
		return fmt.Errorf("thaw cgroup %s: %w", m.path, err)
	}
	return nil
}

// Frozen reports whether the cgroup was asked to freeze (cgroup.freeze),
// which is what makes a container "paused": a process that joins a frozen
// cgroup freezes too, while cgroup.events briefly says otherwise.
func (m *fsManager) Frozen() (bool, error) {
	s, err := readFile(m.path, "cgroup.freeze")
	if err != nil {
		return false, fmt.Errorf("read freezer state: %w", err)
	}
	switch s {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, fmt.Errorf("read freezer state: %s/cgroup.freeze holds %q", m.path, s)
}

// Kill sends SIGKILL to every process of the cgroup and of its child cgroups
// and waits until they have all exited. It uses cgroup.kill (Linux 5.14),
// which also catches processes forked meanwhile; on older kernels it signals
// the listed pids over and over until none is left. Processes that exited
// but are not yet reaped by their parent do not count.
func (m *fsManager) Kill() error {
	// A stopped container's cgroup is usually empty already: nothing to signal or wait for.
	if v, err := eventValue(m.path, "populated"); err == nil && v == "0" {
		return nil
	}
	err := writeFile(m.path, "cgroup.kill", "1")
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(m.path); serr != nil {
			return fmt.Errorf("kill cgroup: %w", serr)
		}
		return m.killEach()
	}
	if err != nil {
		return fmt.Errorf("kill cgroup: %w", err)
	}
	if err := m.waitEvent("populated", "0", killTimeout); err != nil {
		return fmt.Errorf("kill cgroup %s: %w", m.path, err)
	}
	return nil
}

// killEach is Kill for kernels without cgroup.kill. Freezing first keeps
// the set of processes still while they are listed and signalled (SIGKILL
// still reaches a frozen process); the freezer exists since Linux 5.2.
func (m *fsManager) killEach() error {
	frozen := m.Freeze() == nil
	deadline := time.Now().Add(killTimeout)
	for {
		pids, err := m.Pids()
		if err != nil {
			return fmt.Errorf("kill cgroup: %w", err)
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kill cgroup %s: %d processes left after %s", m.path, len(pids), killTimeout)
		}
		for _, pid := range pids {
			if err := kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("kill pid %d of cgroup: %w", pid, err)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if frozen {
		// Leave no frozen empty cgroup behind: a new process would freeze.
		if err := writeFile(m.path, "cgroup.freeze", "0"); err != nil {
			return fmt.Errorf("kill cgroup: %w", err)
		}
	}
	return nil
}

// Pids lists the processes of the cgroup and of its child cgroups.
func (m *fsManager) Pids() ([]int, error) {
	var pids []int
	if err := collectPids(m.path, &pids); err != nil {
		return nil, fmt.Errorf("list processes of cgroup: %w", err)
	}
	return pids, nil
}

func collectPids(dir string, pids *[]int) error {
	s, err := readFile(dir, "cgroup.procs")
	// A threaded child cgroup has no processes of its own to list.
	if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("%s/cgroup.procs: bad pid %q", dir, f)
		}
		*pids = append(*pids, pid)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		err := collectPids(filepath.Join(dir, e.Name()), pids)
		// A child cgroup removed while we walk had nothing to list.
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// waitEvent waits until cgroup.events has the line "<key> <want>". The file is
// checked first, so a state already reached costs one read; otherwise the wait polls
// the open file, which kernfs wakes with POLLPRI on every change (no inotify: closing
// an inotify fd with a watch waits for in-flight events, tens of ms), re-reading at
// least every 100ms so that a missed wake-up costs little.
func (m *fsManager) waitEvent(key, want string, timeout time.Duration) error {
	got, err := eventValue(m.path, key)
	if err != nil {
		return err
	}
	if got == want {
		return nil
	}
	fd, err := open(filepath.Join(m.path, "cgroup.events"), unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 512)
	for {
		// Reading through the polled fd arms the next POLLPRI.
		n, err := unix.Pread(fd, buf, 0)
		if err != nil {
			return &os.PathError{Op: "read", Path: filepath.Join(m.path, "cgroup.events"), Err: err}
		}
		if got = eventLine(string(buf[:n]), key); got == want {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("timed out after %s waiting for %q to be %s (it is %s)", timeout, key, want, got)
		}
		ms := int(min(left, 100*time.Millisecond)/time.Millisecond) + 1
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
		if _, err := unix.Poll(fds, ms); err != nil && !errors.Is(err, unix.EINTR) {
			return os.NewSyscallError("poll", err)
		}
	}
}

// eventLine returns the value of key in the text of a cgroup.events file, or "".
func eventLine(s, key string) string {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return v
		}
	}
	return ""
}

// eventValue returns the value of key in dir's cgroup.events.
func eventValue(dir, key string) (string, error) {
	s, err := readFile(dir, "cgroup.events")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("%s/cgroup.events has no %q line", dir, key)
}
