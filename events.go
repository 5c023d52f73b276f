package main

import (
	"encoding/json"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
	"github.com/hull-runtime/hull/libruntime/logs"
)

// event is runc's events output: {"type":"stats"|"oom","id":...,"data":...}.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "stream a container's resource statistics and OOM kills as JSON",
	ArgsUsage: "<container-id>",
	Description: `Writes one JSON object per line about the container <container-id>, in
runc's events format: {"type":"stats","id":...,"data":{...}} with the CPU,
memory, pids, block I/O and hugetlb statistics of its cgroup every
--interval, and {"type":"oom","id":...} when the kernel's OOM killer ends
one of its processes (looked for every 200 ms). events runs until the
container stops, then exits 0. With --stats it writes one stats object and
exits. The container must be created, running or paused.

Example:

   hull events --interval 10s web`,
	Flags: []cli.Flag{
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between stats objects, a `DURATION` such as 500ms or 1m"},
		&cli.BoolFlag{Name: "stats", DisableDefaultText: true, Usage: "write the statistics once and exit"},
	},
	Action: withContainer(func(c *cli.Context, ct *container.Container) error {
		if _, err := ct.Gate(container.OpEvents); err != nil {
			return err
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
		// Without a count (no memory controller, the cgroup gone) OOM kills cannot be
		// reported; said once, at debug, rather than every poll.
		ooms, oomErr := ct.OOMKillCount()
		if oomErr != nil {
			logs.Debugf("events %s: OOM kill count: %v", ct.ID(), oomErr)
		}
		for {
			select {
			case <-oomTick.C:
				if !eventsLive(ct) {
					return nil
				}
				n, err := ct.OOMKillCount()
				if err != nil && oomErr == nil {
					logs.Debugf("events %s: OOM kill count: %v", ct.ID(), err)
				}
				oomErr = err
				if err == nil && n > ooms {
					ooms = n
					if err := enc.Encode(event{Type: "oom", ID: ct.ID()}); err != nil {
						return err
					}
				}
			case <-statsTick.C:
				st, err := ct.Stats()
				if err != nil {
					if !eventsLive(ct) {
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

// eventsLive reports whether events may still report on ct: the stream ends, with success,
// once the container stops and the state machine refuses events.
func eventsLive(ct *container.Container) bool {
	_, err := ct.Gate(container.OpEvents)
	return err == nil
}
