package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete any resources held by the container often used with detached container",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "Forcibly deletes the container if it is still running (uses SIGKILL)"},
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
