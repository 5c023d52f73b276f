package hosttest

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Call is one run of hull by an engine, from hack/e2e/hull-argv.sh's log:
//
//	CALL <pid> <caller's comm> <argv, shell-quoted>
//	EXIT <pid> <exit code>
type Call struct {
	Pid     int
	Caller  string
	Args    []string // hull's arguments
	Exit    int      // -1 while running (or if the wrapper was killed)
	Line    int      // position in the log
	Ended   bool     // an EXIT line was seen
	Root    string   // the global --root, if given
	Sub     string   // the subcommand
	SubArgs []string // the subcommand's arguments
}

func (c Call) String() string {
	exit := "still running"
	if c.Ended {
		exit = "exit " + strconv.Itoa(c.Exit)
	}
	return fmt.Sprintf("%s ran `hull %s`: %s", c.Caller, ShellJoin(c.Args), exit)
}

// Has reports whether the subcommand's arguments include every one of want.
func (c Call) Has(want ...string) bool {
	for _, w := range want {
		if !slices.Contains(c.SubArgs, w) {
			return false
		}
	}
	return true
}

// ReadCalls parses the argv log at path.
func ReadCalls(path string) []Call {
	b, _ := os.ReadFile(path)
	var calls []Call
	open := map[int]int{} // pid -> index in calls
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) < 3 {
			continue
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		switch f[0] {
		case "CALL":
			rest := ""
			if len(f) == 4 {
				rest = f[3]
			}
			words := ShellSplit(f[2] + " " + rest)
			c := Call{Pid: pid, Exit: -1, Line: i}
			if len(words) > 0 {
				c.Caller, c.Args = words[0], words[1:]
			}
			c.Root, c.Sub, c.SubArgs = Subcommand(c.Args)
			open[pid] = len(calls)
			calls = append(calls, c)
		case "EXIT":
			if j, ok := open[pid]; ok {
				calls[j].Exit, _ = strconv.Atoi(f[2])
				calls[j].Ended = true
				delete(open, pid)
			}
		}
	}
	return calls
}

// Subcommand splits hull's argv into the --root value, the subcommand and its
// arguments, skipping the global flags.
func Subcommand(args []string) (root, sub string, subArgs []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--root" || a == "--log" || a == "--log-format" || a == "--rootless" || a == "--criu":
			if a == "--root" && i+1 < len(args) {
				root = args[i+1]
			}
			i++
		case strings.HasPrefix(a, "--root="):
			root = strings.TrimPrefix(a, "--root=")
		case strings.HasPrefix(a, "-"):
		default:
			return root, a, args[i+1:]
		}
	}
	return root, "", nil
}
