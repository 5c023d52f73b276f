package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "remove a stopped or created container, or with --force any container",
	ArgsUsage: "<container-id>",
	Description: `Removes the container <container-id>: kills any process left in its
cgroup, removes the cgroup and the container's entry in the state
directory, and runs the poststop hooks (a failing one is logged and the
rest go on). A created container's init is killed first. A running or
paused container is refused unless --force is given.

delete prints nothing and exits 0 once everything is gone. With --force a
container that does not exist is not an error, so a caller can repeat
delete -f safely.

Example:

   hull delete web
   hull delete --force web`,
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, DisableDefaultText: true, Usage: "SIGKILL a running or paused container's processes, wait (10 s at most) for init, delete"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		force := c.Bool("force")
		ct, err := loadContainer(c)
		if err != nil {
			// containerd's shim deletes, then force-deletes, a container that may be gone.
			if force && errors.Is(err, container.ErrNotExist) {
				return nil
			}
			return err
		}
		return ct.Delete(force)
	},
}
