//go:build linux

package cri

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hull-runtime/hull/tests/internal/hosttest"
)

// call is one run of hull by the shim, from hack/e2e/hull-argv.sh's log:
//
//	CALL <pid> <caller's comm> <argv, shell-quoted>
//	EXIT <pid> <exit code>
type call struct {
	caller string
	args   []string // hull's arguments
	exit   int
	ended  bool   // an EXIT line was seen
	root   string // the global --root, if given
	sub    string // the subcommand
	subArg []string
}

func (c call) String() string {
	exit := "still running"
	if c.ended {
		exit = "exit " + strconv.Itoa(c.exit)
	}
	return fmt.Sprintf("%s ran `hull %s`: %s", c.caller, strings.Join(c.args, " "), exit)
}

// names reports whether the subcommand's arguments include id.
func (c call) names(id string) bool {
	for _, a := range c.subArg {
		if a == id {
			return true
		}
	}
	return false
}

func readCalls(log string) []call {
	b, _ := os.ReadFile(log)
	var calls []call
	open := map[int]int{} // pid -> index in calls
	for _, line := range strings.Split(string(b), "\n") {
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
			words := hosttest.ShellSplit(f[2] + " " + rest)
			var c call
			if len(words) > 0 {
				c.caller, c.args = words[0], words[1:]
			}
			c.root, c.sub, c.subArg = subcommand(c.args)
			open[pid] = len(calls)
			calls = append(calls, c)
		case "EXIT":
			if j, ok := open[pid]; ok {
				calls[j].exit, _ = strconv.Atoi(f[2])
				calls[j].ended = true
				delete(open, pid)
			}
		}
	}
	return calls
}

// subcommand splits hull's argv into the --root value, the subcommand and
// its arguments.
func subcommand(args []string) (root, sub string, subArgs []string) {
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
