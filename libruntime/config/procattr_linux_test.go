package config

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestProcAttrsValidation: every refusal of the scheduler, I/O priority, exec CPU
// affinity, personality and memory policy names its field and says what to change,
// and the valid forms pass.
func TestProcAttrsValidation(t *testing.T) {
	bundle := testBundle(t)
	sched := func(sc specs.Scheduler) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Process.Scheduler = &sc }
	}
	ioprio := func(class string, prio int) func(*specs.Spec) {
		return func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPriorityClass(class), Priority: prio}
		}
	}
	affinity := func(initial, final string) func(*specs.Spec) {
		return func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: initial, Final: final} }
	}
	pers := func(domain string, flags ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			p := &specs.LinuxPersonality{Domain: specs.LinuxPersonalityDomain(domain)}
			for _, f := range flags {
				p.Flags = append(p.Flags, specs.LinuxPersonalityFlag(f))
			}
			s.Linux.Personality = p
		}
	}
	mpol := func(mode, nodes string, flags ...string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			m := &specs.LinuxMemoryPolicy{Mode: specs.MemoryPolicyModeType(mode), Nodes: nodes}
			for _, f := range flags {
				m.Flags = append(m.Flags, specs.MemoryPolicyFlagType(f))
			}
			s.Linux.MemoryPolicy = m
		}
	}
	tests := []struct {
		name   string
		mutate func(*specs.Spec)
		field  string // "" for valid
		msg    string // in the message
	}{
		{"sched other nice", sched(specs.Scheduler{Policy: specs.SchedOther, Nice: -5}), "", ""},
		{"sched fifo", sched(specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}), "", ""},
		{"sched rr 99", sched(specs.Scheduler{Policy: specs.SchedRR, Priority: 99}), "", ""},
		{"sched batch", sched(specs.Scheduler{Policy: specs.SchedBatch, Nice: 19}), "", ""},
		{"sched idle", sched(specs.Scheduler{Policy: specs.SchedIdle}), "", ""},
		{"sched deadline", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 2e6, Period: 3e6}), "", ""},
		{"sched deadline period 0", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 1e6}), "", ""},
		{"sched every flag", sched(specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{
			"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_KEEP_POLICY",
			"SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX"}}), "", ""},
		{"sched no policy", sched(specs.Scheduler{Nice: 1}), "process.scheduler.policy", "missing"},
		{"sched unknown policy", sched(specs.Scheduler{Policy: "SCHED_FAST"}), "process.scheduler.policy", "unknown policy"},
		{"sched iso", sched(specs.Scheduler{Policy: specs.SchedISO}), "process.scheduler.policy", "SCHED_ISO"},
		{"sched unknown flag", sched(specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_X"}}),
			"process.scheduler.flags[1]", "unknown flag"},
		{"sched nice low", sched(specs.Scheduler{Policy: specs.SchedOther, Nice: -21}), "process.scheduler.nice", "out of range"},
		{"sched nice high", sched(specs.Scheduler{Policy: specs.SchedIdle, Nice: 20}), "process.scheduler.nice", "out of range"},
		{"sched fifo no priority", sched(specs.Scheduler{Policy: specs.SchedFIFO}), "process.scheduler.priority", "out of range"},
		{"sched rr priority 100", sched(specs.Scheduler{Policy: specs.SchedRR, Priority: 100}), "process.scheduler.priority", "out of range"},
		{"sched other priority", sched(specs.Scheduler{Policy: specs.SchedOther, Priority: 5}), "process.scheduler.priority", "only SCHED_FIFO and SCHED_RR"},
		{"sched other runtime", sched(specs.Scheduler{Policy: specs.SchedBatch, Runtime: 1e6}), "process.scheduler", "SCHED_DEADLINE only"},
		{"sched deadline no runtime", sched(specs.Scheduler{Policy: specs.SchedDeadline, Deadline: 1e6}), "process.scheduler.runtime", "minimum"},
		{"sched deadline below runtime", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 2e6, Deadline: 1e6}), "process.scheduler.deadline", "below runtime"},
		{"sched period below deadline", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 2e6, Period: 15e5}), "process.scheduler.period", "below deadline"},
		{"sched deadline huge", sched(specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 1 << 63}), "process.scheduler", "2^63"},
		{"sched deadline priority", sched(specs.Scheduler{Policy: specs.SchedDeadline, Priority: 1, Runtime: 1e6, Deadline: 1e6}), "process.scheduler.priority", "only SCHED_FIFO"},

		{"ioprio rt", ioprio("IOPRIO_CLASS_RT", 0), "", ""},
		{"ioprio be", ioprio("IOPRIO_CLASS_BE", 7), "", ""},
		{"ioprio idle", ioprio("IOPRIO_CLASS_IDLE", 0), "", ""},
		{"ioprio no class", ioprio("", 0), "process.ioPriority.class", "missing"},
		{"ioprio unknown class", ioprio("IOPRIO_CLASS_NONE", 0), "process.ioPriority.class", "unknown class"},
		{"ioprio priority 8", ioprio("IOPRIO_CLASS_BE", 8), "process.ioPriority.priority", "out of range"},
		{"ioprio priority negative", ioprio("IOPRIO_CLASS_IDLE", -1), "process.ioPriority.priority", "out of range"},

		{"affinity", affinity("0-3,7", "1"), "", ""},
		{"affinity final only", affinity("", "0,1"), "", ""},
		{"affinity initial word", affinity("all", ""), "process.execCPUAffinity.initial", "not a list of numbers"},
		{"affinity final reversed", affinity("", "3-1"), "process.execCPUAffinity.final", "ends below its start"},
		{"affinity final trailing comma", affinity("", "1,"), "process.execCPUAffinity.final", "not a list of numbers"},
		{"affinity final sign", affinity("", "+1"), "process.execCPUAffinity.final", "not a list of numbers"},
		{"affinity final space", affinity("", "0, 1"), "process.execCPUAffinity.final", "not a list of numbers"},
		{"affinity final too big", affinity("", "1024"), "process.execCPUAffinity.final", "largest"},

		{"personality linux", pers("LINUX"), "", ""},
		{"personality linux32", pers("LINUX32"), "", ""},
		{"personality no domain", pers(""), "linux.personality.domain", "missing"},
		{"personality unknown domain", pers("SVR4"), "linux.personality.domain", "unknown domain"},
		{"personality flag", pers("LINUX", "ADDR_NO_RANDOMIZE"), "linux.personality.flags", "defines no personality flag"},

		{"mpol default", mpol("MPOL_DEFAULT", ""), "", ""},
		{"mpol local", mpol("MPOL_LOCAL", ""), "", ""},
		{"mpol preferred local", mpol("MPOL_PREFERRED", ""), "", ""},
		{"mpol preferred", mpol("MPOL_PREFERRED", "1"), "", ""},
		{"mpol bind balancing", mpol("MPOL_BIND", "0-1", "MPOL_F_NUMA_BALANCING"), "", ""},
		{"mpol interleave static", mpol("MPOL_INTERLEAVE", "2-3", "MPOL_F_STATIC_NODES"), "", ""},
		{"mpol weighted relative", mpol("MPOL_WEIGHTED_INTERLEAVE", "0,1", "MPOL_F_RELATIVE_NODES"), "", ""},
		{"mpol preferred many", mpol("MPOL_PREFERRED_MANY", "0"), "", ""},
		{"mpol no mode", mpol("", "0"), "linux.memoryPolicy.mode", "missing"},
		{"mpol unknown mode", mpol("MPOL_FAST", "0"), "linux.memoryPolicy.mode", "unknown mode"},
		{"mpol unknown flag", mpol("MPOL_BIND", "0", "MPOL_F_NOPE"), "linux.memoryPolicy.flags[0]", "unknown flag"},
		{"mpol bad nodes", mpol("MPOL_BIND", "zero"), "linux.memoryPolicy.nodes", "not a list of numbers"},
		{"mpol node too big", mpol("MPOL_BIND", "1024"), "linux.memoryPolicy.nodes", "largest"},
		{"mpol bind no nodes", mpol("MPOL_BIND", ""), "linux.memoryPolicy.nodes", "at least one node"},
		{"mpol interleave no nodes", mpol("MPOL_INTERLEAVE", ""), "linux.memoryPolicy.nodes", "at least one node"},
		{"mpol default nodes", mpol("MPOL_DEFAULT", "0"), "linux.memoryPolicy.nodes", "takes no nodes"},
		{"mpol local nodes", mpol("MPOL_LOCAL", "0"), "linux.memoryPolicy.nodes", "takes no nodes"},
		{"mpol default flags", mpol("MPOL_DEFAULT", "", "MPOL_F_STATIC_NODES"), "linux.memoryPolicy.flags", "takes no flags"},
		{"mpol static and relative", mpol("MPOL_BIND", "0", "MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"), "linux.memoryPolicy.flags", "exclude each other"},
		{"mpol balancing interleave", mpol("MPOL_INTERLEAVE", "0", "MPOL_F_NUMA_BALANCING"), "linux.memoryPolicy.flags", "MPOL_BIND or MPOL_PREFERRED_MANY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Default(false)
			tc.mutate(s)
			errs := ValidateAll(s, bundle)
			if tc.field == "" {
				if len(errs) > 0 {
					t.Fatalf("want no error, got %v", errs)
				}
				return
			}
			if got := fields(errs); !slices.Equal(got, []string{tc.field}) {
				t.Fatalf("fields = %q, want [%q]\nerrors: %v", got, tc.field, errs)
			}
			e := errs[0]
			if !strings.Contains(e.Msg, tc.msg) || e.Fix == "" {
				t.Errorf("error %q: want a message with %q and a fix", e, tc.msg)
			}
		})
	}
}

