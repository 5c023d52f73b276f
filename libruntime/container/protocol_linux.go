package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/exeseal"
	"github.com/hull-runtime/hull/libruntime/initproc"
	"github.com/hull-runtime/hull/libruntime/logs"
)

// syncConn is hull's end of the sync protocol (initproc/protocol.go) with the process
// it starts: init for Create, the helper for Exec. It owns the socketpair and the
// newline-delimited JSON on it, the message loop, the timing marks the process
// reports, and the files hull hands that process besides its sync socket (console,
// /dev/null stdio, sealed binary) or keeps for it (the --pidfd-socket connection).
// Create and Exec configure it with their handlers and wording; what to start and
// where (fd placement, namespaces, cgroup) stays theirs.
type syncConn struct {
	sock  *os.File // hull's end
	child *os.File // the process's end, until the process holds it
	enc   *json.Encoder
	dec   *json.Decoder
	t     *phaseTimer
	words syncWords
	// spawned is when the process was started, which it measures its start-up from.
	spawned time.Time
	// pidfdSock is the --pidfd-socket connection, if any.
	pidfdSock *os.File
	// early are closed once the process holds its copies (started), the rest with
	// the connection.
	early, files []*os.File
}

// syncWords is how a side of the protocol words its failures: the texts are the ones
// users and scripts have seen from create and exec.
type syncWords struct {
	sendConfig string // the config could not be sent
	release    string // MsgGo could not be sent
	unexpected string // a message type not served now, a format taking it (%q)
	ready      string // the phase mark of MsgReady
}

var (
	createWords = syncWords{
		sendConfig: "send config to init",
		release:    "release init",
		unexpected: "unexpected message %q from init",
		ready:      "init set-up",
	}
	execWords = syncWords{
		sendConfig: "exec: send config",
		release:    "exec: release process",
		unexpected: "exec: unexpected message %q",
		ready:      "process set-up",
	}
)

// newSyncConn makes the socketpair. Both ends are close-on-exec: the child's end is
// passed as one of the process's files, at the number its environment names.
func newSyncConn(t *phaseTimer, w syncWords) (*syncConn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	s := &syncConn{
		sock:  os.NewFile(uintptr(fds[0]), "sync-parent"),
		child: os.NewFile(uintptr(fds[1]), "sync-child"),
		t:     t,
		words: w,
	}
	s.enc, s.dec = json.NewEncoder(s.sock), json.NewDecoder(s.sock)
	return s, nil
}

// Close closes hull's end and every file the connection opened.
func (s *syncConn) Close() {
	s.sock.Close()
	if s.child != nil {
		s.child.Close()
	}
	for _, f := range append(s.early, s.files...) {
		f.Close()
	}
	if s.pidfdSock != nil {
		s.pidfdSock.Close()
	}
}

// Child is the process's end of the socket, to pass as one of its files.
func (s *syncConn) Child() *os.File { return s.child }

// spawning marks the start of the process: with --debug, it reports how long its
// execve and Go start-up took from then.
func (s *syncConn) spawning() { s.spawned = time.Now() }

// started drops hull's copies of what the process now holds: its end of the socket
// (a read then fails once the process is gone, never hangs) and its /dev/null.
func (s *syncConn) started() {
	s.child.Close()
	s.child = nil
	for _, f := range s.early {
		f.Close()
	}
	s.early = nil
}

// stdio is the process's stdin, stdout and stderr: the given files, hull's own
// where none is given, or /dev/null for a process with a terminal, whose pty replaces
// them (the caller's pipes are not held open in it).
func (s *syncConn) stdio(in, out, errf *os.File, terminal bool) ([3]*os.File, error) {
	if !terminal {
		return [3]*os.File{or(in, os.Stdin), or(out, os.Stdout), or(errf, os.Stderr)}, nil
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return [3]*os.File{}, err
	}
	s.early = append(s.early, null)
	return [3]*os.File{null, null, null}, nil
}

