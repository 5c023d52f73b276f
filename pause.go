package main

import (
	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "pause suspends all processes inside the container",
	ArgsUsage: "<container-id>",
	Action:    onContainer((*container.Container).Pause),
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "resumes all processes that have been previously paused",
	ArgsUsage: "<container-id>",
	Action:    onContainer((*container.Container).Resume),
}
