// The runtime would keep the cgroup's CPU limit files open for its GOMAXPROCS updates:
// in init, host cgroup files held while it waits for start (and visible through
// /proc/1/fd). Init and exec's helper run with GOMAXPROCS=1 anyway.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command hull is an OCI container runtime with runc's command line.
package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/libruntime/logs"
)

// Set by the Makefile through -ldflags.
var (
	version   = "0.1.0-dev"
	gitCommit = "unknown"
)

const specVersion = "1.3.0"

// logToFile is set when --log names a file: errors then also go to stderr.
var logToFile bool

// exitError carries a process exit status out of a command without printing an error,
// as `hull run` does with the container's status.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// codeError is a failure reported like any other but with its own exit status, as
// runc's exec fails with 255: callers tell a failed exec from the process's status.
type codeError struct {
	code int
	err  error
}

func (e *codeError) Error() string { return e.err.Error() }
func (e *codeError) Unwrap() error { return e.err }

// urfave's own help and version flags, in hull's words (names unchanged). Set once:
// urfave adds the help flag to each command unless that very flag is there already,
// and newApp runs more than once in a process (normalizeArgs, the tests).
func init() {
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, DisableDefaultText: true, Usage: "print this help and exit"}
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Aliases: []string{"v"}, DisableDefaultText: true, Usage: "print hull's version, its commit and the runtime-spec version it implements"}
}

// appDescription opens `hull --help`: what hull is for and the terms every command's
// help uses.
const appDescription = `hull creates and runs containers from OCI bundles. A bundle is a directory
holding config.json (runtime-spec 1.3) and the root filesystem it names.
Commands and flags are runc's, so containerd's shim, Docker, Podman, CRI-O
and scripts can drive hull in its place.

A container's life: create builds it and leaves its first process, init,
waiting; start lets init run the program of config.json's process.args;
kill signals it; delete removes what is left. run does create and start in
one step and by default waits for the program. state, list, ps and events
report; exec, pause, resume and update act on a live container. Each
container is recorded in the state directory (--root): every command about
a container must be given the same --root.

Global flags go before the command. hull exits 0 on success and 1 on error,
the error on stderr (and in the --log file). run and exec exit with the
status of the process they waited for; a failure of exec itself exits 255.
"hull COMMAND --help" describes each command.

Example:

   mkdir -p demo/rootfs && tar -C demo/rootfs -xf rootfs.tar
   cd demo && hull spec && hull run demo1`

