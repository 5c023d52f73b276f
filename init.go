package main

import (
	"os"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/initproc"
	"github.com/hull-runtime/hull/nsenter"
)

func init() {
	// The init stage sets per-thread state (capabilities, no_new_privs, seccomp) and then
	// execve()s from the same thread: keep the main goroutine on the main thread.
	if len(os.Args) > 1 && os.Args[1] == nsenter.TimeNSHolderArg {
		// /proc/<pid>/timens_offsets speaks for the main thread: it must be the one
		// that unshares the time namespace.
		runtime.LockOSThread()
	}
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// One P from the start: the parent puts GOMAXPROCS=1 in init's environment
		// (initproc.GoMaxProcs).
		runtime.LockOSThread()
		// Init lives for milliseconds before it execs: a garbage collection there is
		// pure start-up latency.
		debug.SetGCPercent(-1)
	}
}

var initCommand = &cli.Command{
	Name:  "init",
	Usage: "internal: the container's init stage, run by hull itself; never call it",
	Description: `hull runs its own binary as "hull init" inside a new container (and inside
a container for exec) to set up the process and exec its program. It
reads its instructions from a socket only hull holds; called any other
way it exits 1.`,
	Hidden: true,
	Action: func(c *cli.Context) error {
		// Errors went to `hull create` over the sync socket; the container's stderr is
		// the user's, not ours.
		initproc.Main()
		os.Exit(1)
		return nil
	},
}
