//go:build linux

package tests

import (
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestSecurityPidnsWaitCreds: a container that joins another's pid namespace is
// created, and its process waits there for `hull start` for as long as its caller
// likes: visible to every process of that namespace. A sibling there with
// CAP_SYS_PTRACE (in the host's user namespace: no user namespace here) attaches to
// anything it sees, non-dumpable or not, and runs code as it. The waiting process
// must then be no more than the process the config asks for: its user, its
// capabilities. It was root with every capability and no filter until start
// (nsenter.ForkTail with Wait switched credentials only after the wait), which made
// a sibling with CAP_SYS_PTRACE root with every capability on the host: ptrace it,
// and CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH (open_by_handle_at), CAP_SYS_MODULE are
// its. runc's init waits for start as the process's user too.
//
// Both ways hull builds such a container: from outside, forking only the process
// in, and handing over to a second stage (forced by a startContainer hook).
func TestSecurityPidnsWaitCreds(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{"outside", "handover"} {
		t.Run(variant, func(t *testing.T) {
			h := newHarness(t)
			a := baseSpec("sleep", "1000")
			pwAddPtrace(a)
			attacker := h.startContainer(a)

			sib := h.sibling(t)
			s := baseSpec("sleep", "1001")
			s.Process.User = specs.User{UID: 1000, GID: 1000}
			s.Process.Capabilities = &specs.LinuxCapabilities{}
			joinPidNS(s, attacker.Pid)
			if variant == "handover" {
				s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
			}
			sib.writeSpec(s)
			mustExit(t, sib.do("create", "--bundle", sib.bundle, sib.id), 0)
			waiting := sib.mustState(sib.id)
			if waiting.Status != "created" {
				t.Fatalf("status %q after create", waiting.Status)
			}
			nspids := strings.Fields(hulltest.ProcStatus(readFile(fmt.Sprintf("/proc/%d/status", waiting.Pid)))["NSpid"])
			if len(nspids) < 2 {
				t.Fatalf("pid %d: no pid in the attacker's namespace: NSpid %q", waiting.Pid, nspids)
			}
			inNS := nspids[len(nspids)-1]

			// What the attacker sees of it, from inside.
			r := h.do("exec", h.id, "cat", "/proc/"+inNS+"/status")
			mustExit(t, r, 0)
			st := hulltest.ProcStatus(r.readStdout())
			t.Logf("the created sibling's process, pid %s in the attacker's namespace: Uid %q Gid %q CapEff %s CapPrm %s NoNewPrivs %s Seccomp %s",
				inNS, st["Uid"], st["Gid"], st["CapEff"], st["CapPrm"], st["NoNewPrivs"], st["Seccomp"])
			if st["Uid"] == "" {
				t.Fatalf("the attacker did not see the waiting process: the test is broken\n%s", r)
			}
			if uid := strings.Fields(st["Uid"]); len(uid) < 4 || uid[0] != "1000" || uid[1] != "1000" || uid[2] != "1000" {
				t.Errorf("ATTACK SUCCEEDED: the process waiting for start in a shared pid namespace has Uid %q, not the config's 1000: a sibling with CAP_SYS_PTRACE runs code as it", st["Uid"])
			}
			for _, set := range []string{"CapEff", "CapPrm"} {
				if v := hulltest.StatusHex(t, st, set); v != 0 {
					t.Errorf("ATTACK SUCCEEDED: the process waiting for start in a shared pid namespace has %s %#x, the config gives it none: a sibling with CAP_SYS_PTRACE attaches and has them", set, v)
				}
			}

			// And it still starts, as its user.
			mustExit(t, sib.do("start", sib.id), 0)
			running := sib.waitStatus(sib.id, "running", 10e9)
			got := hulltest.ProcStatus(readFile(fmt.Sprintf("/proc/%d/status", running.Pid)))
			if uid := strings.Fields(got["Uid"]); len(uid) == 0 || uid[0] != "1000" {
				t.Errorf("after start the process runs as %q, not 1000", got["Uid"])
			}
			mustExit(t, sib.do("delete", "--force", sib.id), 0)
		})
	}
}
