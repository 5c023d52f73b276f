package main

import (
	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "let a created container's init run the program of process.args",
	ArgsUsage: "<container-id>",
	Description: `Starts the created container <container-id>: its init runs the
startContainer hooks inside the container, then execs the program of
config.json's process.args, and hull runs the poststart hooks. The
container is then "running".

start returns as soon as the program has been exec'd, without waiting for
it, prints nothing and exits 0. It exits 1 if the container is not in the
created state (a paused one included), if init died, or if a hook failed;
a failing poststart hook leaves the container stopped, for hull delete to
remove.

Example:

   hull create web && hull start web`,
	Action: onContainer((*container.Container).Start),
}
