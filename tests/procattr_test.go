//go:build linux

package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// procattrProbe prints the scheduler, I/O priority, memory policy, personality and
// CPU affinity of its thread as the kernel reports them (testdata/procattr).
var procattrProbe = &testTool{pkg: "./testdata/procattr", name: "procattr-probe"}

// probeFields parses the probe's name=value words.
func probeFields(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, w := range strings.Fields(out) {
		if k, v, ok := strings.Cut(w, "="); ok {
			m[k] = v
		}
	}
	if _, ok := m["personality"]; !ok {
		t.Fatalf("no probe output in %q", out)
	}
	return m
}

func checkFields(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// TestProcAttrCreate: the container's process runs with the scheduler, I/O
// priority, memory policy and personality config.json asks for, as the process
// itself sees them (sched_getattr, ioprio_get, get_mempolicy, personality).
func TestProcAttrCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		want   map[string]string
	}{
		{"fifo+rt-io+bind+linux32", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10,
				Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 3}
			// One NUMA node here: node 0 still makes a policy get_mempolicy reports.
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
		}, map[string]string{"policy": "1", "priority": "10", "flags": "0x1", "ioprio": "0x2003",
			"mempolicy": "0x2", "nodes": "0x1", "personality": "0x8"}},
		{"batch+nice+idle-io+interleave", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 7}
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "0",
				Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}}
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux}
		}, map[string]string{"policy": "3", "nice": "7", "priority": "0", "ioprio": "0x6000",
			"mempolicy": "0x8003", "nodes": "0x1", "personality": "0x0"}},
		{"rr+be-io", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedRR, Priority: 99,
				Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}
		}, map[string]string{"policy": "2", "priority": "99", "ioprio": "0x4006", "mempolicy": "0x0"}},
		{"deadline", func(s *specs.Spec) {
			// RESET_ON_FORK: fork refuses a deadline task, the probe's Go runtime
			// starts threads.
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedDeadline, Runtime: 1000000, Deadline: 10000000, Period: 10000000,
				Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}
		}, map[string]string{"policy": "6", "runtime": "1000000", "deadline": "10000000", "period": "10000000", "flags": "0x1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			procattrProbe.install(t, h, "procattr")
			s := baseSpec("procattr")
			tc.mutate(s)
			r := h.run(s)
			mustExit(t, r, 0)
			checkFields(t, probeFields(t, r.stdout), tc.want)
		})
	}
}

// TestProcAttrJoinedPidNS: a container that joins another's pid namespace has its
// process forked into it by nsenter's tail (or a second stage of init, with a
// startContainer hook), which must set the scheduler itself.
func TestProcAttrJoinedPidNS(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first := h.startContainer(sleeperSpec())
	for _, hook := range []bool{false, true} {
		t.Run(fmt.Sprintf("hook=%v", hook), func(t *testing.T) {
			sib := h.sibling(t)
			procattrProbe.install(t, sib, "procattr")
			s := baseSpec("procattr")
			joinPidNS(s, first.Pid)
			if hook {
				s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
			}
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedRR, Priority: 7,
				Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 5}
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
			r := sib.run(s)
			mustExit(t, r, 0)
			checkFields(t, probeFields(t, r.stdout), map[string]string{"policy": "2", "priority": "7", "ioprio": "0x4005", "personality": "0x8"})
		})
	}
}

// TestProcAttrUname: LINUX32 is what uname(1) shows.
func TestProcAttrUname(t *testing.T) {
	t.Parallel()
	s := baseSpec("uname", "-m")
	s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	r := runContainer(t, s)
	mustExit(t, r, 0)
	if got := strings.TrimSpace(r.stdout); got != "i686" {
		t.Errorf("uname -m under LINUX32: %q, want i686", got)
	}
}

