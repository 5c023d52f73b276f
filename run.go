package main

import (
	"io"
	"net"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/console"
	"github.com/hull-runtime/hull/libruntime/container"
	"github.com/hull-runtime/hull/libruntime/logs"
	"github.com/hull-runtime/hull/libruntime/sdnotify"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container, then wait for its program and delete it",
	ArgsUsage: "<container-id>",
	Description: `Does what hull create and hull start do, with the same bundle checks, hooks
and flags. Unless --detach is given, hull then stays in the foreground as
the container's caretaker: the process uses hull's stdin, stdout and stderr
(through a pseudo-terminal that hull relays when process.terminal is true);
the signals hull receives are passed on to init, but for SIGCHLD, SIGPIPE,
SIGURG and SIGWINCH (which resizes the terminal), and for real-time
signals in the first 25 ms after start; and when init exits hull
deletes the container, unless --keep is given, and exits with init's
status: its exit code, or 128+N if signal N killed it. A failure of hull
itself exits 1, and leaves no container behind.

With --detach, run returns once the program runs, as create and start
would; the container stays until hull delete, and a terminal needs
--console-socket.

Example:

   hull run --bundle /containers/job job1; echo "job1 exited with $?"`,
	Flags: append([]cli.Flag{
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, DisableDefaultText: true, Usage: "return once the program runs, instead of waiting for it"},
		&cli.BoolFlag{Name: "keep", DisableDefaultText: true, Usage: "keep the stopped container when its program exits, for hull delete to remove"},
		&cli.BoolFlag{Name: "no-subreaper", DisableDefaultText: true, Usage: "accepted and ignored: hull never makes itself a subreaper"},
	}, createFlags...),
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		id, err := containerID(c)
		if err != nil {
			return err
		}
		return run(c, id)
	},
}

func run(c *cli.Context, id string) error {
	opts := createOpts(c)
	detach := c.Bool("detach")
	// Attached with no console socket of the caller's: hull itself receives the pty
	// master (if the config asks for a terminal) and proxies it to its own stdio.
	var ttyRecv *os.File
	if !detach && opts.ConsoleSocket == "" {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return os.NewSyscallError("socketpair", err)
		}
		ttyRecv = os.NewFile(uintptr(fds[0]), "tty-recv")
		defer ttyRecv.Close()
		send := os.NewFile(uintptr(fds[1]), "tty-send")
		defer send.Close()
		opts.ConsoleConn = send
	}
	// --no-subreaper is accepted for runc compatibility; hull never becomes a subreaper:
	// it waits only for init, so adopted orphans would pile up as zombies. Orphans of a
	// container with its own pid namespace are reaped by its init; others go to the
	// caller's subreaper (containerd's shim, conmon) as they would with runc -d.
	// Signals are caught from before anything of the container is made (Create waits
	// for the stop signals once the bundle is validated) and before its process runs
	// (all of them, before Start), so none is lost to the default action.
	var sigs *signalCatcher
	if !detach {
		sigs = catchSignals()
		opts.Validated = sigs.StopCaught
	}
	ct, init, err := container.Create(c.String("root"), id, opts)
	if opts.ConsoleConn != nil {
		opts.ConsoleConn.Close()
	}
	if err != nil {
		return err
	}
	var master *os.File
	if spec, _ := ct.Config(); spec.Process.Terminal && ttyRecv != nil { // create recorded it
		conn, err := net.FileConn(ttyRecv)
		if err == nil {
			master, err = console.RecvMaster(conn.(*net.UnixConn))
			conn.Close()
		}
		if err == nil {
			// Before start, so no output of the process is translated.
			err = console.ClearONLCR(master)
		}
		if err != nil {
			deleteFailed(ct)
			return err
		}
		defer master.Close()
	}
	if sigs != nil {
		sigs.StdCaught()
	}
	// runc's relay: detached, run returns once the process has sent READY (or exited),
	// with the process as MAINPID; attached, hull itself stays the main process and is
	// named so, the relay waiting alongside (runc waits before forwarding signals).
	var relay *sdnotify.Relay
	if opts.NotifySocket != "" {
		if relay, err = ct.ListenNotify(opts.NotifySocket); err != nil {
			deleteFailed(ct)
			return err
		}
	}
	if err := ct.Start(); err != nil {
		if relay != nil {
			relay.Close()
		}
		deleteFailed(ct)
		return err
	}
	if detach {
		if relay == nil {
			return nil
		}
		defer relay.Close()
		exited, err := ct.Exited()
		if err != nil {
			return err
		}
		return relay.Forward(init.Pid(), exited)
	}
	initExited := make(chan struct{})
	if relay != nil {
		defer relay.Close()
		go func() {
			if err := relay.Forward(os.Getpid(), initExited); err != nil {
				logs.Warnf("%v", err)
			}
		}()
	}
	sigs.CatchRealtime()
	if master != nil {
		restore := proxyTTY(master)
		defer restore()
	}
	done := make(chan struct{})
	go forwardSignals(sigs.C, done, master, func(sig unix.Signal) error { return ct.Signal(sig, false) })
	code, err := init.Wait()
	close(initExited)
	// No signal.Stop: it waits for the runtime's signal loop to go idle, over a
	// millisecond, and hull exits right after the delete below. A signal that comes
	// meanwhile is caught and dropped, so it cannot interrupt the clean-up.
	close(done)
	if master != nil {
		// Let the output copier drain what the process wrote before it exited.
		drainTTY(master)
	}
	if !c.Bool("keep") {
		if derr := ct.Delete(true); derr != nil {
			logs.Warnf("delete %s: %v", id, derr)
		}
	}
	if err != nil && code < 0 {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

var ttyOut = make(chan struct{})

// proxyTTY copies between hull's stdio and the pty master, with hull's terminal (if any)
// in raw mode so keys reach the container untranslated.
func proxyTTY(master *os.File) func() {
	restore := func() {}
	if t, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		orig := *t
		raw := *t
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		if unix.IoctlSetTermios(0, unix.TCSETS, &raw) == nil {
			restore = func() { _ = unix.IoctlSetTermios(0, unix.TCSETS, &orig) }
		}
		resizeTTY(master)
	}
	go func() { _, _ = io.Copy(master, os.Stdin) }()
	go func() {
		_, _ = io.Copy(os.Stdout, master)
		close(ttyOut)
	}()
	return restore
}

func drainTTY(master *os.File) {
	// The copier ends with EIO once every holder of the pty's other end is gone; a
	// process that escaped the container's pid namespace could keep it open forever.
	select {
	case <-ttyOut:
	case <-time.After(2 * time.Second):
	}
}

func resizeTTY(master *os.File) {
	ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
}

// deleteFailed removes a container run made but could not start; the run's own error is
// what it reports, so a failure here is logged.
func deleteFailed(ct *container.Container) {
	if err := ct.Delete(true); err != nil {
		logs.Warnf("delete %s: %v", ct.ID(), err)
	}
}
