package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// unsupportedCommand stands in for a runc command hull does not implement yet, so a
// caller gets a plain refusal (and a non-zero exit) rather than a CLI library's "No
// help topic". Its flags are not parsed: runc's are all accepted and ignored, so the
// refusal is the same whatever the caller passes. That includes --help, which must
// fail too: Podman (CRRuntimeSupportsCheckpointRestore) takes a zero exit of
// `RUNTIME checkpoint --help` to mean the runtime can checkpoint. The help text is
// for `hull --help`'s list and for readers of the code.
func unsupportedCommand(name, usage string) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage + " (not supported by hull yet)",
		ArgsUsage: "<container-id>",
		Description: `hull does not drive CRIU, so it cannot save a container's processes to
disk or recreate them. This command accepts runc's flags without reading
them and always fails with exit status 1, "hull ` + name + ` --help" included:
callers such as Podman probe for checkpoint support by that exit status.`,
		SkipFlagParsing: true,
		Action: func(*cli.Context) error {
			return fmt.Errorf("%s is not supported by hull", name)
		},
	}
}

// Checkpoint and restore need CRIU, which hull does not drive.
var (
	checkpointCommand = unsupportedCommand("checkpoint", "write a running container's processes to disk, with CRIU")
	restoreCommand    = unsupportedCommand("restore", "bring a container back from files checkpoint wrote")
)
