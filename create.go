package main

import (
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: "", Usage: "path to the root of the bundle directory, defaults to the current directory"},
	&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
	&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
	&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the init process"},
}

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container",
	ArgsUsage: "<container-id>",
	Flags:     createFlags,
	Action: func(c *cli.Context) error {
		id, err := containerID(c)
		if err != nil {
			return err
		}
		_, _, err = container.Create(c.String("root"), id, createOpts(c))
		return err
	},
}

func createOpts(c *cli.Context) *container.CreateOpts {
	bundle := c.String("bundle")
	if bundle == "" {
		bundle = "."
	}
	return &container.CreateOpts{
		Bundle:        bundle,
		PidFile:       c.String("pid-file"),
		ConsoleSocket: c.String("console-socket"),
		NoPivot:       c.Bool("no-pivot"),
		NoNewKeyring:  c.Bool("no-new-keyring"),
		PreserveFDs:   c.Int("preserve-fds"),
		ListenFDs:     listenFDs(),
		SystemdCgroup: c.Bool("systemd-cgroup"),
		PidfdSocket:   c.String("pidfd-socket"),
		NotifySocket:  os.Getenv("NOTIFY_SOCKET"),
	}
}

// listenFDs is how many fds systemd's socket activation passed to this process: none
// unless LISTEN_PID names it, since a LISTEN_FDS inherited from an ancestor describes
// fds that were meant for the ancestor (runc reads them the same way).
func listenFDs() int {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
