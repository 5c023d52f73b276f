package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

func TestNormalizeArgs(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"hull", "-root", "/r", "create", "-bundle", "/b", "x"}, []string{"hull", "--root", "/r", "create", "--bundle", "/b", "x"}},
		{[]string{"hull", "run", "-no-subreaper", "-d", "x"}, []string{"hull", "run", "--no-subreaper", "-d", "x"}},
		{[]string{"hull", "create", "-b", "/b", "x"}, []string{"hull", "create", "-b", "/b", "x"}},
		{[]string{"hull", "create", "-pid-file=/p", "x"}, []string{"hull", "create", "--pid-file=/p", "x"}},
		{[]string{"hull", "kill", "x", "--", "-root"}, []string{"hull", "kill", "x", "--", "-root"}},
		{[]string{"hull", "list", "-la"}, []string{"hull", "list", "-la"}},

		// The container's command is never hull's to rewrite: everything from the
		// first positional argument of the command on goes through as given.
		{[]string{"hull", "exec", "ct", "java", "-version"}, []string{"hull", "exec", "ct", "java", "-version"}},
		{[]string{"hull", "exec", "-t", "ct", "java", "-version"}, []string{"hull", "exec", "-t", "ct", "java", "-version"}},
		{[]string{"hull", "exec", "-tty", "-cwd", "/tmp", "ct", "java", "-version"}, []string{"hull", "exec", "--tty", "--cwd", "/tmp", "ct", "java", "-version"}},
		{[]string{"hull", "exec", "ct", "find", ".", "-name", "x", "-user", "0", "-debug"}, []string{"hull", "exec", "ct", "find", ".", "-name", "x", "-user", "0", "-debug"}},
		{[]string{"hull", "exec", "ct", "sh", "-c", "ls -la -root", "-env", "-detach"}, []string{"hull", "exec", "ct", "sh", "-c", "ls -la -root", "-env", "-detach"}},
		{[]string{"hull", "exec", "-e", "A=1", "ct", "--", "ls", "-tty"}, []string{"hull", "exec", "-e", "A=1", "ct", "--", "ls", "-tty"}},
		{[]string{"hull", "exec", "-tty", "--", "ct", "java", "-version"}, []string{"hull", "exec", "--tty", "--", "ct", "java", "-version"}},
		{[]string{"hull", "exec", "--", "ct", "-version"}, []string{"hull", "exec", "--", "ct", "-version"}},
		{[]string{"hull", "run", "-bundle", "/b", "ct", "-detach"}, []string{"hull", "run", "--bundle", "/b", "ct", "-detach"}},
		// A flag's value is not a flag, even when it looks like one.
		{[]string{"hull", "exec", "-env", "-version", "ct", "sh"}, []string{"hull", "exec", "--env", "-version", "ct", "sh"}},
		{[]string{"hull", "exec", "--cwd", "-root", "ct", "sh"}, []string{"hull", "exec", "--cwd", "-root", "ct", "sh"}},
		{[]string{"hull", "create", "-b", "-pid-file", "ct"}, []string{"hull", "create", "-b", "-pid-file", "ct"}},

		// Global flags before the command, each level with its own flags only.
		{[]string{"hull", "-root", "/x", "list"}, []string{"hull", "--root", "/x", "list"}},
		{[]string{"hull", "-root=/x", "-debug", "list", "-quiet"}, []string{"hull", "--root=/x", "--debug", "list", "--quiet"}},
		{[]string{"hull", "--debug", "exec", "-t", "ct", "java", "-version"}, []string{"hull", "--debug", "exec", "-t", "ct", "java", "-version"}},
		{[]string{"hull", "-log", "/l", "-log-format", "json", "exec", "-cwd", "/", "ct", "ls", "-root"}, []string{"hull", "--log", "/l", "--log-format", "json", "exec", "--cwd", "/", "ct", "ls", "-root"}},
		{[]string{"hull", "--root", "-debug", "list"}, []string{"hull", "--root", "-debug", "list"}},
		{[]string{"hull", "-bundle", "/b", "create", "ct"}, []string{"hull", "-bundle", "/b", "create", "ct"}},
		{[]string{"hull", "list", "-root", "/x"}, []string{"hull", "list", "-root", "/x"}},
		{[]string{"hull", "-version"}, []string{"hull", "--version"}},
		{[]string{"hull", "exec", "-help"}, []string{"hull", "exec", "--help"}},
		{[]string{"hull", "nosuch", "-root", "x"}, []string{"hull", "nosuch", "-root", "x"}},
		{[]string{"hull", "-=", "list"}, []string{"hull", "-=", "list"}},
		{[]string{"hull", "run", "-db", "/b", "-keep", "ct"}, []string{"hull", "run", "-db", "/b", "--keep", "ct"}},
	} {
		if got := normalizeArgs(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("normalizeArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal
		ok   bool
	}{
		{"9", unix.SIGKILL, true},
		{"KILL", unix.SIGKILL, true},
		{"SIGKILL", unix.SIGKILL, true},
		{"sigterm", unix.SIGTERM, true},
		{"USR1", unix.SIGUSR1, true},
		{"FOO", 0, false},
		{"0", 0, true},
		{"65", 0, false},
		{"-1", 0, false},
	} {
		got, err := parseSignal(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSignal(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "TERM=xterm", "A=1"}, []string{"TERM=dumb", "B=2", "A=3", "B=4"})
	want := []string{"PATH=/bin", "TERM=dumb", "A=3", "B=4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mergeEnv = %q, want %q", got, want)
	}
}

// noArgs are the commands that take no positional argument: every other command must
// say in ArgsUsage what it takes, so a new command fails TestHelpTexts until it does
// or is listed here.
var noArgs = map[string]bool{"list": true, "spec": true, "features": true, "check": true, "init": true}

// unimplemented are runc's commands hull refuses. Their --help must fail as the
// command does: Podman takes `RUNTIME checkpoint --help` exiting 0 to mean that
// checkpoints are supported.
var unimplemented = map[string]bool{"checkpoint": true, "restore": true}

// Help text limits: urfave indents a description by 3 columns, so 77 keeps it within
// 80; a flag's Usage is one line after the flag names.
const (
	maxDescriptionLine = 77
	maxFlagUsage       = 100
)

// runApp runs hull's command line in this process with args, capturing what it
// prints; a nil error is what makes main exit 0.
func runApp(args ...string) (string, error) {
	app := newApp()
	var out bytes.Buffer
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(append([]string{"hull"}, args...))
	return out.String(), err
}

// checkUsage holds the one style of every one-line Usage, command or flag: set, one
// line, no final period, and starting in lower case unless with an upper-case token
// (CPU, SIGKILL, a placeholder such as `NUMBER`).
func checkUsage(t *testing.T, what, u string) {
	t.Helper()
	first, _, _ := strings.Cut(strings.Trim(u, "`"), " ")
	switch {
	case u == "":
		t.Errorf("%s: no Usage", what)
	case strings.Contains(u, "\n"):
		t.Errorf("%s: Usage %q spans lines", what, u)
	case strings.HasSuffix(u, "."):
		t.Errorf("%s: Usage %q ends in a period; none does", what, u)
	case unicode.IsUpper([]rune(first)[0]) && strings.ToUpper(first) != first:
		t.Errorf("%s: Usage %q starts with a capital; usages start in lower case", what, u)
	}
}

func checkFlags(t *testing.T, where string, flags []cli.Flag) {
	t.Helper()
	for _, f := range flags {
		what := where + " --" + f.Names()[0]
		d, ok := f.(cli.DocGenerationFlag)
		if !ok {
			t.Errorf("%s: %T has no Usage", what, f)
			continue
		}
		u := d.GetUsage()
		checkUsage(t, what, u)
		if len(u) > maxFlagUsage {
			t.Errorf("%s: Usage is %d bytes, more than %d; put the detail in the command's Description", what, len(u), maxFlagUsage)
		}
		// urfave appends the default itself.
		if strings.Contains(u, "(default") {
			t.Errorf("%s: Usage %q states the default, which the help already prints", what, u)
		}
	}
}

func checkDescription(t *testing.T, what, d string) {
	t.Helper()
	if strings.TrimSpace(d) == "" {
		t.Errorf("%s: no Description", what)
	}
	for i, l := range strings.Split(d, "\n") {
		if len(l) > maxDescriptionLine {
			t.Errorf("%s: Description line %d is %d columns, more than %d: %q", what, i+1, len(l), maxDescriptionLine, l)
		}
		if strings.TrimRight(l, " \t") != l {
			t.Errorf("%s: Description line %d ends in blanks", what, i+1)
		}
	}
}

// TestHelpTexts holds the structure of hull's help: every command, hidden ones too,
// has a Usage, a Description and, if it takes arguments, an ArgsUsage; every flag has
// a Usage in the common style; and `hull --help` and `hull COMMAND --help` succeed and
// print them.
func TestHelpTexts(t *testing.T) {
	app := newApp()
	checkUsage(t, "hull", app.Usage)
	checkDescription(t, "hull", app.Description)
	checkFlags(t, "hull", app.Flags)
	checkFlags(t, "hull", []cli.Flag{cli.HelpFlag, cli.VersionFlag})

	out, err := runApp("--help")
	if err != nil {
		t.Fatalf("hull --help: %v", err)
	}
	if first, _, _ := strings.Cut(app.Description, "\n"); !strings.Contains(out, first) {
		t.Errorf("hull --help does not print the description:\n%s", out)
	}
	for _, f := range app.VisibleFlags() {
		if !strings.Contains(out, "--"+f.Names()[0]) {
			t.Errorf("hull --help does not list --%s", f.Names()[0])
		}
	}

	for _, cmd := range app.Commands {
		t.Run(cmd.Name, func(t *testing.T) {
			checkUsage(t, cmd.Name, cmd.Usage)
			checkDescription(t, cmd.Name, cmd.Description)
			checkFlags(t, cmd.Name, cmd.Flags)
			if cmd.ArgsUsage == "" && !noArgs[cmd.Name] {
				t.Errorf("%s: no ArgsUsage (add it, or list the command in noArgs if it takes no argument)", cmd.Name)
			}
			if cmd.ArgsUsage != "" && noArgs[cmd.Name] {
				t.Errorf("%s: ArgsUsage %q for a command listed in noArgs", cmd.Name, cmd.ArgsUsage)
			}
			if !cmd.Hidden && !strings.Contains(out, "   "+cmd.Name+" ") {
				t.Errorf("hull --help does not list %s", cmd.Name)
			}
			if !cmd.Hidden && !strings.Contains(out, cmd.Usage) {
				t.Errorf("hull --help does not give the Usage of %s", cmd.Name)
			}

			for _, help := range []string{"--help", "-h"} {
				got, err := runApp(cmd.Name, help)
				if unimplemented[cmd.Name] {
					if err == nil {
						t.Errorf("hull %s %s succeeded; it must fail as the command does", cmd.Name, help)
					}
					continue
				}
				if err != nil {
					t.Errorf("hull %s %s: %v", cmd.Name, help, err)
					continue
				}
				for _, want := range append([]string{cmd.Usage, cmd.ArgsUsage}, strings.Split(cmd.Description, "\n")...) {
					if !strings.Contains(got, strings.TrimSpace(want)) {
						t.Errorf("hull %s %s does not print %q:\n%s", cmd.Name, help, want, got)
						break
					}
				}
				for _, f := range cmd.VisibleFlags() {
					if !strings.Contains(got, "--"+f.Names()[0]) {
						t.Errorf("hull %s %s does not list --%s", cmd.Name, help, f.Names()[0])
					}
				}
			}
		})
	}
}
