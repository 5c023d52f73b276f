package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/features"
)

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print what this hull and kernel support, as the runtime-spec features JSON",
	Description: `Prints the features this hull implements as the JSON "features" document
of the runtime-spec (features.md): the ociVersion range, hooks, mount
options, namespaces, capabilities, cgroup, seccomp and other Linux
features, and annotations naming hull's version, commit and libseccomp.
Lists are limited to what the running kernel supports where hull depends
on it (capabilities, namespaces, seccomp flags).

Example:

   hull features`,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		out, err := features.Marshal(features.Document(version, gitCommit))
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(out)
		return err
	},
}
