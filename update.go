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
	Usage:     "update container resource constraints",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "path to the file containing the resources to update or '-' to read from the standard input"},
		&cli.StringFlag{Name: "blkio-weight", Usage: "Specifies per cgroup weight, range is from 10 to 1000"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
		&cli.StringFlag{Name: "cpu-burst", Usage: "how much unused quota (in usecs) the container may carry over and spend above --cpu-quota in a later period (cpu.max.burst)"},
		&cli.StringFlag{Name: "cpu-idle", Usage: "1 to run the container's tasks with the SCHED_IDLE policy's weight, 0 for the normal one (cpu.idle)"},
		&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares (relative weight vs. other containers)"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPU(s) to use"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "Memory node(s) to use"},
		&cli.StringFlag{Name: "kernel-memory", Usage: "Kernel memory limit (in bytes); ignored on cgroup v2"},
		&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "Kernel memory limit for tcp buffer (in bytes); ignored on cgroup v2"},
		&cli.StringFlag{Name: "memory", Usage: "Memory limit (in bytes)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "Memory reservation or soft_limit (in bytes)"},
		&cli.StringFlag{Name: "memory-swap", Usage: "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
		&cli.StringFlag{Name: "pids-limit", Usage: "Maximum number of pids allowed in the container"},
		&cli.StringFlag{Name: "l3-cache-schema", Usage: "The string of Intel RDT/CAT L3 cache schema (not supported)"},
		&cli.StringFlag{Name: "mem-bw-schema", Usage: "The string of Intel RDT/MBA memory bandwidth schema (not supported)"},
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
