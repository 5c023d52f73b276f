package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/container"
)

var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "change the resource limits of a live container",
	ArgsUsage: "<container-id>",
	Description: `Changes the cgroup limits of the container <container-id>, which must be
created, running or paused, and records them, so that hull state and later
updates start from them. Only what is given changes. --resources reads a
runtime-spec linux.resources object (config.json's "resources": memory,
cpu, pids, blockIO, hugepageLimits, devices, unified, ...); each section
it has replaces that section of the limits in force, unified keys are
merged one by one, and the flags then apply on top of it.

Limits are cgroup v2's, converted as the runtime-spec and runc do. Memory
sizes are bytes, with an optional k, m, g or t suffix (powers of 1024; a
trailing b and a fraction are accepted: 512m, 1.5g), or -1 for no limit.
CPU times are microseconds. A value hull refuses fails the update (exit 1,
naming the field) before anything is written; one the kernel refuses fails
it too, with the limits written before it kept.

Example:

   hull update --memory 512m --memory-swap 1g --pids-limit 200 web
   echo '{"cpu": {"quota": 50000, "period": 100000}}' | hull update -r - web`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "read a linux.resources JSON object from `FILE`, or from stdin if FILE is -"},
		&cli.StringFlag{Name: "blkio-weight", Usage: "relative block I/O `WEIGHT`, 10 to 1000 (io.bfq.weight, or io.weight rescaled)"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU bandwidth period in `MICROSECONDS` (cpu.max); 0 keeps the current one"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU time in `MICROSECONDS` allowed per period (cpu.max); negative for no limit"},
		&cli.StringFlag{Name: "cpu-burst", Usage: "unused quota, in `MICROSECONDS`, that may be spent above the quota later (cpu.max.burst)"},
		&cli.StringFlag{Name: "cpu-idle", Usage: "1 to give the container's tasks SCHED_IDLE's lowest weight, 0 for normal (cpu.idle)"},
		&cli.StringFlag{Name: "cpu-share", Usage: "relative CPU weight in v1 `SHARES`, 2 to 262144 (1024 makes cpu.weight 100)"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "realtime CPU period: cgroup v2 has none, so anything but 0 is refused"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "realtime CPU runtime: cgroup v2 has none, so anything but 0 is refused"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "`CPUS` the container may run on, a list such as 0-3,6 (cpuset.cpus)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory `NODES` the container may allocate from, a list such as 0-1 (cpuset.mems)"},
		&cli.StringFlag{Name: "kernel-memory", Usage: "accepted and ignored: cgroup v2 has no kernel memory limit"},
		&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "accepted and ignored: cgroup v2 has no TCP buffer limit"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit (memory.max): a `SIZE` in bytes, k, m, g or t suffix allowed, or -1"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory protected from reclaim (memory.low), a `SIZE` like --memory's"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap, a `SIZE` like --memory's, not below it; -1 for unlimited swap"},
		&cli.StringFlag{Name: "pids-limit", Usage: "`NUMBER` of processes and threads allowed (pids.max); -1 for no limit"},
		&cli.StringFlag{Name: "l3-cache-schema", Usage: "refused if given: hull does not support Intel RDT"},
		&cli.StringFlag{Name: "mem-bw-schema", Usage: "refused if given: hull does not support Intel RDT"},
	},
	Action: withContainer(func(c *cli.Context, ct *container.Container) error {
		return ct.Update(func(cur *specs.LinuxResources) (*specs.LinuxResources, error) {
			return updatedResources(c, cur)
		})
	}),
}