// TestProcAttrExec: an exec'd process gets the container's memory policy and
// personality, the scheduler and I/O priority of its process (the container's
// without -p, process.json's with it), and execCPUAffinity.final.
func TestProcAttrExec(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	procattrProbe.install(t, h, "procattr")
	s := sleeperSpec()
	s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
	s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 1}
	s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}
	s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	h.startContainer(s)

	t.Run("config", func(t *testing.T) {
		r := h.do("exec", h.id, "procattr")
		mustExit(t, r, 0)
		checkFields(t, probeFields(t, r.stdout), map[string]string{"policy": "3", "nice": "5", "ioprio": "0x4001",
			"mempolicy": "0x2", "nodes": "0x1", "personality": "0x8", "cpus": "0,1"})
	})
	t.Run("process.json", func(t *testing.T) {
		pj := writeProcessJSON(t, h, &specs.Process{
			Args: []string{"procattr"}, Cwd: "/", Env: []string{"PATH=/bin"},
			Scheduler:       &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 20, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}},
			IOPriority:      &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 2},
			ExecCPUAffinity: &specs.CPUAffinity{Initial: "0", Final: "1"},
		})
		r := h.do("--debug", "exec", "-p", pj, h.id)
		mustExit(t, r, 0)
		checkFields(t, probeFields(t, r.stdout), map[string]string{"policy": "1", "priority": "20", "ioprio": "0x2002",
			"mempolicy": "0x2", "personality": "0x8", "cpus": "1"})
		if !strings.Contains(r.stderr, "helper started on CPUs 0 (execCPUAffinity.initial)") {
			t.Errorf("no debug line for the initial affinity in %q", r.stderr)
		}
	})
	t.Run("final-only", func(t *testing.T) {
		pj := writeProcessJSON(t, h, &specs.Process{
			Args: []string{"sh", "-c", "grep Cpus_allowed_list /proc/self/status"}, Cwd: "/", Env: []string{"PATH=/bin"},
			ExecCPUAffinity: &specs.CPUAffinity{Final: "1"},
		})
		r := h.do("exec", "-p", pj, h.id)
		mustExit(t, r, 0)
		if got := strings.Fields(r.stdout); len(got) != 2 || got[1] != "1" {
			t.Errorf("Cpus_allowed_list of the exec'd shell: %q, want 1", r.stdout)
		}
	})
}

func writeProcessJSON(t *testing.T, h *harness, p *specs.Process) string {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(h.outDir, "process-*.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// TestProcAttrExecRefused: exec refuses, as create does and with its texts,
// process.json's malformed LSM fields and bad scheduler, I/O priority and CPU
// affinity, and malformed LSM flags even with -p; nothing is started.
func TestProcAttrExecRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	st := h.startContainer(sleeperSpec())
	base := func(mut func(p *specs.Process)) string {
		p := &specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}}
		mut(p)
		return writeProcessJSON(t, h, p)
	}
	ok := base(func(*specs.Process) {})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"apparmorProfile", []string{"-p", base(func(p *specs.Process) { p.ApparmorProfile = "a\x00b" })},
			"process.apparmorProfile: contains a NUL byte or a newline"},
		{"selinuxLabel", []string{"-p", base(func(p *specs.Process) { p.SelinuxLabel = "a\nb" })},
			"process.selinuxLabel: contains a NUL byte or a newline"},
		{"scheduler", []string{"-p", base(func(p *specs.Process) { p.Scheduler = &specs.Scheduler{Policy: "SCHED_FAST"} })},
			"process.scheduler.policy: unknown policy"},
		{"scheduler-priority", []string{"-p", base(func(p *specs.Process) { p.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO} })},
			"process.scheduler.priority: 0 is out of range"},
		{"ioPriority", []string{"-p", base(func(p *specs.Process) { p.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_NONE"} })},
			"process.ioPriority.class: unknown class"},
		{"execCPUAffinity", []string{"-p", base(func(p *specs.Process) { p.ExecCPUAffinity = &specs.CPUAffinity{Initial: "1-0"} })},
			"process.execCPUAffinity.initial: range"},
		{"apparmor-flag-with-p", []string{"--apparmor", "a\nb", "-p", ok},
			"process.apparmorProfile: contains a NUL byte or a newline"},
		{"process-label-flag", []string{"--process-label", "a\nb", "-p", ok},
			"process.selinuxLabel: contains a NUL byte or a newline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(append(append([]string{"exec"}, tc.args...), h.id)...)
			if r.exit != 255 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want exit 255 and %q, got %s", tc.want, r)
			}
		})
	}
	if pids := pidsInPidNS(t, st.Pid); len(pids) != 1 {
		t.Errorf("processes in the container after the refused execs: %v, want only init %d", pids, st.Pid)
	}
}
