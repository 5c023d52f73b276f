package seccomp

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// TestNotify plays the seccomp agent: the child loads a filter that notifies
// getpgid, sends the fd with SendNotifyFd, and calls getpgid twice; the agent
// answers once with a value and once with an errno.
func TestNotify(t *testing.T) {
	requireAMD64(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	profile := &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     sock,
		ListenerMetadata: "agent-metadata",
		Flags:            []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv},
		Syscalls:         []specs.LinuxSyscall{{Names: []string{"getpgid"}, Action: specs.ActNotify}},
	}
	cmd, stdout, stderr, cancel := startChild(t, childArg{
		Profile:  profile,
		Listener: sock,
		Calls: []call{
			{Nr: unix.SYS_GETPGID, Args: [6]uintptr{4242}},
			{Nr: unix.SYS_GETPGID, Args: [6]uintptr{4343}},
		},
	})
	agentErr := make(chan error, 1)
	var st specs.ContainerProcessState
	go func() { agentErr <- agent(l, cmd.Process.Pid, &st) }()
	res := waitChild(t, cmd, stdout, stderr, cancel)
	got := res.results(t)
	if err := <-agentErr; err != nil {
		t.Fatalf("agent: %v", err)
	}

	if want := (result{Ret: 42}); got[0] != want {
		t.Errorf("getpgid(4242): %v, want %v from the agent", got[0], want)
	}
	if want := (result{Errno: unix.EXDEV}); got[1] != want {
		t.Errorf("getpgid(4343): %v, want %v from the agent", got[1], want)
	}
	want := specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      res.pid,
		Metadata: "agent-metadata",
		State:    specs.State{Version: specs.Version, ID: "seccomp-test", Status: specs.StateCreating, Pid: res.pid, Bundle: "/bundle"},
	}
	if g, w := fmt.Sprintf("%+v", st), fmt.Sprintf("%+v", want); g != w {
		t.Errorf("container process state:\n got %s\nwant %s", g, w)
	}
}

// agent accepts one connection, reads the container process state and the fd,
// then answers two getpgid notifications from pid.
func agent(l *net.UnixListener, pid int, st *specs.ContainerProcessState) error {
	if err := l.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	conn, err := l.AcceptUnix()
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(buf[:n], st); err != nil {
		return fmt.Errorf("state %q: %w", buf[:n], err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fmt.Errorf("control messages: %v %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return fmt.Errorf("rights: %v %v", fds, err)
	}
	fd := fds[0]
	defer unix.Close(fd)

	answers := []struct {
		arg uint64
		val uint64
		err int32
	}{{4242, 42, 0}, {4343, 0, int32(unix.EXDEV)}} // libseccomp negates the errno for the kernel
	for _, a := range answers {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(pfd, 30_000); err != nil || n != 1 || pfd[0].Revents&unix.POLLIN == 0 {
			return fmt.Errorf("poll the notify fd: n=%d revents=%#x err=%v", n, pfd[0].Revents, err)
		}
		req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
		if err != nil {
			return err
		}
		if req.Pid != uint32(pid) || req.Data.Syscall != unix.SYS_GETPGID || req.Data.Args[0] != a.arg {
			return fmt.Errorf("notification pid %d syscall %d args %v, want pid %d getpgid(%d)", req.Pid, req.Data.Syscall, req.Data.Args, pid, a.arg)
		}
		if err := libseccomp.NotifRespond(libseccomp.ScmpFd(fd), &libseccomp.ScmpNotifResp{ID: req.ID, Val: a.val, Error: a.err}); err != nil {
			return err
		}
	}
	return nil
}

func TestSendNotifyFdErrors(t *testing.T) {
	st := &specs.ContainerProcessState{}
	if err := SendNotifyFd("", 0, st); err == nil {
		t.Error("empty listenerPath accepted")
	}
	err := SendNotifyFd(filepath.Join(t.TempDir(), "nobody"), 0, st)
	if e, ok := err.(*Error); !ok || e.Field != "linux.seccomp.listenerPath" {
		t.Errorf("no agent: %v, want an *Error naming linux.seccomp.listenerPath", err)
	}
}
