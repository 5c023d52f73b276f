package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
	"github.com/hull-runtime/hull/libruntime/logs"
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
it, prints nothing and exits 0. With NOTIFY_SOCKET set in hull's
environment and in create's, it returns only once the program has sent
READY=1 there (relayed to that socket with MAINPID) or has exited. It
exits 1 if the container is not in the created state (a paused one
included), if init died, or if a hook failed; a failing poststart hook
leaves the container stopped, for hull delete to remove.

Example:

   hull create web && hull start web`,
	Action: withContainer(start),
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
