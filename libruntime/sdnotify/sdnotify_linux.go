// Package sdnotify relays a container's sd_notify readiness to the host's
// NOTIFY_SOCKET, the way runc does for systemd units that run the runtime directly:
// the container's process notifies a socket of hull's, and hull passes READY on,
// with MAINPID naming the process systemd should watch.
package sdnotify

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/logs"
)

// BarrierTimeout is how long Forward waits for the host to acknowledge BARRIER=1, as
// runc: a listener that does not implement the barrier only delays the return.
var BarrierTimeout = 30 * time.Second

// Relay is the container's notify socket, bound, and a connection to the host's.
type Relay struct {
	conn *net.UnixConn
	host *net.UnixConn
}

// Listen connects to host (hull's NOTIFY_SOCKET; "@name" for an abstract socket) and
// binds a datagram socket at path that anyone may send to: the container's process
// may run as any user.
//
// path's directory is the container's to write in once a process of it with
// CAP_SYS_ADMIN remounts its read-only bind mount read-write, so nothing here acts on
// path by name but the final rename: the socket is bound and made 0777 in private (a
// directory only hull may write in, on path's filesystem) and renamed over path,
// which replaces whatever is there without following it. A chmod of path itself would
// follow a symlink the container put there, in hull's mount namespace.
func Listen(path, private, host string) (*Relay, error) {
	hc, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: host, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("NOTIFY_SOCKET %s: %w; unset NOTIFY_SOCKET unless the container's readiness should be relayed there", host, err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(private, ".notify-"+hex.EncodeToString(rnd[:]))
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: tmp, Net: "unixgram"})
	if err != nil {
		hc.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	err = os.Chmod(tmp, 0o777)
	if err == nil {
		// Over a socket file an earlier failed start left, or whatever the container put
		// there (a directory it filled fails the start; the container only denies itself).
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // in hull's private directory: nothing else is there under that name
		conn.Close()
		hc.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return &Relay{conn: conn, host: hc}, nil
}

// Close closes both sockets; the socket file goes with the container's state dir.
func (r *Relay) Close() error {
	err := r.conn.Close()
	if herr := r.host.Close(); err == nil {
		err = herr
	}
	return err
}

// Forward waits for the container to send a READY= line, or for exited to close, and
// then tells the host: the READY line, MAINPID=mainPid, and BARRIER=1 (whose answer it
// waits for, so the host has taken both before hull exits). A process that exits
// without READY ends the wait with nothing sent and no error, as with runc.
//
// runc only looks at datagrams that begin with READY=; a READY= line anywhere in one
// (sd_notify's "STATUS=...\nREADY=1") is taken too. Nothing else the container sends
// is passed on.
func (r *Relay) Forward(mainPid int, exited <-chan struct{}) error {
	ready := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := r.conn.Read(buf)
			if err != nil {
				return
			}
			if line := readyLine(buf[:n]); line != nil {
				ready <- line
				return
			}
		}
	}()
	var line []byte
	select {
	case line = <-ready:
	case <-exited:
		select {
		case line = <-ready:
		default:
			return nil
		}
	}
	if _, err := r.host.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("NOTIFY_SOCKET: %w", err)
	}
	if _, err := r.host.Write([]byte("MAINPID=" + strconv.Itoa(mainPid) + "\n")); err != nil {
		return fmt.Errorf("NOTIFY_SOCKET: %w", err)
	}
	return r.barrier()
}

// readyLine returns the first line of msg that starts with READY=, or nil.
func readyLine(msg []byte) []byte {
	for _, l := range bytes.Split(msg, []byte{'\n'}) {
		if bytes.HasPrefix(l, []byte("READY=")) {
			return bytes.Clone(l)
		}
	}
	return nil
}

// barrier is sd_notify_barrier: BARRIER=1 with the write end of a pipe, which the
// host closes once it has processed everything sent before.
func (r *Relay) barrier() error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	raw, err := r.host.SyscallConn()
	if err != nil {
		pw.Close()
		return err
	}
	werr := raw.Write(func(fd uintptr) bool {
		err = unix.Sendmsg(int(fd), []byte("BARRIER=1"), unix.UnixRights(int(pw.Fd())), nil, 0)
		return !errors.Is(err, unix.EAGAIN)
	})
	pw.Close()
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("NOTIFY_SOCKET: send BARRIER=1: %w", err)
	}
	if err := pr.SetReadDeadline(time.Now().Add(BarrierTimeout)); err != nil {
		return nil
	}
	var b [1]byte
	n, err := pr.Read(b[:])
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		logs.Warnf("NOTIFY_SOCKET: no answer to BARRIER=1 in %s; going on", BarrierTimeout)
		return nil
	case err != nil:
		return fmt.Errorf("NOTIFY_SOCKET: barrier: %w", err)
	}
	return errors.New("NOTIFY_SOCKET: barrier: unexpected data on the synchronisation pipe")
}
