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
	Usage:     "kill sends the specified signal (default: SIGTERM) to the container's init process",
	ArgsUsage: "<container-id> [signal]",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the specified signal to all processes inside the container"},
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
