package main

import (
	"os"
	"runtime"

	"github.com/hull-runtime/hull/libruntime/initproc"
	"github.com/hull-runtime/hull/nsenter"
)

// hull re-executes itself for two hidden stages, each started with exactly one argument
// by hull itself and never by a user: "init" (libruntime/initproc: a container's init,
// exec's helper, the second stage of a joined pid namespace) and the time namespace
// holder (nsenter.NewTimeNS) and its probe (nsenter.ExecEntersTimeNS). This file is their one entry: init() prepares the thread
// before main runs, and runStage, main's first call, runs the stage and never returns.

// stage is the hidden stage this process runs, or "".
var stage = func() string {
	if len(os.Args) == 2 && (os.Args[1] == initproc.Arg || os.Args[1] == nsenter.TimeNSHolderArg || os.Args[1] == nsenter.TimeNSProbeArg) {
		return os.Args[1]
	}
	return ""
}()

func init() {
	switch stage {
	case initproc.Arg:
		// Capabilities, no_new_privs and seccomp are per thread, and init execs from
		// the thread that set them: keep the main goroutine on the main thread. One P
		// from the start and no garbage collection: the parent puts GOMAXPROCS=1 and
		// GOGC=off in init's environment.
		runtime.LockOSThread()
	case nsenter.TimeNSHolderArg:
		// /proc/<pid>/timens_offsets speaks for the main thread: it must be the one
		// that unshares the time namespace.
		runtime.LockOSThread()
	}
}

// runStage runs the hidden stage, skipping the command line machinery on that hot path
// (init runs once per container start and per exec). It returns only when this process
// is not a stage.
func runStage() {
	switch stage {
	case initproc.Arg:
		// Errors went to the parent over the sync socket; the container's stderr is
		// the user's, not ours.
		_ = initproc.Main()
		os.Exit(1)
	case nsenter.TimeNSHolderArg:
		nsenter.TimeNSHolder()
		os.Exit(0)
	case nsenter.TimeNSProbeArg:
		nsenter.TimeNSProbe()
		os.Exit(0)
	}
}