func newApp() *cli.App {
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Printf("hull version %s\ncommit: %s\nspec: %s\n", version, gitCommit, specVersion)
	}
	app := &cli.App{
		Name:                   "hull",
		Usage:                  "run containers from OCI bundles, with runc's command line",
		Description:            appDescription,
		Version:                version,
		UseShortOptionHandling: true,
		// containerd and docker put global flags before the command; subcommands must not
		// swallow `--help` style errors as usage dumps on stdout.
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/hull", Usage: "state directory, a subdirectory per container (made mode 0700 if missing); best on a tmpfs"},
			&cli.StringFlag{Name: "log", Usage: "append hull's log to `FILE` instead of stderr (errors then go to both)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "`FORMAT` of log entries: text (key=value lines) or json (an object per line)"},
			&cli.BoolFlag{Name: "debug", DisableDefaultText: true, Usage: "log debug messages too, with the time each phase of create, start, exec and delete took"},
			&cli.BoolFlag{Name: "systemd-cgroup", DisableDefaultText: true, Usage: "accepted, but hull has no systemd driver: create refuses a slice:prefix:name cgroupsPath"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "accepted and ignored: hull runs containers as root only"},
			&cli.StringFlag{Name: "criu", Hidden: true, Usage: "accepted for runc compatibility and ignored: hull does not checkpoint or restore"},
		},
		Before: func(c *cli.Context) error {
			l, err := logs.Open(c.String("log"), c.String("log-format"), c.Bool("debug"))
			if err != nil {
				return err
			}
			logs.SetDefault(l)
			logToFile = c.String("log") != ""
			// --systemd-cgroup is accepted on every command, as callers configured for
			// systemd pass it everywhere; create refuses what only systemd could do
			// (a slice:prefix:name cgroupsPath) and otherwise manages cgroupfs itself.
			return nil
		},
		Commands: []*cli.Command{
			createCommand,
			startCommand,
			runCommand,
			execCommand,
			pauseCommand,
			resumeCommand,
			psCommand,
			eventsCommand,
			updateCommand,
			stateCommand,
			killCommand,
			deleteCommand,
			listCommand,
			specCommand,
			featuresCommand,
			checkCommand,
			checkpointCommand,
			restoreCommand,
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	return app
}

func main() {
	runStage()
	app := newApp()
	err := app.Run(normalizeArgs(os.Args))
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	var ce *codeError
	if errors.As(err, &ce) {
		report(ce.err)
		os.Exit(ce.code)
	}
	fatal(err)
}

// fatal reports err the way runc does: through the logger, and also on stderr when the
// logger writes somewhere else, so both a human and containerd (which reads the last
// error line of the json log) see it.
//
// The text is bounded: most errors cut the config values they quote, and this catches
// the ones composed from many parts (a mount's paths, a hook's arguments).
func fatal(err error) {
	report(err)
	os.Exit(1)
}

func report(err error) {
	msg := clip.Message(err.Error())
	logs.Default().Errorf("%s", msg)
	if logToFile {
		fmt.Fprintln(os.Stderr, msg)
	}
}

// normalizeArgs rewrites single-dash long flags (`-no-subreaper`, `-bundle`) into their
// double-dash form: runc's old CLI library accepted them and callers such as containerd's
// shim and conmon still send some. Only hull's own flags are touched: the global ones
// before the command, then that command's own, up to its first positional argument or
// `--`. What follows is the container id and the container's command, whose `-version`
// or `-user` belong to the program run, not to hull. Short flags (`-b`, `-d`) and
// combined short flags are left alone.
func normalizeArgs(args []string) []string {
	// Most callers (containerd, the tests) send double-dash flags only: keep them off
	// the cost of building the flag tables.
	if !slices.ContainsFunc(args[1:], maybeLongFlag) {
		return args
	}
	app := newApp()
	out := make([]string, 0, len(args))
	out = append(out, args[0])
	i := normalizeFlags(&out, args, 1, flagTable(app.Flags, "version", "v"))
	if i < len(args) && args[i] != "--" {
		if cmd := app.Command(args[i]); cmd != nil {
			out = append(out, args[i])
			i = normalizeFlags(&out, args, i+1, flagTable(cmd.Flags))
		}
	}
	return append(out, args[i:]...)
}

// maybeLongFlag reports whether a could be a long flag written with one dash.
func maybeLongFlag(a string) bool { return len(a) > 2 && a[0] == '-' && a[1] != '-' }

// flagTable maps each name of flags (and urfave's implicit help flag, and extra, which
// are bool flags) to whether the flag takes a value.
func flagTable(flags []cli.Flag, extra ...string) map[string]bool {
	t := map[string]bool{"help": false, "h": false}
	for _, n := range extra {
		t[n] = false
	}
	for _, f := range flags {
		takes := true
		if v, ok := f.(cli.DocGenerationFlag); ok {
			takes = v.TakesValue()
		}
		for _, n := range f.Names() {
			t[n] = takes
		}
	}
	return t
}

// normalizeFlags copies the flags of one level of the command line, args[i:] up to
// the first word that is not a flag or a flag's value, onto out, rewriting the long
// ones of flags; it returns the index of that word. A flag's value is copied as it is,
// as urfave (Go's flag package) takes the next word as the value whatever it looks like.
func normalizeFlags(out *[]string, args []string, i int, flags map[string]bool) int {
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return i
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takes, known := flags[name]
		switch {
		case a[1] == '-' || len(name) <= 1:
		case known:
			a = "-" + a
		default:
			// Combined short flags (`-dt`, `-tb /b`): urfave splits them and gives
			// the next word to the last one if that takes a value.
			takes = flags[name[len(name)-1:]]
		}
		*out = append(*out, a)
		if takes && !hasValue && i+1 < len(args) {
			i++
			*out = append(*out, args[i])
		}
	}
	return i
}
