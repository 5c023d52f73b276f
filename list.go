package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

var listCommand = &cli.Command{
	Name:  "list",
	Usage: "list the containers in the state directory",
	Description: `Lists every container in the state directory (--root), sorted by id: a
table with the columns ID, PID, STATUS, BUNDLE, CREATED and OWNER (the
user owning the container's entry in the state directory), or with
--format json an array of objects like those hull state prints, with the
owner filled in as in the table. A state directory that does not exist is
an error, so that a mistyped --root is not taken for a host without
containers.

Example:

   hull --root /run/hull list --quiet`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "output `FORMAT`: table or json"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, DisableDefaultText: true, Usage: "print only the container ids, one per line"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		cts, err := container.List(c.String("root"))
		if err != nil {
			return err
		}
		var states []stateJSON
		for _, ct := range cts {
			s := toStateJSON(ct)
			s.Owner = dirOwner(c.String("root"), ct.ID())
			states = append(states, s)
		}
		if c.Bool("quiet") {
			for _, s := range states {
				fmt.Println(s.ID)
			}
			return nil
		}
		switch c.String("format") {
		case "table":
			// The tabwriter holds every line until Flush, which returns the write's error.
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			_, _ = fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				_, _ = fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			return w.Flush()
		case "json":
			return json.NewEncoder(os.Stdout).Encode(states)
		default:
			return fmt.Errorf("invalid format option")
		}
	},
}

// dirOwner names the user owning the container's state dir, as runc's list does.
func dirOwner(root, id string) string {
	fi, err := os.Stat(root + "/" + id)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	uid := strconv.Itoa(int(st.Uid))
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return "#" + uid
}
