//go:build linux

package tests

import (
	"debug/elf"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hull-runtime/hull/internal/hulltest"
)

var tailMemTool = &testTool{pkg: "./testdata/tailmem", name: "tailmem"}

// hullBytesAt returns 16 bytes of hull's read-only data as the binary maps them, and
// their address: what a reader of a hull process's memory finds there.
func hullBytesAt(t *testing.T) (uint64, string) {
	t.Helper()
	f, err := elf.Open(hullBinary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags == elf.PF_R && p.Off > 0 && p.Filesz >= 16 {
			buf := make([]byte, 16)
			if _, err := p.ReadAt(buf, 0); err != nil {
				t.Fatal(err)
			}
			return p.Vaddr, hex.EncodeToString(buf)
		}
	}
	t.Fatalf("%s: no read-only PT_LOAD segment past the headers", hullBinary)
	return 0, ""
}

// TestSecurityTailMemory: hull exec forks the process into the container's pid
// namespace (nsenter.ForkTail), where a process of the container with CAP_SYS_PTRACE
// opens /proc/<pid>/mem of anything that appears, read-write: non-dumpable does not
// stop CAP_SYS_PTRACE in the user namespace that owns the process. The child was a
// vfork child, whose memory is exec's helper's: a hull process outside the pid
// namespace with every capability and its own threads, whose memory the fd kept
// reaching after the child's execve. The memory behind the fd must be gone once the
// child runs the user's program. strace slows the child and delays the helper's
// exit (500 ms), so that the attacker opens the child in time and the helper is
// still there to be read if it shares that memory.
//
// What stays (as with runc's init): the child is root with its privileges until it
// drops them, and a container with CAP_SYS_PTRACE in the host's user namespace can
// open its own copy of hull's memory in that window.
func TestSecurityTailMemory(t *testing.T) {
	t.Parallel()
	strace := hulltest.RequireTool(t, "strace", "strace")
	addr, want := hullBytesAt(t)
	h := newHarness(t)
	tailMemTool.install(t, h, "tailmem")
	s := baseSpec("sleep", "1000")
	for _, set := range []*[]string{&s.Process.Capabilities.Bounding, &s.Process.Capabilities.Effective, &s.Process.Capabilities.Permitted} {
		*set = append(*set, "CAP_SYS_PTRACE")
	}
	st := h.startContainer(s)

	var out string
	for try := 0; try < 5; try++ {
		// Read from the host through init's root: nothing more runs in the
		// container, whose next pid is the attacker's target.
		outFile := fmt.Sprintf("tailmem-%d", try)
		hostOut := fmt.Sprintf("/proc/%d/root/dev/shm/%s", st.Pid, outFile)
		pidFile := filepath.Join(h.outDir, outFile+".pid")
		mustExit(t, h.do("exec", "-d", "--pid-file", pidFile, h.id, "sh", "-c", fmt.Sprintf("exec tailmem %#x 20 >/dev/shm/%s 2>&1", addr, outFile)), 0)
		attacker := hulltest.ReadPid(t, pidFile)
		secWait(t, "the attacker to wait for the next pid", 10*time.Second, func() bool {
			return strings.Contains(readFile(hostOut), "waiting=")
		})
		args := []string{"-f", "-qq", "-o", "/dev/null", "-e", "trace=exit_group", "-e", "inject=exit_group:delay_enter=500000",
			hullBinary, "--root", h.root, "exec", h.id, "true"}
		r, err := h.runBinary(strace, cmdOpts{noRoot: true}, args...)
		if err != nil {
			t.Fatal(err)
		}
		mustExit(t, r, 0)
		secWait(t, "the attacker to finish", 25*time.Second, func() bool { return !pidAlive(attacker) })
		out = readFile(hostOut)
		if strings.Contains(out, "opened=") && strings.Contains(out, "hull") {
			break
		}
		t.Logf("try %d: the attacker did not open the child before its execve: %q", try, out)
	}
	if !strings.Contains(out, "opened=") || !strings.Contains(out, "hull") {
		t.Fatalf("the attacker never opened exec's child while it was hull: the test is broken: %q", out)
	}
	if strings.Contains(out, "post="+want) {
		t.Errorf("ATTACK SUCCEEDED: after exec's child ran the user's program, the container still read hull's memory at %#x through the child's /proc/<pid>/mem (the helper's, outside its pid namespace): %q", addr, out)
	}
}
