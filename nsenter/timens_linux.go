package nsenter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A container's new time namespace, the one mechanism: config validates
// linux.timeOffsets (and refuses them with a joined namespace); create makes the
// namespace with NewTimeNS and init is born in it through Spawn (clock offsets are
// written before any process is in it); with a new user namespace, which the holder
// cannot make for it, init makes it itself with UnshareTimeNS, offsets written through
// its verified procfs handle, and enters it at its execve (so `hull exec` of a created
// container does not join it yet: exec_linux.go). Both write the offsets with
// WriteTimeOffsets. The holder runs as hull's hidden stage TimeNSHolderArg (init.go).

// TimeNSProbeArg is the hidden command line of ExecEntersTimeNS's probe.
const TimeNSProbeArg = "timens-probe"

// TimeNSHolderArg is the hidden command line of the helper NewTimeNS starts.
const TimeNSHolderArg = "timens-holder"

// TimeNS is a new time namespace with its clock offsets written and no process in it
// yet, kept alive by a helper process until Close.
type TimeNS struct {
	// Path names the namespace for Spawn to join (time namespaces can only be joined by
	// a single-threaded process, which Spawn's child is).
	Path string
	cmd  *exec.Cmd
	in   io.WriteCloser
}

// NewTimeNS makes a time namespace for a container. A process that unshares
// CLONE_NEWTIME does not enter the namespace itself; its children do, and, on recent
// kernels only, so does its next execve. Making it in a helper (whose main thread, the
// one /proc/<pid>/timens_offsets speaks for, unshares) and joining it from Spawn's child
// works on every kernel with time namespaces.
func NewTimeNS(offsets map[string]specs.LinuxTimeOffset) (*TimeNS, error) {
	cmd := exec.Command("/proc/self/exe", TimeNSHolderArg)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("time namespace helper: %w", err)
	}
	t := &TimeNS{cmd: cmd, in: in}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ok\n" {
		t.Close()
		// err is nil when the helper wrote something else, which %w would print as %!w(<nil>).
		return nil, fmt.Errorf("linux.namespaces time: the helper could not unshare it: %q %v", line, err) //nolint:errorlint // may be nil
	}
	pid := cmd.Process.Pid
	write := func(rel, data string) error { return os.WriteFile("/proc/"+rel, []byte(data), 0) }
	if err := WriteTimeOffsets(write, pid, offsets); err != nil {
		t.Close()
		return nil, err
	}
	t.Path = "/proc/" + strconv.Itoa(pid) + "/ns/time_for_children"
	return t, nil
}

// Close ends the helper; a namespace already joined lives on with its members.
func (t *TimeNS) Close() {
	t.in.Close()
	_ = t.cmd.Wait()
}

// TimeNSHolder is the helper's body: unshare on the main thread (the caller locked it
// in an init function), report, and wait for stdin to close.
func TimeNSHolder() {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		fmt.Printf("unshare: %v\n", err)
		os.Exit(1)
	}
	if _, err := os.Stdout.WriteString("ok\n"); err != nil {
		// The parent reads EOF instead of the report and fails NewTimeNS.
		os.Exit(1)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// UnshareTimeNS makes a new time namespace for the caller's children (and, on recent
// kernels, its own next execve) and writes offsets for it through write (a procfs
// writer: rel is relative to /proc), while nothing runs in it yet. pid is the caller's
// pid as that procfs sees it.
func UnshareTimeNS(write func(rel, data string) error, pid int, offsets map[string]specs.LinuxTimeOffset) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("linux.namespaces time: %w", os.NewSyscallError("unshare", err))
	}
	return WriteTimeOffsets(write, pid, offsets)
}

// WriteTimeOffsets writes each clock's offset to /proc/<pid>/timens_offsets, one
// clock per write, in a fixed order, naming the field that failed. The kernel takes
// them only while no process is in the namespace.
func WriteTimeOffsets(write func(rel, data string) error, pid int, offsets map[string]specs.LinuxTimeOffset) error {
	clocks := make([]string, 0, len(offsets))
	for clock := range offsets {
		clocks = append(clocks, clock)
	}
	slices.Sort(clocks)
	for _, clock := range clocks {
		off := offsets[clock]
		line := fmt.Sprintf("%s %d %d", clock, off.Secs, off.Nanosecs)
		if err := write(strconv.Itoa(pid)+"/timens_offsets", line); err != nil {
			return fmt.Errorf("linux.timeOffsets.%s: %w", clock, err)
		}
	}
	return nil
}

// ExecEntersTimeNS reports whether this kernel's execve moves a process into the time
// namespace it made with unshare (its time_for_children). Init relies on that when it
// makes the container's time namespace itself (with a new user namespace, which the
// holder cannot make it for); older kernels (6.1 among them) move only children, and
// the container's process would keep the host's clocks. The probe is hull itself,
// started with CLONE_NEWTIME unshared before its execve, comparing its two links.
func ExecEntersTimeNS() (bool, error) {
	cmd := exec.Command("/proc/self/exe", TimeNSProbeArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWTIME}
	out, err := cmd.Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		// Where execve does not enter it, the probe cannot even start: the kernel
		// refuses a new thread (CLONE_VM) to a process whose time namespace differs
		// from its time_for_children, and the Go runtime dies making its first
		// threads (seen on 6.1: exit status 2).
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("time namespace probe: %w", err)
	}
	switch string(out) {
	case "entered\n":
		return true, nil
	case "children only\n":
		return false, nil
	}
	return false, fmt.Errorf("time namespace probe: unexpected report %q", out)
}

// TimeNSProbe is the probe's body (see ExecEntersTimeNS).
func TimeNSProbe() {
	own, err1 := os.Readlink("/proc/self/ns/time")
	children, err2 := os.Readlink("/proc/self/ns/time_for_children")
	switch {
	case err1 != nil || err2 != nil:
		fmt.Println("error")
		os.Exit(1)
	case own == children:
		fmt.Println("entered")
	default:
		fmt.Println("children only")
	}
}
