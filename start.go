package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
	"github.com/hull-runtime/hull/libruntime/logs"
)

var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "executes the user defined process in a created container",
	ArgsUsage: "<container-id>",
	Action:    withContainer(start),
}

// start starts the container and, with NOTIFY_SOCKET set, returns only once the
// container's process has sent READY (relayed there with its pid as MAINPID) or has
// exited, as runc's start does for a systemd unit of Type=notify.
func start(_ *cli.Context, ct *container.Container) error {
	host := os.Getenv("NOTIFY_SOCKET")
	if host == "" {
		return ct.Start()
	}
	relay, err := ct.ListenNotify(host)
	if err != nil {
		return err
	}
	if err := ct.Start(); err != nil {
		if relay != nil {
			relay.Close()
		}
		return err
	}
	if relay == nil {
		// Created without NOTIFY_SOCKET, so the process has no socket to notify: runc
		// fails here after starting it; the container runs, and the unit's wait for
		// READY is its own.
		logs.Debugf("NOTIFY_SOCKET: container %s was created without it; nothing to relay", ct.ID())
		return nil
	}
	defer relay.Close()
	exited, err := ct.Exited()
	if err != nil {
		return err
	}
	return relay.Forward(ct.Pid(), exited)
}
