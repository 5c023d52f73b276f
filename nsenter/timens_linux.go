package nsenter

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

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
	pid := strconv.Itoa(cmd.Process.Pid)
	for clock, off := range offsets {
		data := fmt.Sprintf("%s %d %d", clock, off.Secs, off.Nanosecs)
		if err := os.WriteFile("/proc/"+pid+"/timens_offsets", []byte(data), 0); err != nil {
			t.Close()
			return nil, fmt.Errorf("linux.timeOffsets.%s: %w", clock, err)
		}
	}
	t.Path = "/proc/" + pid + "/ns/time_for_children"
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
