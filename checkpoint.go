package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// unsupportedCommand stands in for a runc command hull does not implement yet, so a
// caller gets a plain refusal (and a non-zero exit) rather than a CLI library's "No
// help topic". Its flags are not parsed: runc's are all accepted and ignored, so the
// refusal is the same whatever the caller passes.
func unsupportedCommand(name, usage string) *cli.Command {
	return &cli.Command{
		Name:            name,
		Usage:           usage + " (not supported by hull yet)",
		ArgsUsage:       "<container-id>",
		SkipFlagParsing: true,
		Action: func(*cli.Context) error {
			return fmt.Errorf("%s is not supported by hull", name)
		},
	}
}

// Checkpoint and restore need CRIU, which hull does not drive.
var (
	checkpointCommand = unsupportedCommand("checkpoint", "save the state of a running container")
	restoreCommand    = unsupportedCommand("restore", "restore a container from a checkpoint")
)
