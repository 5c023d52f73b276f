package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"

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

// stopSignals are those a terminal or a supervisor sends to end a process, each fatal
// to hull by default: they are caught first.
var stopSignals = []os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM}

// catchSignals starts catching every signal, in the background. signal.Notify costs a
// round trip to the Go runtime's signal-mask thread per signal, 0.5-2.5 ms for all of
// them here, which can overlap with loading or creating the container.
//
// early returns once stopSignals are caught: call it before making anything that a
// signal's default action would leave half-made. all returns once every signal is
// caught: call it before the container's process can run, so none meant for it meets
// hull's default action instead of being forwarded. Waiting for all of them up front
// cost `hull run` a millisecond; a rarer signal (SIGUSR1, a real-time one) that comes
// in between ends hull as it would end runc, and `hull delete` removes what was made.
func catchSignals() (sigc chan os.Signal, early, all func()) {
	sigc = make(chan os.Signal, 32)
	stopped := make(chan struct{})
	done := make(chan struct{})
	go func() {
		signal.Notify(sigc, stopSignals...)
		close(stopped)
		signal.Notify(sigc)
		close(done)
	}()
	return sigc, func() { <-stopped }, func() { <-done }
}
