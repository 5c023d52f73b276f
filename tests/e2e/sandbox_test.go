//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hull-runtime/hull/tests/internal/hosttest"
)

// sandbox is hosttest's sandbox (a private mount and cgroup namespace for the
// engines), with what these tests check besides: the host's v1 hierarchies.
type sandbox struct {
	*hosttest.Sandbox
	v1 *v1Snapshot // the host's v1 hierarchies before the run
}

func newSandbox() (*sandbox, error) {
	v1, err := snapshotV1()
	if err != nil {
		return nil, err
	}
	s, err := hosttest.NewSandbox("e2e")
	if err != nil {
		return nil, err
	}
	return &sandbox{Sandbox: s, v1: v1}, nil
}

// leftovers lists what is in the sandbox's cgroup besides its own leaves:
// cgroups and processes that outlived their containers.
func (s *sandbox) leftovers() []string {
	var out []string
	entries, _ := os.ReadDir(s.CG)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		switch e.Name() {
		case "holder", "cmds", "daemons":
			continue
		case "libpod_parent":
			// podman's (conmon's cgroup is libpod_parent/conmon); only the
			// containers' cgroups below it are hull's to remove.
			sub, _ := os.ReadDir(filepath.Join(s.CG, e.Name()))
			for _, c := range sub {
				if c.IsDir() && strings.HasPrefix(c.Name(), "libpod-") {
					out = append(out, "cgroup "+filepath.Join(s.CG, e.Name(), c.Name()))
				}
			}
			continue
		}
		out = append(out, "cgroup "+filepath.Join(s.CG, e.Name()))
	}
	for _, leaf := range []string{"cmds", "daemons"} {
		for _, pid := range s.CgroupProcs(leaf) {
			out = append(out, fmt.Sprintf("process %d (%s) in %s", pid, hosttest.Comm(pid), leaf))
		}
	}
	return out
}

// v1Snapshot is the set of cgroup directories in the host's v1 hierarchies,
// with their modification times, when the run started: no engine may make a
// v1 cgroup, nor change one (the `find -newer stamp` check, done with each
// directory's own time: kernfs gives files and freshly looked-up inodes the
// current time, so only a directory's time as recorded at the start means
// anything).
type v1Snapshot struct {
	dirs   map[string]time.Time
	mounts []string
	// skip holds, per hierarchy, the parent of this process's own v1 cgroup
	// when that is not the root: cgroups appearing there are made by whoever
	// runs us (the machine's agent), not by the engines we start.
	skip []string
}

func snapshotV1() (*v1Snapshot, error) {
	snap := &v1Snapshot{}
	own := map[string]string{} // controller list -> own cgroup path
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.SplitN(line, ":", 3)
			if len(f) == 3 && f[1] != "" {
				own[f[1]] = f[2]
			}
		}
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || g[0] != "cgroup" {
			continue
		}
		point := hosttest.UnescapeMount(f[4])
		snap.mounts = append(snap.mounts, point)
		for _, opt := range strings.Split(g[2], ",") {
			for ctrls, path := range own {
				if ctrls == opt || strings.Contains(","+ctrls+",", ","+opt+",") {
					if parent := filepath.Dir(path); path != "/" && parent != "/" {
						snap.skip = append(snap.skip, filepath.Join(point, parent))
					}
				}
			}
		}
	}
	snap.dirs = snap.list()
	return snap, nil
}

func (v *v1Snapshot) skipped(p string) bool {
	for _, s := range v.skip {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// list returns every cgroup directory of the v1 hierarchies outside the
// skipped subtrees, with its modification time.
func (v *v1Snapshot) list() map[string]time.Time {
	out := map[string]time.Time{}
	for _, m := range v.mounts {
		_ = filepath.WalkDir(m, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if v.skipped(p) {
				return filepath.SkipDir
			}
			if info, err := d.Info(); err == nil {
				out[p] = info.ModTime()
			}
			return nil
		})
	}
	return out
}

// changes lists the v1 cgroups created, or whose directory changed, since
// the snapshot.
func (v *v1Snapshot) changes() []string {
	var out []string
	now := v.list()
	for d, mt := range now {
		old, ok := v.dirs[d]
		switch {
		case !ok:
			out = append(out, "new v1 cgroup "+d)
		case !mt.Equal(old):
			out = append(out, fmt.Sprintf("v1 cgroup %s changed during the run (mtime %s, was %s)", d, mt.Format(time.RFC3339Nano), old.Format(time.RFC3339Nano)))
		}
	}
	sort.Strings(out)
	return out
}
