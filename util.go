package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/container"
)

// containerID returns the command's single container id argument.
func containerID(c *cli.Context) (string, error) {
	if c.NArg() < 1 {
		return "", errors.New("container id cannot be empty")
	}
	return c.Args().First(), nil
}

// checkArgs enforces a command's argument count with runc's wording.
func checkArgs(c *cli.Context, min, max int) error {
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		want := fmt.Sprintf("%d", min)
		if max != min {
			want = fmt.Sprintf("at least %d", min)
		}
		return fmt.Errorf("%s: %q requires %s argument(s)", "hull", c.Command.Name, want)
	}
	return nil
}

func loadContainer(c *cli.Context) (*container.Container, error) {
	id, err := containerID(c)
	if err != nil {
		return nil, err
	}
	return container.Load(c.String("root"), id)
}

// withContainer is the Action of a command that takes exactly a container id: it loads
// the container and hands it to op with the command's flags.
func withContainer(op func(*cli.Context, *container.Container) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		ct, err := loadContainer(c)
		if err != nil {
			return err
		}
		return op(c, ct)
	}
}

// onContainer is withContainer for one operation of the library that needs no flags.
func onContainer(op func(*container.Container) error) cli.ActionFunc {
	return withContainer(func(_ *cli.Context, ct *container.Container) error { return op(ct) })
}

// Signals hull forwards to the container's process, caught in three stages, each a
// signal.Notify that costs a round trip to the Go runtime's signal-mask thread per
// signal: ~30 us here, and CPU on both cores, which `hull run` felt as 0.6 ms when all
// 60 were caught while it created the container.
var (
	// stopSignals are those a terminal or a supervisor sends to end a process. Each is
	// fatal to hull by default, so they are caught before anything is made.
	stopSignals = []os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM}
	// stdSignals are the other standard ones, caught before the process runs. (Not
	// SIGCHLD or SIGURG, the runtime's preemption signal: neither is forwarded.)
	stdSignals = []os.Signal{
		unix.SIGABRT, unix.SIGALRM, unix.SIGBUS, unix.SIGCONT, unix.SIGFPE, unix.SIGILL,
		unix.SIGIO, unix.SIGPIPE, unix.SIGPROF, unix.SIGPWR, unix.SIGSEGV, unix.SIGSTKFLT,
		unix.SIGSYS, unix.SIGTRAP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGUSR1,
		unix.SIGUSR2, unix.SIGVTALRM, unix.SIGWINCH, unix.SIGXCPU, unix.SIGXFSZ,
	}
)

// signalCatcher catches the signals hull forwards, in the background.
type signalCatcher struct {
	C        chan os.Signal
	stopDone chan struct{}
	stdDone  chan struct{}
}

// catchSignals starts catching stopSignals, then stdSignals, in the background, while
// the container is loaded or created.
func catchSignals() *signalCatcher {
	s := &signalCatcher{C: make(chan os.Signal, 32), stopDone: make(chan struct{}), stdDone: make(chan struct{})}
	go func() {
		signal.Notify(s.C, stopSignals...)
		close(s.stopDone)
		signal.Notify(s.C, stdSignals...)
		close(s.stdDone)
	}()
	return s
}

// StopCaught returns once stopSignals are caught: call it before making anything that
// a signal's default action would leave half-made. Another fatal signal (SIGABRT, say)
// that comes earlier ends hull as it would end runc; `hull delete` removes what was made.
func (s *signalCatcher) StopCaught() { <-s.stopDone }

// StdCaught returns once the standard signals are caught: call it before the
// container's process can run, so none meant for it is lost.
func (s *signalCatcher) StdCaught() { <-s.stdDone }

// realtimeDelay is how long the process runs before the real-time signals are caught.
const realtimeDelay = 25 * time.Millisecond

// CatchRealtime starts catching the real-time signals once the process has run for
// realtimeDelay. Until then the Go runtime ignores them (none is fatal to a Go
// program), so one sent in the process's first 25 ms is not forwarded. What that buys:
// the 30 round trips cost `hull run` of a short command 0.35 ms more, in the clean-up
// after start or, caught earlier, in create; a long-running one pays them once, idle.
func (s *signalCatcher) CatchRealtime() {
	go func() {
		<-s.stdDone
		time.Sleep(realtimeDelay)
		var rt []os.Signal
		for n := 35; n <= 64; n++ {
			rt = append(rt, unix.Signal(n))
		}
		signal.Notify(s.C, rt...)
	}()
}
