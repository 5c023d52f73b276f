//go:build linux

package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCgroup checks that the container's init is placed in the cgroup named
// by linux.cgroupsPath, and that with a cgroup namespace the container sees
// that cgroup as its root. The cleanup then checks the cgroup is removed.
func TestCgroup(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir := h.needCgroupDir()
	s := baseSpec(shell("cat /proc/self/cgroup; exec sleep 60")...)
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	cr := h.create(s)
	mustExit(t, cr, 0)
	pid := h.mustState(h.id).Pid

	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatalf("the container's cgroup %s: %v", dir, err)
	}
	if !containsLine(string(procs), strconv.Itoa(pid)) {
		t.Errorf("init %d is not in %s/cgroup.procs: %q", pid, dir, procs)
	}
	own := readFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if !strings.Contains(own, "0::") || !strings.HasSuffix(strings.TrimSpace(lineWithPrefix(own, "0::")), "/"+filepath.Base(dir)) {
		t.Errorf("/proc/%d/cgroup = %q, want the cgroup2 line to end in /%s", pid, own, filepath.Base(dir))
	}

	mustExit(t, h.do("start", h.id), 0)
	out := waitOutput(t, cr.stdoutPath, "0::", cmdTimeout)
	if got := strings.TrimSpace(lineWithPrefix(out, "0::")); got != "0::/" {
		t.Errorf("inside a cgroup namespace /proc/self/cgroup says %q, want 0::/", got)
	}
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

func lineWithPrefix(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
