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
	Usage:     "output the state of a container",
	ArgsUsage: "<container-id>",
	Action: onContainer(func(ct *container.Container) error {
		data, err := json.MarshalIndent(toStateJSON(ct), "", "  ")
		if err != nil {
			return err
		}
		os.Stdout.Write(append(data, '\n'))
		return nil
	}),
}
