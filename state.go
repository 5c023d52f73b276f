package main

import (
	"encoding/json"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

// stateJSON is runc's state output: the spec's state plus rootfs, created and owner.
type stateJSON struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

func toStateJSON(ct *container.Container) stateJSON {
	return stateJSON{
		Version:     specVersion,
		ID:          ct.ID(),
		Pid:         ct.Pid(),
		Status:      string(ct.Status()),
		Bundle:      ct.Bundle(),
		Rootfs:      ct.Rootfs(),
		Created:     ct.Created(),
		Annotations: ct.Annotations(),
		Owner:       ct.Owner(),
	}
}

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "print a container's state as JSON",
	ArgsUsage: "<container-id>",
	Description: `Prints the state of the container <container-id> as one JSON object: the
runtime-spec state (ociVersion, id, status, pid, bundle, and annotations
when the config has any) and, as runc prints them, rootfs, created (an RFC
3339 time) and owner. status is creating, created, running, paused or
stopped, as found at the time of the call; pid is init's host pid, or 0
once the container has stopped. A container that does not exist is an
error (exit 1).

Example:

   hull state web`,
	Action: onContainer(func(ct *container.Container) error {
		data, err := json.MarshalIndent(toStateJSON(ct), "", "  ")
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(append(data, '\n'))
		return err
	}),
}
