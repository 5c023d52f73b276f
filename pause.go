package main

import (
	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "freeze every process of a container",
	ArgsUsage: "<container-id>",
	Description: `Freezes all processes of the container <container-id> through its cgroup
(cgroup.freeze) and returns once the kernel reports the cgroup frozen. The
container must be created or running; it is then "paused" until hull
resume. A paused container cannot be started, nor can exec run a process
in it; delete --force still removes it.

Example:

   hull pause web`,
	Action: onContainer((*container.Container).Pause),
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "thaw the processes of a paused container",
	ArgsUsage: "<container-id>",
	Description: `Undoes hull pause: thaws the cgroup of the container <container-id> and
returns once the kernel reports it thawed. The container must be paused;
it is then running again, or created if it was paused before start.

Example:

   hull resume web`,
	Action: onContainer((*container.Container).Resume),
}