// TestValidateExec: exec refuses what create refuses in its process, with the
// same texts.
func TestValidateExec(t *testing.T) {
	bundle := testBundle(t)
	for _, tc := range []struct {
		name string
		set  func(*specs.Process)
	}{
		{"apparmor", func(p *specs.Process) { p.ApparmorProfile = "un\nconfined" }},
		{"selinux", func(p *specs.Process) { p.SelinuxLabel = "system_u:system_r:container_t:s0\x00" }},
		{"scheduler", func(p *specs.Process) { p.Scheduler = &specs.Scheduler{Policy: specs.SchedISO} }},
		{"ioPriority", func(p *specs.Process) { p.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_BE", Priority: 9} }},
		{"execCPUAffinity", func(p *specs.Process) { p.ExecCPUAffinity = &specs.CPUAffinity{Final: "x"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Default(false)
			tc.set(s.Process)
			want := ValidateAll(s, bundle)
			if len(want) != 1 {
				t.Fatalf("create: %v, want one error", want)
			}
			err := ValidateExec(s.Process)
			if err == nil || err.Error() != want[0].Error() {
				t.Errorf("exec: %v, want create's %q", err, want[0])
			}
		})
	}
	if err := ValidateExec(Default(false).Process); err != nil {
		t.Errorf("exec of the default process: %v", err)
	}
}

// TestProcAttrValues: what init hands the kernel.
func TestProcAttrValues(t *testing.T) {
	attr, err := SchedAttr("f", &specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1e6, Deadline: 2e6, Period: 3e6,
		Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork, specs.SchedFlagDLOverrun}})
	if err != nil {
		t.Fatal(err)
	}
	if want := (unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: 6, Flags: 0x5, Runtime: 1e6, Deadline: 2e6, Period: 3e6}); *attr != want {
		t.Errorf("deadline: %+v, want %+v", *attr, want)
	}
	attr, err = SchedAttr("f", &specs.Scheduler{Policy: specs.SchedRR, Priority: 42, Nice: -3})
	if err != nil || attr.Policy != 2 || attr.Priority != 42 || attr.Nice != -3 {
		t.Errorf("rr: %+v, %v", attr, err)
	}
	for class, want := range map[string]int{"IOPRIO_CLASS_RT": 1<<13 | 4, "IOPRIO_CLASS_BE": 2<<13 | 4, "IOPRIO_CLASS_IDLE": 3<<13 | 4} {
		if got, err := IOPriority("f", &specs.LinuxIOPriority{Class: specs.IOPriorityClass(class), Priority: 4}); err != nil || got != want {
			t.Errorf("%s: %#x, %v; want %#x", class, got, err, want)
		}
	}
	if v, err := Personality("f", &specs.LinuxPersonality{Domain: specs.PerLinux32}); err != nil || v != 8 {
		t.Errorf("LINUX32: %#x, %v", v, err)
	}
	mp, err := MemoryPolicy("f", &specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "0,2-3,64", Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}})
	if err != nil {
		t.Fatal(err)
	}
	if mp.Mode != unix.MPOL_INTERLEAVE|unix.MPOL_F_STATIC_NODES || !slices.Equal(mp.Mask, []uint64{0b1101, 1}) || mp.MaxNode != 129 {
		t.Errorf("interleave: %+v", *mp)
	}
	set, err := CPUAffinity("f", "0-2,5")
	if err != nil || set.Count() != 4 || !set.IsSet(5) || set.IsSet(3) {
		t.Errorf("0-2,5: %v, %v", set, err)
	}
	if set, err := CPUAffinity("f", ""); set != nil || err != nil {
		t.Errorf("empty: %v, %v", set, err)
	}
}
