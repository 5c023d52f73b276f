package console

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// maxNameLen bounds the payload of an fd message; readers in the wild (runc's
// recvtty, containerd's go-runc) reject names of this length or longer.
const maxNameLen = 4096

// SendFile sends f over the AF_UNIX socket as a single SCM_RIGHTS message whose
// payload is name. name must be non-empty: a stream socket drops ancillary data
// that travels without at least one byte of payload.
func SendFile(socket *os.File, name string, f *os.File) error {
	if name == "" {
		return errors.New("sendfd: empty name")
	}
	if len(name) >= maxNameLen {
		return fmt.Errorf("sendfd: name too long (%d bytes)", len(name))
	}
	src, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("sendfd %s: %w", name, err)
	}
	dst, err := socket.SyscallConn()
	if err != nil {
		return fmt.Errorf("sendfd %s: %w", name, err)
	}
	var sendErr error
	// Control keeps f's descriptor open (and its number valid) while it is sent.
	ctlErr := src.Control(func(fd uintptr) {
		oob := unix.UnixRights(int(fd))
		// Write cooperates with the runtime poller when the socket is
		// non-blocking, and is a plain call when it is not.
		wErr := dst.Write(func(sfd uintptr) bool {
			n, err := linux.SendmsgN(int(sfd), []byte(name), oob, nil, 0)
			switch {
			case errors.Is(err, unix.EAGAIN):
				// Only a non-blocking socket says this; the poller waits.
				return false
			case err != nil:
				sendErr = os.NewSyscallError("sendmsg", err)
			case n != len(name):
				// The fd went with the first byte; the rest cannot be resent
				// without sending the fd twice.
				sendErr = fmt.Errorf("sendmsg: short write (%d of %d bytes)", n, len(name))
			}
			return true
		})
		if sendErr == nil {
			sendErr = wErr
		}
	})
	if ctlErr != nil {
		return fmt.Errorf("sendfd %s: %w", name, ctlErr)
	}
	if sendErr != nil {
		return fmt.Errorf("sendfd %s: %w", name, sendErr)
	}
	return nil
}

// RecvMaster receives one file descriptor sent by SendFile on conn and returns
// it as a non-blocking, close-on-exec file named by the message payload. Any
// other shape of message (no fd, several fds, truncated control data) is an
// error, and every fd that did arrive is closed.
func RecvMaster(conn *net.UnixConn) (*os.File, error) {
	name := make([]byte, maxNameLen)
	// Room for a few fds, so that a sender passing too many is detected and
	// cleaned up instead of having the kernel truncate (and leak) them.
	oob := make([]byte, unix.CmsgSpace(8*4))
	n, oobn, flags, _, err := conn.ReadMsgUnix(name, oob)
	if err != nil {
		return nil, fmt.Errorf("recvfd: %w", err)
	}
	fds, perr := parseRights(oob[:oobn])
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	switch {
	case perr != nil:
		closeAll()
		return nil, fmt.Errorf("recvfd: %w", perr)
	case flags&unix.MSG_CTRUNC != 0:
		closeAll()
		return nil, errors.New("recvfd: control message truncated")
	case n == 0 && oobn == 0:
		return nil, fmt.Errorf("recvfd: %w", io.ErrUnexpectedEOF)
	case n >= maxNameLen:
		closeAll()
		return nil, fmt.Errorf("recvfd: name too long (%d bytes)", n)
	case len(fds) != 1:
		closeAll()
		return nil, fmt.Errorf("recvfd: got %d fds, want 1", len(fds))
	}
	// Non-blocking puts the file under the runtime poller: Close then
	// interrupts a pending Read (a blocked read would otherwise keep the
	// master open and the peer would never see the hangup) and deadlines work.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		closeAll()
		return nil, fmt.Errorf("recvfd: %w", os.NewSyscallError("fcntl", err))
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// parseRights returns every fd carried in SCM_RIGHTS messages of oob.
func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return fds, err
		}
		fds = append(fds, got...)
	}
	return fds, nil
}
