package check

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/process"
)

// defaultPath is what hull's init searches when process.env has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// inRootfs resolves the container path p inside the rootfs, following the
// rootfs's own symlinks as if it were "/", never the host's.
func (c *checker) inRootfs(p string) (string, error) {
	return securejoin.SecureJoin(c.rootfs, p)
}

// mounted reports whether host path p (resolved inside the rootfs) is at or
// below a mount destination: what is there comes from the mount, which does
// not exist yet, so nothing can be said about it.
func (c *checker) mounted(p string) bool {
	for _, d := range c.mountDests {
		if p == d || strings.HasPrefix(p, d+"/") || d == c.rootfs {
			return true
		}
	}
	return false
}

func (c *checker) process() {
	p := c.s.Process
	if p == nil {
		return
	}
	if c.rootfs != "" {
		cwdOK := c.cwd(p.Cwd)
		if len(p.Args) > 0 && p.Args[0] != "" && !strings.ContainsRune(p.Args[0], 0) && cwdOK {
			c.program(p.Args[0], p.Cwd, p.Env)
		}
	}
	c.lsm()
	c.capabilities(p.Capabilities)
	c.rlimits(p.Rlimits)
	c.oomScoreAdj(p.OOMScoreAdj)
	if a := p.ExecCPUAffinity; a != nil {
		c.hostList("process.execCPUAffinity.initial", a.Initial, "CPUs", "are not online", c.h.onlineCPUs)
		c.hostList("process.execCPUAffinity.final", a.Final, "CPUs", "are not online", c.h.onlineCPUs)
	}
}

// cwd checks that process.cwd is a directory of the rootfs (or comes from a
// mount) and reports whether relative program paths can be resolved from it.
func (c *checker) cwd(cwd string) bool {
	if !filepath.IsAbs(cwd) {
		return false // config.ValidateAll reports it
	}
	const field = "process.cwd"
	const fix = `create the directory in the rootfs, or set process.cwd to an existing directory such as "/"`
	p, err := c.inRootfs(cwd)
	if err != nil || c.mounted(p) {
		return err == nil
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.errorf(field, fix, "%s does not exist in the container's root filesystem", clip.String(cwd))
		return false
	case errors.Is(err, unix.ENOTDIR) || (err == nil && !fi.IsDir()):
		c.errorf(field, fix, "%s is not a directory in the container's root filesystem", clip.String(cwd))
		return false
	}
	return true
}

// lookup is the outcome of looking for the program in the rootfs.
type lookup int

const (
	found    lookup = iota
	unknown         // it may come from a mount
	notFound        // nothing there
	notExec         // there, but execve would refuse it
)

// program checks that process.args[0] resolves, inside the rootfs, to an
// executable file, searching the PATH of process.env as hull's init does
// (process.LookPath) when it has no slash.
func (c *checker) program(file, cwd string, env []string) {
	const field = "process.args[0]"
	const fix = "install the program in the rootfs, or set process.args[0] to its path inside the container"
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(cwd, p)
	}
	if strings.Contains(file, "/") {
		switch res, why := c.executable(abs(file)); res {
		case notFound:
			// The wording callers match on (podman and docker map it to exit 127): keep
			// runc's "no such file or directory" and "permission denied".
			c.errorf(field, fix, "exec: %s: stat %s: no such file or directory (in the container's root filesystem)", clip.Quote(file), clip.String(file))
		case notExec:
			c.errorf(field, "make it executable (chmod +x) or run another program", "exec: %s: permission denied (%s)", clip.Quote(file), why)
		}
		return
	}
	path, ok := envPath(env)
	if !ok {
		path = defaultPath
	}
	denied, deniedWhy := "", ""
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := strings.TrimSuffix(dir, "/") + "/" + file
		switch res, why := c.executable(abs(p)); res {
		case found, unknown:
			return
		case notExec:
			if denied == "" {
				denied, deniedWhy = p, why
			}
		}
	}
	if denied != "" {
		c.errorf(field, "make it executable (chmod +x) or run another program", "exec: %s: permission denied (%s: %s)", clip.Quote(file), clip.String(denied), deniedWhy)
		return
	}
	c.errorf(field, fix, "exec: %s: executable file not found in $PATH (PATH %s in the container's root filesystem)", clip.Quote(file), clip.String(path))
}

