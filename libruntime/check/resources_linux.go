package check

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/libruntime/cgroups"
	"github.com/hull-runtime/hull/libruntime/seccomp"
)

// seccomp reports what seccomp.Validate (or create's compile) finds (its first error; unknown
// syscall names and other ignored settings as warnings) and a notify
// listener that is not there to receive the fd.
func (c *checker) seccomp() {
	sc := c.s.Linux.Seccomp
	if sc == nil {
		return
	}
	warnings, err := c.compileSeccomp(sc)
	for _, w := range warnings {
		field, msg := splitField(w, "linux.seccomp")
		fix := "remove or correct it"
		switch {
		case strings.Contains(msg, "unknown syscall"):
			fix = "remove it, unless the profile is meant for other kernels or architectures too"
		case strings.Contains(msg, "valueTwo"):
			fix = "remove valueTwo, or use the operator SCMP_CMP_MASKED_EQ"
		case strings.Contains(msg, "already has its action"):
			fix = "keep one unconditional rule per syscall"
		}
		c.add(SeverityWarning, field, msg, fix)
	}
	if err != nil {
		var se *seccomp.Error
		if errors.As(err, &se) {
			fix := se.Fix
			if fix == "" {
				fix = "correct it as the runtime-spec describes linux.seccomp"
			}
			c.add(SeverityError, se.Field, se.Msg, fix)
		} else {
			c.add(SeverityError, "linux.seccomp", err.Error(), "correct it as the runtime-spec describes linux.seccomp")
		}
		return
	}
	notify := false
	for _, s := range sc.Syscalls {
		notify = notify || s.Action == specs.ActNotify
	}
	if !notify || sc.ListenerPath == "" {
		return
	}
	const field = "linux.seccomp.listenerPath"
	const fix = "start the seccomp agent that listens on it before creating the container, or correct the path"
	path := clip.String(sc.ListenerPath)
	fi, err := os.Stat(sc.ListenerPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.errorf(field, fix, "%s does not exist: no seccomp agent listens there", path)
	case err != nil:
		c.errorf(field, fix, "cannot access %s: %v", path, clip.PathError(err))
	case fi.Mode().Type() != fs.ModeSocket:
		c.errorf(field, fix, "%s is not a unix socket", path)
	}
}

// splitField splits "<field>: <message>" as the seccomp and cgroups packages
// write their warnings and errors; def is the field when there is none.
func splitField(s, def string) (field, msg string) {
	if f, m, ok := strings.Cut(s, ": "); ok && strings.HasPrefix(f, def) && !strings.Contains(f, " ") {
		return f, m
	}
	return def, s
}

// resourceFixes gives the fix for a linux.resources field that
// cgroups.Validate refuses, by the field's path without indices.
var resourceFixes = []struct{ prefix, fix string }{
	{"memory.swap", "set swap (memory plus swap) to at least memory.limit, or to -1 for unlimited swap"},
	{"memory.", "use a size in bytes, or -1 for no limit"},
	{"cpu.realtime", "remove realtimeRuntime and realtimePeriod"},
	{"cpu.idle", "set it to 0 or 1"},
	{"cpu.burst", "lower burst to at most the quota"},
	{"blockIO.weightDevice", "use the device's major and minor numbers and a weight from 10 to 1000"},
	{"blockIO.weight", "use a weight from 10 to 1000"},
	{"blockIO.", "use the device's major and minor numbers, as ls -l shows them"},
	{"hugepageLimits", `write the page size like "2MB" or "1GB"`},
	{"rdma", "use the RDMA device's name and set hcaHandles, hcaObjects or both"},
	{"unified", `use a file name of the cgroup such as "memory.high"`},
	{"devices", `use type a, c or b, a major and minor number (or leave them out for all) and access made of r, w and m`},
}

func resourceFix(field string) string {
	rel := strings.TrimPrefix(field, "linux.resources.")
	for _, f := range resourceFixes {
		if strings.HasPrefix(rel, f.prefix) {
			return f.fix
		}
	}
	return "correct it as the runtime-spec describes linux.resources"
}

