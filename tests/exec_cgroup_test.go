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

// TestExecSubCgroup: `exec --cgroup` starts the process in an existing sub-cgroup of
// the container's (read from the host and, in a cgroup namespace, from inside), with
// runc's spellings ("sub", "/sub", "/" for the container's own), and refuses a path
// that leaves the container's cgroup, one that does not exist, and cgroup v1's
// controller:path form, each naming --cgroup, running nothing.
func TestExecSubCgroup(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cg := h.needCgroupDir()
	s := baseSpec("sleep", "1000")
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	h.startContainer(s)
	rel := strings.TrimPrefix(cg, cgroupRoot)
	// Removed by delete with the container's cgroup; removed here too in case the
	// container never got one.
	sub := filepath.Join(cg, "sub", "deeper")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.Remove(sub)
		_ = os.Remove(filepath.Dir(sub))
	})

	for _, tc := range []struct{ arg, inside, host string }{
		{"sub/deeper", "0::/sub/deeper", "0::" + rel + "/sub/deeper"},
		{"/sub", "0::/sub", "0::" + rel + "/sub"},
		{"/", "0::/", "0::" + rel},
	} {
		t.Run(strings.ReplaceAll(tc.arg, "/", "_"), func(t *testing.T) {
			r := h.do("exec", "--cgroup", tc.arg, h.id, "cat", "/proc/self/cgroup")
			mustExit(t, r, 0)
			if !strings.Contains(r.stdout, tc.inside+"\n") {
				t.Errorf("inside, the process's cgroup is %q, want %q", r.stdout, tc.inside)
			}
			pidFile := filepath.Join(h.outDir, "pid-"+strings.ReplaceAll(tc.arg, "/", "_"))
			mustExit(t, h.do("exec", "-d", "--cgroup", tc.arg, "--pid-file", pidFile, h.id, "sleep", "1001"), 0)
			pid, err := strconv.Atoi(readFile(pidFile))
			if err != nil {
				t.Fatalf("pid file: %v", err)
			}
			if got := readFile(fmt.Sprintf("/proc/%d/cgroup", pid)); !strings.Contains(got, tc.host+"\n") {
				t.Errorf("from the host, the process's cgroup is %q, want %q", got, tc.host)
			}
		})
	}

	// Each refusal names the flag; none starts anything (the sub-cgroup stays empty).
	sib := filepath.Join(filepath.Dir(cg), filepath.Base(cg)+"-sibling")
	if err := os.Mkdir(sib, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(sib) })
	for _, tc := range []struct{ name, arg, want string }{
		{"parent", "..", "bad sub cgroup path"},
		{"climb", "../x", "bad sub cgroup path"},
		{"sibling", "../" + filepath.Base(sib), "bad sub cgroup path"},
		{"inner-climb", "sub/../../x", "bad sub cgroup path"},
		{"missing", "nonexistent", "does not exist"},
		{"file", "cgroup.procs", "not a directory"},
		{"v1-form", "cpu:sub", "cgroup v2 only"},
	} {
		t.Run("refuse-"+tc.name, func(t *testing.T) {
			r := h.do("exec", "--cgroup", tc.arg, h.id, "sleep", "1002")
			if r.exit != 255 {
				t.Errorf("want exit 255, got %s", r)
			}
			if !strings.Contains(r.stderr, "--cgroup") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("the error must name --cgroup and say %q: %s", tc.want, r)
			}
		})
	}
	if procs := readFile(filepath.Join(sib, "cgroup.procs")); procs != "" {
		t.Errorf("a refused exec left processes in the sibling cgroup: %q", procs)
	}
	r := h.do("exec", "--cgroup", "a", "--cgroup", "b", h.id, "true")
	if r.exit != 255 || !strings.Contains(r.stderr, "--cgroup") {
		t.Errorf("two --cgroup paths: want exit 255 naming --cgroup, got %s", r)
	}
}
