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

	for _, tc := range []struct {
		args []string
		want string
	}{
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
