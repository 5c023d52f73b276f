package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/config"
)

var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "write a default config.json to start a bundle from",
	Description: `Writes config.json into the bundle directory: a runtime-spec 1.3 config
with the content of runc 1.5's template, which runs sh on a terminal, as
root with a few capabilities, in new namespaces, from a read-only root
filesystem in the directory rootfs next to config.json. With --rootless
it adds a user namespace mapping root in the container to the caller's
uid and gid, and leaves out the network namespace and cgroup limits
(hull itself runs containers as root only).

spec prints nothing, and refuses to overwrite an existing config.json.
Edit the file for the program to run; hull check tells what create would
make of the result.

Example:

   mkdir -p box/rootfs && tar -C box/rootfs -xf rootfs.tar
   hull spec --bundle box && hull check --bundle box`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, DefaultText: "the current directory", Usage: "write config.json into `DIR`"},
		&cli.BoolFlag{Name: "rootless", DisableDefaultText: true, Usage: "write the variant for a user namespace owned by the caller"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		path := filepath.Join(c.String("bundle"), "config.json")
		if _, err := os.Lstat(path); err == nil {
			return errors.New("File config.json exists. Remove it first") //nolint:staticcheck // runc's text
		}
		data, err := json.MarshalIndent(config.Default(c.Bool("rootless")), "", "\t")
		if err != nil {
			return err
		}
		return os.WriteFile(path, data, 0o666)
	},
}
