package container

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// The payload sent with the pidfd over --pidfd-socket: runc sends the kind of its init
// ("standard" for create and run, "setns" for exec) and receivers may look at it.
const (
	pidfdKindInit = "standard"
	pidfdKindExec = "setns"
)

// dialPidfdSocket connects to the caller's --pidfd-socket before anything is made, so
// a wrong path fails the command at once.
func dialPidfdSocket(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("--pidfd-socket: connect to %s: %w", path, err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("--pidfd-socket: %w", err)
	}
	return f, nil
}

// sendPidfd sends a pidfd of pid with kind as payload (SCM_RIGHTS), as runc does. The
// pidfd is opened here, on the host, by the process's parent before it could be
// reaped, so it names that process and no other; it never exists inside the
// container. pidfd_open sets close-on-exec, and it is closed once sent.
func sendPidfd(sock *os.File, pid int, kind string) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ENOSYS) {
		return errors.New("--pidfd-socket: needs Linux 5.3 or later (pidfd_open)")
	}
	if err != nil {
		return fmt.Errorf("--pidfd-socket: %w", os.NewSyscallError("pidfd_open", err))
	}
	defer unix.Close(fd)
	if err := unix.Sendmsg(int(sock.Fd()), []byte(kind), unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("--pidfd-socket: send the pidfd: %w", os.NewSyscallError("sendmsg", err))
	}
	return nil
}
