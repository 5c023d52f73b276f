package main

import (
	"os"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: "", DefaultText: "the current directory", Usage: "bundle directory `DIR`, holding config.json"},
	&cli.StringFlag{Name: "console-socket", Usage: "send the master end of the container's pseudo-terminal to the AF_UNIX socket at `PATH`"},
	&cli.StringFlag{Name: "pid-file", Usage: "write init's host pid to `FILE` (replaced atomically) before the container starts"},
	&cli.BoolFlag{Name: "no-pivot", DisableDefaultText: true, Usage: "enter the root filesystem with MS_MOVE and chroot, not pivot_root (for an initramfs)"},
	&cli.BoolFlag{Name: "no-new-keyring", DisableDefaultText: true, Usage: "keep the caller's session keyring instead of a new one named _ses.<container-id>"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass hull's next `N` fds (from 3, or after any LISTEN_FDS ones) at the same numbers"},
	&cli.StringFlag{Name: "pidfd-socket", Usage: "send a pidfd of the container's process to the AF_UNIX socket at `PATH`"},
}

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "build a container from a bundle and leave its init waiting for start",
	ArgsUsage: "<container-id>",
	Description: `Creates the container <container-id> from the bundle. config.json goes
through the checks of hull check (the first error fails create with check's
text, warnings are logged); then hull makes the namespaces, cgroup, mounts
and devices it asks for, runs the prestart, createRuntime and
createContainer hooks, and leaves init blocked before the program of
process.args. The container is then "created": hull start runs the
program, hull delete discards the container.

create prints nothing. It exits 0 once init is set up and waiting, with
--pid-file already written, so a caller may read the pid as soon as create
returns; on failure it exits 1 and removes everything it made. Without a
terminal, the process inherits hull's stdin, stdout and stderr: a caller
that reads create's output from a pipe sees end-of-file only once the
container's process closes it too. With process.terminal true, create needs
--console-socket, which receives the pseudo-terminal's master end over
SCM_RIGHTS; without a terminal the flag is refused.

--no-pivot is for a root filesystem on an initramfs, where pivot_root
fails; the host's root then stays in the container's mount namespace,
hidden below the container's root.

The id must match ^[A-Za-z0-9][A-Za-z0-9_+.-]*$, be at most 255 bytes long
and be unused in the state directory.

Example:

   hull create --bundle /containers/web --pid-file /run/web.pid web
   hull start web`,
	Flags: createFlags,
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