// executable looks at the container path p in the rootfs.
func (c *checker) executable(p string) (lookup, string) {
	hp, err := c.inRootfs(p)
	if err != nil {
		return unknown, ""
	}
	if c.mounted(hp) {
		return unknown, ""
	}
	fi, err := os.Stat(hp)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.ENOTDIR):
		return notFound, ""
	case err != nil:
		return unknown, ""
	case fi.IsDir():
		return notExec, "it is a directory"
	case !fi.Mode().IsRegular():
		return notExec, "it is not a regular file"
	case fi.Mode().Perm()&0o111 == 0:
		return notExec, "it has no execute permission"
	}
	return found, ""
}

// envPath returns the last PATH of env, the one the program sees.
func envPath(env []string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return v, true
		}
	}
	return "", false
}

// capabilities reports the capabilities the container would not get, as
// hull's init would warn about them (process.NotGrantedError): names hull does
// not know, unknown to the kernel, missing from hull's own sets, or refused by
// the kernel's rules between the sets.
//
// All of them are warnings. How we read config.md (process.capabilities): a
// name that cannot be mapped to the kernel, or a capability that cannot be
// granted, must be logged as a warning, and a runtime should not fail the
// container for it; it runs with the rest. runc 1.5 does the same ("ignoring
// unknown or unavailable capabilities").
func (c *checker) capabilities(caps *specs.LinuxCapabilities) {
	if caps == nil {
		return
	}
	const prefix = "process.capabilities."
	set := func(names []string) uint64 {
		var s uint64
		for _, n := range names {
			if v, err := process.CapFromName(n); err == nil {
				s |= 1 << uint(v)
			}
		}
		return s
	}
	perm, inh := set(caps.Permitted), set(caps.Inheritable)
	for _, st := range []struct {
		name  string
		names []string
	}{
		{"bounding", caps.Bounding},
		{"effective", caps.Effective},
		{"inheritable", caps.Inheritable},
		{"permitted", caps.Permitted},
		{"ambient", caps.Ambient},
	} {
		for i, name := range st.names {
			field := index(prefix+st.name, i)
			n, err := process.CapFromName(name)
			if err != nil {
				c.warnf(field, unknownCapFix(name), "unknown capability %s: the container runs without it", clip.Quote(name))
				continue
			}
			bit := uint64(1) << uint(n)
			// In a new user namespace init starts with every capability
			// and a full bounding set: only the kernel's limits count.
			switch {
			case n > c.h.lastCap:
				c.warnf(field, "remove it, or run on a newer kernel",
					"%s is unknown to this kernel (its last capability is number %d): the container runs without it", name, c.h.lastCap)
			case !c.newUserNS && c.h.capsOK && c.h.capBnd&bit == 0:
				c.warnf(field, fmt.Sprintf("remove it, or run hull with %s in its bounding set", name),
					"%s is not in hull's own bounding set: the container runs without it", name)
			case !c.newUserNS && c.h.capsOK && st.name != "bounding" && c.h.capPrm&bit == 0:
				c.warnf(field, fmt.Sprintf("remove it, or run hull with %s", name),
					"hull does not hold %s: the container runs without it", name)
			case st.name == "effective" && perm&bit == 0:
				c.warnf(field, "add it to process.capabilities.permitted, or remove it from effective",
					"%s is not in process.capabilities.permitted, so it cannot be effective: the container runs without it", name)
			case st.name == "ambient" && (perm&bit == 0 || inh&bit == 0):
				c.warnf(field, "add it to process.capabilities.permitted and inheritable, or remove it from ambient",
					"%s is not both permitted and inheritable, as an ambient capability must be: the container runs without it in ambient", name)
			}
		}
	}
}