// updatedResources merges what the command line asks for into the resources in force:
// fields not named keep their values, as with runc.
func updatedResources(c *cli.Context, cur *specs.LinuxResources) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if cur != nil {
		data, err := json.Marshal(cur)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, r); err != nil {
			return nil, err
		}
	}
	if path := c.String("resources"); path != "" {
		var in io.Reader = os.Stdin
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			in = f
		}
		var given specs.LinuxResources
		if err := json.NewDecoder(in).Decode(&given); err != nil {
			return nil, fmt.Errorf("--resources: decode: %w", err)
		}
		mergeResources(r, &given)
	}
	if c.String("l3-cache-schema") != "" || c.String("mem-bw-schema") != "" {
		return nil, errors.New("--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported by hull")
	}
	if r.Memory == nil {
		r.Memory = &specs.LinuxMemory{}
	}
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	var pids *int64
	var blkio *uint16
	for _, err := range []error{
		flagValue(c, "memory", &r.Memory.Limit, parseBytes),
		flagValue(c, "memory-reservation", &r.Memory.Reservation, parseBytes),
		flagValue(c, "memory-swap", &r.Memory.Swap, parseBytes),
		flagValue(c, "kernel-memory", &r.Memory.Kernel, parseBytes), //nolint:staticcheck // accepted, ignored on v2
		flagValue(c, "kernel-memory-tcp", &r.Memory.KernelTCP, parseBytes),
		flagValue(c, "cpu-period", &r.CPU.Period, parseUint),
		flagValue(c, "cpu-share", &r.CPU.Shares, parseUint),
		flagValue(c, "cpu-rt-period", &r.CPU.RealtimePeriod, parseUint),
		flagValue(c, "cpu-quota", &r.CPU.Quota, parseInt),
		flagValue(c, "cpu-burst", &r.CPU.Burst, parseUint),
		flagValue(c, "cpu-idle", &r.CPU.Idle, parseInt),
		flagValue(c, "cpu-rt-runtime", &r.CPU.RealtimeRuntime, parseInt),
		flagValue(c, "pids-limit", &pids, parseInt),
		flagValue(c, "blkio-weight", &blkio, parseUint16),
	} {
		if err != nil {
			return nil, err
		}
	}
	if v := c.String("cpuset-cpus"); v != "" {
		r.CPU.Cpus = v
	}
	if v := c.String("cpuset-mems"); v != "" {
		r.CPU.Mems = v
	}
	if pids != nil {
		if r.Pids == nil {
			r.Pids = &specs.LinuxPids{}
		}
		r.Pids.Limit = pids
	}
	if blkio != nil {
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = blkio
	}
	if *r.Memory == (specs.LinuxMemory{}) {
		r.Memory = nil
	}
	if r.CPU.Shares == nil && r.CPU.Quota == nil && r.CPU.Period == nil && r.CPU.RealtimeRuntime == nil &&
		r.CPU.RealtimePeriod == nil && r.CPU.Cpus == "" && r.CPU.Mems == "" && r.CPU.Burst == nil && r.CPU.Idle == nil {
		r.CPU = nil
	}
	return r, nil
}

// mergeResources overlays the fields set in given onto r.
func mergeResources(r, given *specs.LinuxResources) {
	if given.Devices != nil {
		r.Devices = given.Devices
	}
	if given.Memory != nil {
		r.Memory = given.Memory
	}
	if given.CPU != nil {
		r.CPU = given.CPU
	}
	if given.Pids != nil {
		r.Pids = given.Pids
	}
	if given.BlockIO != nil {
		r.BlockIO = given.BlockIO
	}
	if given.HugepageLimits != nil {
		r.HugepageLimits = given.HugepageLimits
	}
	if given.Network != nil {
		r.Network = given.Network
	}
	if given.Rdma != nil {
		r.Rdma = given.Rdma
	}
	if given.Unified != nil {
		if r.Unified == nil {
			r.Unified = map[string]string{}
		}
		for k, v := range given.Unified {
			r.Unified[k] = v
		}
	}
}

// parseBytes reads a size like runc's update flags take: a number with an optional
// k, m, g or t suffix (binary units, optional "b"), or -1 for unlimited.
// flagValue sets *dst to the parsed value of flag name, if it was given.
func flagValue[T any](c *cli.Context, name string, dst **T, parse func(string) (T, error)) error {
	v := c.String(name)
	if v == "" {
		return nil
	}
	n, err := parse(v)
	if err != nil {
		return fmt.Errorf("--%s: %w", name, err)
	}
	*dst = &n
	return nil
}

func parseInt(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q", v)
	}
	return n, nil
}

func parseUint(v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q", v)
	}
	return n, nil
}

func parseUint16(v string) (uint16, error) {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q", v)
	}
	return uint16(n), nil
}

func parseBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.TrimSuffix(v, "b")
	mult := int64(1)
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			v = v[:n-1]
		}
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(n * float64(mult)), nil
}
