package main

import (
	"flag"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

func updateContext(t *testing.T, args ...string) *cli.Context {
	t.Helper()
	set := flag.NewFlagSet("update", flag.ContinueOnError)
	for _, f := range updateCommand.Flags {
		if err := f.Apply(set); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Parse(args); err != nil {
		t.Fatal(err)
	}
	return cli.NewContext(nil, set, nil)
}

func TestUpdatedResources(t *testing.T) {
	limit := int64(100)
	cur := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}, CPU: &specs.LinuxCPU{Cpus: "0"}}
	r, err := updatedResources(updateContext(t, "--memory", "64M", "--cpu-quota", "50000", "--cpu-share", "512",
		"--pids-limit", "20", "--blkio-weight", "500"), cur)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case r.Memory == nil || r.Memory.Limit == nil || *r.Memory.Limit != 64<<20:
		t.Errorf("memory: %+v", r.Memory)
	case r.CPU == nil || r.CPU.Quota == nil || *r.CPU.Quota != 50000 || r.CPU.Shares == nil || *r.CPU.Shares != 512 || r.CPU.Cpus != "0":
		t.Errorf("cpu: %+v", r.CPU)
	case r.Pids == nil || *r.Pids.Limit != 20:
		t.Errorf("pids: %+v", r.Pids)
	case r.BlockIO == nil || r.BlockIO.Weight == nil || *r.BlockIO.Weight != 500:
		t.Errorf("blkio: %+v", r.BlockIO)
	case *cur.Pids.Limit != 100:
		t.Errorf("the resources in force were changed in place: %d", *cur.Pids.Limit)
	}

	// runc 1.2's --cpu-burst and --cpu-idle, alone: they must not be dropped with the
	// rest of an otherwise empty cpu section.
	r, err = updatedResources(updateContext(t, "--cpu-burst", "20000", "--cpu-idle", "1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.CPU == nil || r.CPU.Burst == nil || *r.CPU.Burst != 20000 || r.CPU.Idle == nil || *r.CPU.Idle != 1 {
		t.Errorf("--cpu-burst 20000 --cpu-idle 1: cpu %+v", r.CPU)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cpu-burst", "-1"}, `--cpu-burst: invalid value "-1"`},
		{[]string{"--cpu-share", "abc"}, `--cpu-share: invalid value "abc"`},
		{[]string{"--cpu-quota", "1.5"}, `--cpu-quota: invalid value "1.5"`},
		{[]string{"--blkio-weight", "70000"}, `--blkio-weight: invalid value "70000"`},
		{[]string{"--pids-limit", "x"}, `--pids-limit: invalid value "x"`},
	} {
		_, err := updatedResources(updateContext(t, tc.args...), nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
