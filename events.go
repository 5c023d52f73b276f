package main

import (
	"encoding/json"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

// event is runc's events output: {"type":"stats"|"oom","id":...,"data":...}.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "set the stats collection interval"},
		&cli.BoolFlag{Name: "stats", Usage: "display the container's stats then exit"},
	},
	Action: withContainer(func(c *cli.Context, ct *container.Container) error {
		if s := ct.Status(); s == container.Stopped || s == container.Creating {
			return container.ErrNotRunning
		}
		enc := json.NewEncoder(os.Stdout)
		if c.Bool("stats") {
			st, err := ct.Stats()
			if err != nil {
				return err
			}
			return enc.Encode(event{Type: "stats", ID: ct.ID(), Data: st})
		}
		interval := c.Duration("interval")
		if interval <= 0 {
			interval = 5 * time.Second
		}
		// OOM kills are polled at a short period so they are reported promptly even
		// with a long stats interval; stats go out every interval.
		oomTick := time.NewTicker(200 * time.Millisecond)
		defer oomTick.Stop()
		statsTick := time.NewTicker(interval)
		defer statsTick.Stop()
		ooms, _ := ct.OOMKillCount()
		for {
			select {
			case <-oomTick.C:
				if ct.Status() == container.Stopped {
					return nil
				}
				if n, err := ct.OOMKillCount(); err == nil && n > ooms {
					ooms = n
					if err := enc.Encode(event{Type: "oom", ID: ct.ID()}); err != nil {
						return err
					}
				}
			case <-statsTick.C:
				st, err := ct.Stats()
				if err != nil {
					if ct.Status() == container.Stopped {
						return nil
					}
					return err
				}
				if err := enc.Encode(event{Type: "stats", ID: ct.ID(), Data: st}); err != nil {
					return err
				}
			}
		}
	}),
}
