package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

var killCommand = &cli.Command{
	Name:      "kill",
	Usage:     "send a signal to a container's init, or to all of its processes",
	ArgsUsage: "<container-id> [<signal>]",
	Description: `Sends <signal> to init of the container <container-id>, or with --all to
every process in its cgroup. The signal is a name, with or without the SIG
prefix and in any case (TERM, SIGKILL, usr1), or a number from 0 to 64; it
defaults to SIGTERM. Signal 0 sends nothing and only checks that init
still exists.

The container must be created, running or paused; kill --all also accepts
a stopped one, to reach processes left in its cgroup after init exited
(nothing left is a success). kill prints nothing and returns once the
signal is sent, without waiting for any process to exit. When init is
pid 1 of its own pid namespace, the kernel delivers to it only the signals
it has a handler for, and SIGKILL and SIGSTOP.

Example:

   hull kill web
   hull kill --all web KILL`,
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, DisableDefaultText: true, Usage: "signal every process in the container's cgroup, not only init"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 2); err != nil {
			return err
		}
		sigstr := c.Args().Get(1)
		if sigstr == "" {
			sigstr = "SIGTERM"
		}
		sig, err := parseSignal(sigstr)
		if err != nil {
			return err
		}
		ct, err := loadContainer(c)
		if err != nil {
			return err
		}
		return ct.Signal(sig, c.Bool("all"))
	},
}

// parseSignal accepts what runc accepts: a number, or a name with or without "SIG".
// 0 is kill(2)'s null signal: nothing is sent, only init's existence is checked.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("unknown signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("unknown signal %q", s)
	}
	return sig, nil
}
