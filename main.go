// Command hull is an OCI container runtime with runc's command line.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/libruntime/initproc"
	"github.com/hull-runtime/hull/libruntime/logs"
	"github.com/hull-runtime/hull/nsenter"
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

func newApp() *cli.App {
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Printf("hull version %s\ncommit: %s\nspec: %s\n", version, gitCommit, specVersion)
	}
	app := &cli.App{
		Name:                   "hull",
		Usage:                  "an OCI container runtime",
		Version:                version,
		UseShortOptionHandling: true,
		// containerd and docker put global flags before the command; subcommands must not
		// swallow `--help` style errors as usage dumps on stdout.
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/hull", Usage: "root directory for storage of container state (this should be located in tmpfs)"},
			&cli.StringFlag{Name: "log", Usage: "set the log file to write hull logs to (default is '/dev/stderr')"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support (not supported yet)"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
			&cli.StringFlag{Name: "criu", Hidden: true},
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
			initCommand,
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	return app
}

func main() {
	// The init stage is hull re-executed inside a container, once per container start:
	// skip the command line machinery entirely on that hot path.
	if len(os.Args) == 2 && os.Args[1] == "init" {
		initproc.Main()
		os.Exit(1)
	}
	if len(os.Args) == 2 && os.Args[1] == nsenter.TimeNSHolderArg {
		nsenter.TimeNSHolder()
		os.Exit(0)
	}
	app := newApp()
	err := app.Run(normalizeArgs(os.Args))
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
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
	msg := clip.Message(err.Error())
	logs.Default().Errorf("%s", msg)
	if logToFile {
		fmt.Fprintln(os.Stderr, msg)
	}
	os.Exit(1)
}

// normalizeArgs rewrites single-dash long flags (`-no-subreaper`, `-bundle`) into their
// double-dash form: runc's old CLI library accepted them and callers such as containerd's
// shim and conmon still send some. Short flags (`-b`, `-d`) and combined short flags are
// left alone, and nothing after a lone `--` or the container command's own args is touched.
func normalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	out = append(out, args[0])
	for i, a := range args[1:] {
		if a == "--" {
			out = append(out, args[1+i:]...)
			break
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name := a[1:]
			if eq := strings.IndexByte(name, '='); eq >= 0 {
				name = name[:eq]
			}
			if len(name) > 1 && isLongFlag(name) {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// longFlags lists every long flag name of every command, for normalizeArgs.
var longFlags = map[string]bool{}

func isLongFlag(name string) bool {
	if len(longFlags) == 0 {
		collectFlags(newApp())
	}
	return longFlags[name]
}

func collectFlags(app *cli.App) {
	add := func(fs []cli.Flag) {
		for _, f := range fs {
			for _, n := range f.Names() {
				if len(n) > 1 {
					longFlags[n] = true
				}
			}
		}
	}
	add(app.Flags)
	for _, c := range app.Commands {
		add(c.Flags)
	}
	longFlags["help"] = true
	longFlags["version"] = true
}