func or(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// console is the socket the process sends its pty master over: conn, already
// connected (run, exec -t without --console-socket), or a new connection to path.
func (s *syncConn) console(conn *os.File, path string) (*os.File, error) {
	if conn != nil {
		return conn, nil
	}
	f, err := dialConsole(path)
	if err != nil {
		return nil, err
	}
	s.files = append(s.files, f)
	return f, nil
}

func dialConsole(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect to console socket: %w", err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	return f, nil
}

// dialPidfd connects to --pidfd-socket (path, if set) before anything is made, so a
// wrong path fails at once; sendPidfd uses it once the process is known.
func (s *syncConn) dialPidfd(path string) error {
	if path == "" {
		return nil
	}
	f, err := dialPidfdSocket(path)
	if err != nil {
		return err
	}
	s.pidfdSock = f
	return nil
}

// sendPidfd sends a pidfd of pid, the caller's not yet reapable child, to the
// --pidfd-socket, if one was given (see sendPidfd in pidfd_linux.go).
func (s *syncConn) sendPidfd(pid int, kind string) error {
	if s.pidfdSock == nil {
		return nil
	}
	return sendPidfd(s.pidfdSock, pid, kind)
}

// sealedExe is the handle on the init stage the process is started from (see
// exeseal.OpenStage; root is the state root, dir the container's state dir), closed
// with the connection.
func (s *syncConn) sealedExe(root, dir string) (*os.File, error) {
	exe, err := exeseal.OpenStage(root, dir)
	if err != nil {
		return nil, err
	}
	s.files = append(s.files, exe)
	return exe, nil
}

// sendConfig sends the process its Config, the protocol's first message, with what
// it needs to time its phases under --debug.
func (s *syncConn) sendConfig(cfg *initproc.Config) error {
	if s.t != nil {
		cfg.Debug, cfg.Cloned = true, s.spawned.UnixNano()
	}
	if err := s.enc.Encode(cfg); err != nil {
		return fmt.Errorf("%s: %w", s.words.sendConfig, err)
	}
	return nil
}

// send writes one message (or a Config, to a second stage) as it is.
func (s *syncConn) send(v any) error { return s.enc.Encode(v) }

// release tells the process to go on (MsgGo) once hull has recorded what it must.
func (s *syncConn) release() error {
	if err := s.enc.Encode(initproc.Message{Type: initproc.MsgGo}); err != nil {
		return fmt.Errorf("%s: %w", s.words.release, err)
	}
	return nil
}

// msgHandler serves one type of message; done ends the loop.
type msgHandler func(m *initproc.Message) (done bool, err error)

// serve reads messages until a handler is done or fails. Two types are served
// wherever they come: MsgError ends the loop with the process's own error, a
// MsgWarning is logged. Any other type without a handler is an error; lost words a
// failed read, which means the process is gone.
func (s *syncConn) serve(lost func(error) error, handlers map[string]msgHandler) error {
	for {
		var m initproc.Message
		if err := s.dec.Decode(&m); err != nil {
			return lost(err)
		}
		switch m.Type {
		case initproc.MsgError:
			return errors.New(m.Error)
		case initproc.MsgWarning:
			logs.Warnf("%s", m.Error)
			continue
		}
		h, ok := handlers[m.Type]
		if !ok {
			return fmt.Errorf(s.words.unexpected, m.Type)
		}
		done, err := h(&m)
		if err != nil || done {
			return err
		}
	}
}

// ready records the phases of a MsgReady, the process's own under it.
func (s *syncConn) ready(m *initproc.Message) {
	s.t.mark(s.words.ready)
	s.t.sub(m.Phases)
}

// ownChild reports whether pid, which the process reported, is a child of this hull
// (not yet reaped): what the process says is checked, not trusted.
func ownChild(pid int) bool {
	var si unix.Siginfo
	return pid > 0 && unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil) == nil
}