// resources reports what cgroups.Validate finds, then, on this host, a
// cgroupsPath that cannot be used and controllers the container's cgroup
// would not have: create would fail on them.
func (c *checker) resources() {
	r := c.s.Linux.Resources
	warnings, err := cgroups.Validate(r)
	for _, w := range warnings {
		field, msg := splitField(w, "linux.resources")
		msg = strings.TrimSuffix(msg, "; ignored")
		c.warnf(field, "remove it: cgroup v2 cannot apply it", "%s, so it is ignored", msg)
	}
	if err != nil {
		field, msg := splitField(err.Error(), "linux.resources")
		fix := resourceFix(field)
		if m, f, ok := strings.Cut(msg, "; "); ok {
			msg, fix = m, f
		}
		c.add(SeverityError, field, msg, fix)
	}
	c.cgroup(r, err == nil)
}

// probeID stands for the container id when linux.cgroupsPath is empty: the
// cgroup is then named after the id, next to hull's own cgroup, and only its
// parent matters here.
const probeID = "hull-check"

func (c *checker) cgroup(r *specs.LinuxResources, resourcesOK bool) {
	const field = "linux.cgroupsPath"
	// create puts every container in a cgroup, with or without resources.
	mount, err := c.h.cgroupMount()
	if err != nil {
		c.add(SeverityError, field, err.Error(), "mount the cgroup2 filesystem, e.g. at /sys/fs/cgroup: hull manages cgroup v2 only")
		return
	}
	cgPath := c.s.Linux.CgroupsPath
	path, err := c.h.cgroupPath(cgPath, probeID)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("%s %s: ", field, clip.Quote(cgPath)))
		c.add(SeverityError, field, msg, `use a path below the cgroup2 mount, such as "/hull/<id>", or leave it empty`)
		return
	}
	if !resourcesOK {
		return
	}
	needs := requirements(r)
	if len(needs) == 0 {
		return
	}
	have, missingAt := c.controllers(mount, path, needs)
	reported := map[string]bool{}
	for _, n := range needs {
		if slices.Contains(have, n.controller) || reported[n.controller] {
			continue
		}
		reported[n.controller] = true
		c.errorf(n.field,
			fmt.Sprintf("enable the %s controller in %s/cgroup.subtree_control (hull enables controllers only in the cgroups it creates and in the container's parent), use a cgroupsPath below a cgroup that has it, or remove the setting", n.controller, missingAt),
			"%s controller not available in cgroup2 at %s", n.controller, mount)
	}
}

// controllers works out which controllers the cgroup at path would have
// once create made it: those its parent passes down, where hull enables
// what is needed only in the ancestors it creates (or created before) and in
// the parent, never in another one somebody else made. missingAt is the
// deepest existing cgroup above the parent not hull's, where the user would
// have to enable a missing controller.
func (c *checker) controllers(mount, path string, needs []need) (have []string, missingAt string) {
	var want []string
	for _, n := range needs {
		if !slices.Contains(want, n.controller) {
			want = append(want, n.controller)
		}
	}
	read := func(dir, name string) []string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return strings.Fields(string(b))
	}
	// What the root passes down: hull never writes to the root cgroup.
	passed := read(mount, "cgroup.subtree_control")
	missingAt = mount
	rel, _ := filepath.Rel(mount, path)
	parts := strings.Split(rel, "/")
	dir := mount
	for i, p := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, p)
		var avail, enabled []string
		ours := true
		if isDir(dir) {
			avail = read(dir, "cgroup.controllers")
			enabled = read(dir, "cgroup.subtree_control")
			// The parent, unless it has processes of its own: as the
			// cgroups package, which leaves such a parent alone.
			ours = c.h.hullMade(dir) || (i == len(parts)-2 && len(read(dir, "cgroup.procs")) == 0)
		} else {
			avail = passed
		}
		if ours {
			for _, w := range want {
				if slices.Contains(avail, w) && !slices.Contains(enabled, w) {
					enabled = append(enabled, w)
				}
			}
		} else {
			missingAt = dir
		}
		passed = enabled
	}
	sort.Strings(passed)
	return passed, missingAt
}

// need is a controller that a set field of linux.resources writes through.
type need struct{ field, controller string }

// requirements lists the controllers the set fields of r need, exactly as the cgroups
// package checks them at create.
func requirements(r *specs.LinuxResources) []need {
	var out []need
	for _, n := range cgroups.Requirements(r) {
		out = append(out, need{n.Field, n.Controller})
	}
	return out
}
