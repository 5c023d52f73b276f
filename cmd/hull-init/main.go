// As in hull's main.go: the runtime would otherwise keep the cgroup's CPU limit
// files open for its GOMAXPROCS updates, host files held by init while it waits.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command hull-init is hull's init stage on its own: a container's init, exec's
// helper and the second stage of a joined pid namespace (libruntime/initproc), built
// without what only hull's commands need (the command line, cgroup drivers, the
// device filter loader, libseccomp through cgo, D-Bus). Those packages' initialisation
// and their share of the binary's page faults are what every Go process pays before
// main: this binary starts ~0.9 ms sooner than hull does as `hull init`, once per
// create and once per exec. hull embeds it (libruntime/exeseal) and starts it from a
// sealed handle exactly as it would start itself; it is never installed or run by
// hand.
package main

import (
	"os"
	"runtime"

	"github.com/hull-runtime/hull/libruntime/initproc"
)

// init runs before main, as hull's own init() does for this stage: capabilities,
// no_new_privs and seccomp are per thread and init execs from the thread that set
// them, so the main goroutine stays on the main thread. (GOMAXPROCS=1 and GOGC=off
// come in the environment, from the parent.)
func init() {
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) != 2 || os.Args[1] != initproc.Arg {
		_, _ = os.Stderr.WriteString("hull-init is started by hull, not by hand\n")
		os.Exit(2)
	}
	// Errors went to the parent over the sync socket; the container's stderr is the
	// user's, not ours.
	_ = initproc.Main()
	os.Exit(1)
}