// unknownCapFix suggests the name hull knows for a common slip, such as
// "net_admin" or "NET_ADMIN" for CAP_NET_ADMIN.
func unknownCapFix(name string) string {
	norm := strings.ToUpper(name)
	if !strings.HasPrefix(norm, "CAP_") {
		norm = "CAP_" + norm
	}
	if _, err := process.CapFromName(norm); err == nil {
		return fmt.Sprintf("write it as %q", norm)
	}
	return "use a capability name from capabilities(7), CAP_CHOWN to CAP_CHECKPOINT_RESTORE, or remove it"
}

// rlimits reports hard limits above hull's own that hull cannot raise.
func (c *checker) rlimits(rl []specs.POSIXRlimit) {
	if c.h.capSysResource() {
		return
	}
	for i, r := range rl {
		res, err := process.RlimitFromName(r.Type)
		if err != nil || r.Soft > r.Hard {
			continue // config.ValidateAll reports it
		}
		max, err := c.h.hardLimit(res)
		if err != nil || r.Hard <= max {
			continue
		}
		c.errorf(index("process.rlimits", i)+".hard",
			fmt.Sprintf("lower it to at most %s, or run hull with CAP_SYS_RESOURCE", limitString(max)),
			"%s hard limit %s is above this host's %s, and raising it needs CAP_SYS_RESOURCE, which hull does not have",
			r.Type, limitString(r.Hard), limitString(max))
	}
}

func limitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprint(v)
}

// oomScoreAdj reports a value below hull's own that hull cannot set: the
// kernel refuses to lower oom_score_adj below the floor the process inherited
// without CAP_SYS_RESOURCE, and that floor is at most hull's current value.
func (c *checker) oomScoreAdj(v *int) {
	if v == nil || *v >= 0 || *v < -1000 || c.h.capSysResource() {
		return
	}
	own, err := c.h.oomScoreAdj()
	if err != nil || *v >= own {
		return
	}
	c.errorf("process.oomScoreAdj",
		fmt.Sprintf("use a value of at least %d, or run hull with CAP_SYS_RESOURCE", own),
		"%d is below hull's own oom_score_adj %d, and lowering it needs CAP_SYS_RESOURCE, which hull does not have", *v, own)
}

// hostList warns about the numbers of list (a valid CPU or memory node list)
// that this host lacks (absent says how): the kernel leaves them out without a
// word. None left is an error: the kernel refuses the list.
func (c *checker) hostList(field, list, noun, absent string, host func() ([]int, error)) {
	if list == "" || host == nil {
		return
	}
	want, cerr := config.CPUList(field, list, 1<<20)
	have, err := host()
	if cerr != nil || err != nil {
		return
	}
	var missing []int
	for _, n := range want {
		if !slices.Contains(have, n) {
			missing = append(missing, n)
		}
	}
	fix := fmt.Sprintf("list only %s of this host: %s", noun, clip.List(have))
	switch {
	case len(missing) == len(want):
		c.errorf(field, fix, "none of the %s %s is usable: they %s on this host, and the kernel refuses the list", noun, clip.Quote(list), absent)
	case len(missing) > 0:
		c.warnf(field, fix, "%s %s %s on this host: the kernel leaves them out", noun, clip.List(missing), absent)
	}
}

// lsm refuses an AppArmor profile or SELinux label this host cannot apply:
// runc fails such a container too, and a process asked to run confined must not
// run unconfined.
func (c *checker) lsm() {
	if c.h.lsm == nil {
		return
	}
	mountLabel := ""
	if c.s.Linux != nil {
		mountLabel = c.s.Linux.MountLabel
	}
	p := c.s.Process
	for _, e := range c.h.lsm(p.ApparmorProfile, p.SelinuxLabel, mountLabel) {
		// A malformed value is reported once, as what is wrong with it.
		if !slices.ContainsFunc(c.findings, func(f Finding) bool { return f.Field == e.Field }) {
			c.add(SeverityError, e.Field, e.Msg, e.Fix)
		}
	}
	if c.h.lsmWarnings == nil {
		return
	}
	for _, e := range c.h.lsmWarnings(p.SelinuxLabel, mountLabel) {
		if !slices.ContainsFunc(c.findings, func(f Finding) bool { return f.Field == e.Field }) {
			c.add(SeverityWarning, e.Field, e.Msg, e.Fix)
		}
	}
}
