package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
)

// ValidateAll checks s and returns every problem found, in the order of the
// fields in config.json. It makes no changes and touches the filesystem only
// to stat the rootfs and, for namespaced sysctls, joined namespaces.
// Seccomp and cgroup resources are not checked here.
func ValidateAll(s *specs.Spec, bundle string) []*Error {
	if s == nil {
		return []*Error{{Msg: "no configuration", Fix: "load config.json before validating it"}}
	}
	if bundle == "" {
		bundle = "."
	}
	v := &validator{bundle: bundle, spec: s}
	v.collectNamespaces(s.Linux)
	v.version(s.Version)
	v.root(s.Root)
	v.process(s.Process)
	v.hostnames(s)
	v.mounts(s.Mounts)
	v.hooks(s.Hooks)
	v.linux(s.Linux)
	return v.errs
}

// nsEntry is where a namespace type is configured.
type nsEntry struct {
	index int
	path  string
}

type validator struct {
	bundle string
	spec   *specs.Spec
	errs   []*Error
	// ns holds the first entry of each known namespace type; duplicates are
	// reported by namespaces().
	ns map[specs.LinuxNamespaceType]nsEntry
	// hostNS caches whether a joined namespace is the host's, so many
	// sysctls of one namespace cost one comparison.
	hostNS map[specs.LinuxNamespaceType]bool
}

func (v *validator) add(field, msg, fix string) {
	v.errs = append(v.errs, &Error{Field: field, Msg: msg, Fix: fix})
}

func index(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}

// namespaceTypes are the types the runtime-spec defines, in its order, with
// the name of their file under /proc/<pid>/ns.
var namespaceTypes = []struct {
	typ  specs.LinuxNamespaceType
	file string
}{
	{specs.PIDNamespace, "pid"},
	{specs.NetworkNamespace, "net"},
	{specs.MountNamespace, "mnt"},
	{specs.IPCNamespace, "ipc"},
	{specs.UTSNamespace, "uts"},
	{specs.UserNamespace, "user"},
	{specs.CgroupNamespace, "cgroup"},
	{specs.TimeNamespace, "time"},
}

// Namespace is a namespace type the runtime-spec defines and its file under
// /proc/<pid>/ns.
type Namespace struct {
	Type specs.LinuxNamespaceType
	File string
}

// Namespaces lists the namespace types the runtime-spec defines, in its order: the one
// table hull's validation, `features` and `exec` share.
func Namespaces() []Namespace {
	out := make([]Namespace, 0, len(namespaceTypes))
	for _, n := range namespaceTypes {
		out = append(out, Namespace{Type: n.typ, File: n.file})
	}
	return out
}

// NamespaceFile returns the name under /proc/<pid>/ns of namespace type t.
func NamespaceFile(t specs.LinuxNamespaceType) (string, bool) { return nsFile(t) }

func nsFile(t specs.LinuxNamespaceType) (string, bool) {
	for _, n := range namespaceTypes {
		if n.typ == t {
			return n.file, true
		}
	}
	return "", false
}

const namespaceFix = "use one of pid, network, mount, ipc, uts, user, cgroup, time"

func (v *validator) collectNamespaces(l *specs.Linux) {
	v.ns = make(map[specs.LinuxNamespaceType]nsEntry)
	if l == nil {
		return
	}
	for i, n := range l.Namespaces {
		if _, known := nsFile(n.Type); !known {
			continue
		}
		if _, dup := v.ns[n.Type]; !dup {
			v.ns[n.Type] = nsEntry{index: i, path: n.Path}
		}
	}
}

func (v *validator) version(ver string) {
	const fix = `set "ociVersion" to "1.3.0"`
	if ver == "" {
		v.add("ociVersion", "missing", fix)
		return
	}
	major, _, err := parseSemver(ver)
	if err != nil {
		v.add("ociVersion", fmt.Sprintf("%s is not a semantic version: %v", clip.Quote(ver), err), fix)
		return
	}
	// A newer minor is accepted: runtime-spec keeps compatibility within a major
	// version, and refusing 1.4 would fail every container of an engine built on
	// it. `hull check` warns about it (VersionWarning).
	if major != 1 {
		v.add("ociVersion", fmt.Sprintf("version %s is not supported", clip.String(ver)),
			fmt.Sprintf("hull supports runtime-spec 1.x and implements it up to 1.%d.x; write the config for 1.%d.0", knownMinor, knownMinor))
	}
}

// knownMinor is the newest minor version of runtime-spec 1 that hull implements.
const knownMinor = 3

// VersionWarning returns a note, to be logged rather than failed on, when ver
// is a runtime-spec 1.x newer than hull implements: settings that version
// added are not known to hull and are ignored. It returns nil for any other
// version, valid or not (ValidateAll reports the invalid ones).
func VersionWarning(ver string) *Error {
	major, minor, err := parseSemver(ver)
	if err != nil || major != 1 || minor <= knownMinor {
		return nil
	}
	return &Error{
		Field: "ociVersion",
		Msg: fmt.Sprintf("%s is newer than runtime-spec 1.%d, the newest hull implements: settings added since are ignored",
			clip.Quote(ver), knownMinor),
		Fix: fmt.Sprintf("nothing, if the config uses nothing added after 1.%d; otherwise use a runtime that implements %s",
			knownMinor, clip.String(ver)),
	}
}

// parseSemver parses a SemVer 2.0.0 version and returns its major and minor
// numbers. Pre-release ("-dev", "-rc.1") and build ("+git.abc") parts are
// checked for syntax only.
func parseSemver(ver string) (major, minor uint64, err error) {
	core, build, hasBuild := strings.Cut(ver, "+")
	if hasBuild {
		if err := checkIdentifiers(build, false); err != nil {
			return 0, 0, fmt.Errorf("build metadata: %w", err)
		}
	}
	core, pre, hasPre := strings.Cut(core, "-")
	if hasPre {
		if err := checkIdentifiers(pre, true); err != nil {
			return 0, 0, fmt.Errorf("pre-release: %w", err)
		}
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return 0, 0, errors.New("want MAJOR.MINOR.PATCH")
	}
	var nums [3]uint64
	for i, p := range parts {
		if !isNumeric(p) || (len(p) > 1 && p[0] == '0') {
			return 0, 0, fmt.Errorf("%s is not a number without leading zeros", clip.Quote(p))
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", clip.Quote(p), err)
		}
		nums[i] = n
	}
	return nums[0], nums[1], nil
}

// checkIdentifiers checks the dot-separated identifiers of a pre-release or
// build part. Numeric pre-release identifiers must not have leading zeros.
func checkIdentifiers(s string, pre bool) error {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return errors.New("empty identifier")
		}
		for i := 0; i < len(id); i++ {
			if !isAlnum(id[i]) && id[i] != '-' {
				return fmt.Errorf("invalid character %q in %s", id[i], clip.Quote(id))
			}
		}
		if pre && isNumeric(id) && len(id) > 1 && id[0] == '0' {
			return fmt.Errorf("numeric identifier %s has a leading zero", clip.Quote(id))
		}
	}
	return nil
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (v *validator) root(r *specs.Root) {
	if r == nil {
		v.add("root", "missing", `add "root": {"path": "rootfs"} pointing at the container's root filesystem`)
		return
	}
	if r.Path == "" {
		v.add("root.path", "empty", "set it to the rootfs directory, absolute or relative to the bundle")
		return
	}
	p := r.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(v.bundle, p)
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.add("root.path", fmt.Sprintf("rootfs %s does not exist", clip.String(p)),
			"create the directory (unpack an image into it) or correct root.path")
	case err != nil:
		v.add("root.path", fmt.Sprintf("cannot access rootfs: %v", clip.PathError(err)),
			"make the rootfs directory accessible to hull")
	case !fi.IsDir():
		v.add("root.path", fmt.Sprintf("rootfs %s is not a directory", clip.String(p)),
			"point root.path at a directory")
	}
}

func (v *validator) process(p *specs.Process) {
	if p == nil {
		v.add("process", "missing: create needs the container's process",
			`add a "process" object with at least "args" and "cwd"`)
		return
	}
	v.user(p.User)
	if len(p.Args) == 0 {
		v.add("process.args", "empty", `set the command to run, e.g. ["sh"]`)
	}
	for i, a := range p.Args {
		f := index("process.args", i)
		switch {
		case i == 0 && a == "":
			v.add(f, "empty program name", "set the program to run")
		case strings.IndexByte(a, 0) >= 0:
			v.add(f, "contains a NUL byte", "remove the NUL byte; execve(2) cannot pass it")
		}
	}
	switch {
	case p.Cwd == "":
		v.add("process.cwd", "missing", `set an absolute path inside the container, e.g. "/"`)
	case !filepath.IsAbs(p.Cwd):
		v.add("process.cwd", fmt.Sprintf("%s is not absolute", clip.Quote(p.Cwd)),
			`use an absolute path inside the container, e.g. "/"`)
	}
	for i, e := range p.Env {
		f := index("process.env", i)
		name, _, ok := strings.Cut(e, "=")
		switch {
		case !ok || name == "":
			v.add(f, fmt.Sprintf("%s is not of the form NAME=value", clip.Quote(e)), `write it as "NAME=value"`)
		case strings.IndexByte(e, 0) >= 0:
			v.add(f, "contains a NUL byte", "remove the NUL byte; execve(2) cannot pass it")
		}
	}
	v.rlimits(p.Rlimits)
	// Capability names are not checked here: unknown ones are warnings
	// (libruntime/check), not errors.
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		v.add("process.oomScoreAdj", fmt.Sprintf("%d is out of range", *p.OOMScoreAdj),
			"use a value from -1000 to 1000")
	}
	v.lsm(p)
	v.procAttrs(p)
}

// lsm checks the form of the process's LSM fields. Whether the host can apply
// them is the host's question (lsm.Check, from libruntime/check and exec).
func (v *validator) lsm(p *specs.Process) {
	if strings.IndexByte(p.ApparmorProfile, 0) >= 0 || strings.ContainsRune(p.ApparmorProfile, '\n') {
		v.add("process.apparmorProfile", "contains a NUL byte or a newline", "give the profile's name only")
	}
	if strings.IndexByte(p.SelinuxLabel, 0) >= 0 || strings.ContainsRune(p.SelinuxLabel, '\n') {
		v.add("process.selinuxLabel", "contains a NUL byte or a newline", "give the label as user:role:type:level")
	}
}

// ngroupsMax is the kernel's NGROUPS_MAX, the most supplementary groups
// setgroups(2) takes.
const ngroupsMax = 65536

func (v *validator) user(u specs.User) {
	// Refused here, before anything is created: otherwise setgroups fails in
	// init, after the namespaces, cgroup and mounts are made.
	if n := len(u.AdditionalGids); n > ngroupsMax {
		v.add("process.user.additionalGids", fmt.Sprintf("%d groups, the kernel accepts at most %d (NGROUPS_MAX)", n, ngroupsMax),
			fmt.Sprintf("keep at most %d supplementary groups: remove duplicates and the groups the process does not need", ngroupsMax))
	}
}

// rlimitNames are the resources of setrlimit(2) the runtime-spec names.
var rlimitNames = []string{
	"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE",
	"RLIMIT_LOCKS", "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
	"RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS", "RLIMIT_RTPRIO",
	"RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
}

func (v *validator) rlimits(rl []specs.POSIXRlimit) {
	first := make(map[string]int, len(rl))
	for i, r := range rl {
		f := index("process.rlimits", i)
		if !slices.Contains(rlimitNames, r.Type) {
			v.add(f+".type", fmt.Sprintf("unknown rlimit %s", clip.Quote(r.Type)),
				"use one of "+strings.Join(rlimitNames, ", "))
		} else if j, dup := first[r.Type]; dup {
			v.add(f+".type", fmt.Sprintf("duplicate %s, already set by %s", r.Type, index("process.rlimits", j)),
				"keep one entry per rlimit type")
		} else {
			first[r.Type] = i
		}
		if r.Soft > r.Hard {
			v.add(f+".soft", fmt.Sprintf("soft limit %d is above hard limit %d", r.Soft, r.Hard),
				"lower soft or raise hard so that soft <= hard")
		}
	}
}

func (v *validator) hostnames(s *specs.Spec) {
	for _, h := range []struct{ field, value string }{
		{"hostname", s.Hostname},
		{"domainname", s.Domainname},
	} {
		if h.value == "" {
			continue
		}
		uts, ok := v.ns[specs.UTSNamespace]
		switch {
		case !ok:
			v.add(h.field, fmt.Sprintf("setting the %s needs a new uts namespace, but the container shares the host's", h.field),
				fmt.Sprintf(`add {"type": "uts"} to linux.namespaces, or remove %s`, h.field))
		// A joined namespace gets the name, as with runc: the container
		// shares it on purpose. Only the host's own is refused, which would
		// rename the host (as a sharing container is refused above).
		case uts.path != "" && v.isHostNS(specs.UTSNamespace, uts.path):
			v.add(h.field, fmt.Sprintf("setting the %s would change the host's: %s joins the host's uts namespace",
				h.field, index("linux.namespaces", uts.index)),
				fmt.Sprintf("remove %s, or the path of the uts namespace to get a new one", h.field))
		}
	}
}

func (v *validator) mounts(ms []specs.Mount) {
	for i, m := range ms {
		f := index("mounts", i)
		switch {
		case m.Destination == "":
			v.add(f+".destination", "missing", "set the absolute path of the mount point inside the container")
		case !filepath.IsAbs(m.Destination):
			v.add(f+".destination", fmt.Sprintf("%s is not absolute", clip.Quote(m.Destination)),
				"use an absolute path inside the container")
		case hasDotDot(m.Destination):
			v.add(f+".destination", fmt.Sprintf("%s contains a \"..\" component", clip.Quote(m.Destination)),
				`write the path without ".."`)
		}

		optsOK := true
		for j, o := range m.Options {
			if err := checkMountOption(o); err != nil {
				optsOK = false
				v.add(index(f+".options", j), err.Error(), "remove it from the options")
			}
		}
		var mo MountOptions
		if optsOK {
			// Cannot fail: every option passed checkMountOption.
			mo, _ = ParseMountOptions(m.Options)
		} else {
			mo.Bind = slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
		}

		if m.Type == "" && !mo.Bind {
			v.add(f+".type", "missing",
				`set the filesystem type (e.g. "tmpfs"), or add "bind" or "rbind" to options for a bind mount`)
		}
		if mo.Bind && m.Source == "" {
			v.add(f+".source", "a bind mount needs a source",
				"set the host path to bind, absolute or relative to the bundle")
		}
		if optsOK && (mo.Bind || m.Type == "bind") {
			v.bindOptions(f, m, mo)
		} else if optsOK && mo.TmpCopyUp && m.Type != "tmpfs" {
			v.add(f+".options", fmt.Sprintf("tmpcopyup has no effect on a mount of type %s", clip.Quote(m.Type)),
				`remove "tmpcopyup": it copies a directory's content into a new tmpfs only`)
		}
		hasMappings := len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0
		if (mo.IDMap || mo.RIDMap) && !hasMappings {
			if _, userns := v.ns[specs.UserNamespace]; !userns {
				v.add(f+".options", "idmap needs uidMappings and gidMappings on the mount or a user namespace for the container",
					`add uidMappings and gidMappings to the mount, or {"type": "user"} to linux.namespaces`)
			}
		}
		v.idMappings(f+".uidMappings", m.UIDMappings)
		v.idMappings(f+".gidMappings", m.GIDMappings)
	}
}

// bindOptions refuses the options a bind mount cannot honour, which runc passes to
// the kernel, where they are dropped without a word: a bind shares the source's
// superblock, so neither filesystem data ("size=1m", "mode=755", "uid=...") nor the
// superblock flags (sync, dirsync, mand, iversion, lazytime and their negations) can
// change for it. The per-mount flags (ro, nosuid, nodev, noexec, nosymfollow, the
// atime modes) are applied to the bind by rootfs.
func (v *validator) bindOptions(f string, m specs.Mount, mo MountOptions) {
	if mo.Data != "" {
		v.add(f+".options", fmt.Sprintf("filesystem options %s have no effect on a bind mount (it shares the source's filesystem, whose options the kernel does not change for a bind)", clip.Quote(mo.Data)),
			"remove them, or set them where the source filesystem is mounted on the host, or mount a new filesystem (a type such as \"tmpfs\" without \"bind\") to have them")
	}
	var super []string
	for _, o := range m.Options {
		if superblockOptions[o] {
			super = append(super, o)
		}
	}
	if len(super) > 0 {
		v.add(f+".options", fmt.Sprintf("%s: flags of the source's filesystem, which a bind mount cannot change", clip.List(super)),
			"remove them, or remount the source filesystem on the host with them")
	}
	if mo.TmpCopyUp {
		v.add(f+".options", "tmpcopyup has no effect on a bind mount",
			`remove "tmpcopyup": it copies a directory's content into a new tmpfs only`)
	}
}

func hasDotDot(p string) bool {
	for c := range strings.SplitSeq(p, "/") {
		if c == ".." {
			return true
		}
	}
	return false
}

func (v *validator) hooks(h *specs.Hooks) {
	if h == nil {
		return
	}
	kinds := []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", h.Prestart}, //nolint:staticcheck // deprecated but still run
		{"createRuntime", h.CreateRuntime},
		{"createContainer", h.CreateContainer},
		{"startContainer", h.StartContainer},
		{"poststart", h.Poststart},
		{"poststop", h.Poststop},
	}
	for _, k := range kinds {
		for i, hk := range k.hooks {
			f := index("hooks."+k.name, i)
			switch {
			case hk.Path == "":
				v.add(f+".path", "missing", "set the absolute path of the hook program")
			case !filepath.IsAbs(hk.Path):
				v.add(f+".path", fmt.Sprintf("%s is not absolute", clip.Quote(hk.Path)), "use the absolute path of the hook program")
			}
			if hk.Timeout != nil && *hk.Timeout <= 0 {
				v.add(f+".timeout", fmt.Sprintf("%d is not positive", *hk.Timeout),
					"set a timeout in seconds greater than 0, or remove it to wait without limit")
			}
		}
	}
}

func (v *validator) linux(l *specs.Linux) {
	v.namespaces(l)
	if l == nil {
		return
	}
	v.userMappings(l)
	v.timeOffsets(l.TimeOffsets)
	v.sysctls(l.Sysctl)
	v.devices(l.Devices)
	for _, p := range []struct {
		field string
		paths []string
	}{
		{"linux.maskedPaths", l.MaskedPaths},
		{"linux.readonlyPaths", l.ReadonlyPaths},
	} {
		for i, path := range p.paths {
			if !filepath.IsAbs(path) {
				v.add(index(p.field, i), fmt.Sprintf("%s is not absolute", clip.Quote(path)),
					"use an absolute path inside the container")
			}
		}
	}
	switch l.RootfsPropagation {
	case "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable":
	default:
		v.add("linux.rootfsPropagation", fmt.Sprintf("unknown propagation %s", clip.Quote(l.RootfsPropagation)),
			"use one of private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable")
	}
	// The label goes into a context="..." mount option: a quote would end it early
	// and let the rest of the label add options of its own.
	if strings.ContainsAny(l.MountLabel, "\"\x00\n") {
		v.add("linux.mountLabel", "contains a quote, a NUL byte or a newline", "give the label as user:role:type:level")
	}
	v.netDevices(l.NetDevices)
	// Refused rather than ignored: a container silently missing its cache allocation
	// would run differently from what was asked.
	if l.IntelRdt != nil {
		v.add("linux.intelRdt", "not supported: hull has no Intel RDT support", "remove linux.intelRdt")
	}
	if _, err := MemoryPolicy("linux.memoryPolicy", l.MemoryPolicy); err != nil {
		v.errs = append(v.errs, err)
	}
	if _, err := Personality("linux.personality", l.Personality); err != nil {
		v.errs = append(v.errs, err)
	}
}

// netDevices checks linux.netDevices: the names are the kernel's (dev_valid_name), and
// the devices need a network namespace of the container's own to go to (runc: "unable
// to move network devices without a NET namespace").
func (v *validator) netDevices(devs map[string]specs.LinuxNetDevice) {
	if len(devs) == 0 {
		return
	}
	e, ok := v.ns[specs.NetworkNamespace]
	switch {
	case !ok:
		v.add("linux.netDevices", "no network namespace: the devices are moved into the container's own",
			`add {"type": "network"} to linux.namespaces, or remove linux.netDevices`)
	case e.path != "" && v.isHostNS(specs.NetworkNamespace, e.path):
		// runc accepts it and renames the host's device in place; a container never
		// owns the host's namespace, so nothing would ever give the name back.
		v.add("linux.netDevices", fmt.Sprintf("%s joins the host's network namespace, which the devices are already in", index("linux.namespaces", e.index)),
			"remove the path of the network namespace to get a new one, or remove linux.netDevices")
	}
	hostNames := make([]string, 0, len(devs))
	for k := range devs {
		hostNames = append(hostNames, k)
	}
	slices.Sort(hostNames)
	taken := make(map[string]string, len(devs))
	for _, k := range hostNames {
		f := "linux.netDevices." + clip.String(k)
		if msg := ifnameProblem(k, false); msg != "" {
			v.add(f, fmt.Sprintf("%s is not a network device name: %s", clip.Quote(k), msg),
				"use the device's name in the runtime's network namespace, as `ip link` shows it")
		}
		name := devs[k].Name
		if name == "" {
			name = k
		} else if msg := ifnameProblem(name, true); msg != "" {
			v.add(f+".name", fmt.Sprintf("%s is not a network device name: %s", clip.Quote(name), msg),
				"use 1 to 15 bytes without '/', ':' or white space, not \".\" or \"..\"; a single %d lets the kernel number it")
			continue
		}
		if strings.Contains(name, "%") {
			continue
		}
		if other, dup := taken[name]; dup {
			v.add(f+".name", fmt.Sprintf("%s is also the name of linux.netDevices.%s in the container", clip.Quote(name), clip.String(other)),
				"give each device its own name in the container")
			continue
		}
		taken[name] = k
	}
}

// ifnameProblem says why the kernel would refuse s as an interface name (net/core/dev.c
// dev_valid_name; IFNAMSIZ is 16 with the NUL), or "". A new name may hold one %d,
// which the kernel replaces with the first free number.
func ifnameProblem(s string, template bool) string {
	switch {
	case s == "":
		return "empty"
	case len(s) >= unix.IFNAMSIZ:
		return fmt.Sprintf("%d bytes, the kernel takes at most %d", len(s), unix.IFNAMSIZ-1)
	case s == "." || s == "..":
		return `"." and ".." are not device names`
	case strings.ContainsAny(s, "/:"):
		return "contains '/' or ':'"
	}
	for _, c := range []byte(s) {
		switch c {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			return "contains white space"
		}
	}
	if n := strings.Count(s, "%"); n > 0 && (!template || n != 1 || strings.Count(s, "%d") != 1) {
		return "'%' only as one %d, in a new name"
	}
	return ""
}

func (v *validator) namespaces(l *specs.Linux) {
	var nss []specs.LinuxNamespace
	if l != nil {
		nss = l.Namespaces
	}
	seen := make(map[specs.LinuxNamespaceType]int, len(nss))
	for i, n := range nss {
		f := index("linux.namespaces", i)
		if _, known := nsFile(n.Type); !known {
			v.add(f+".type", fmt.Sprintf("unknown namespace type %s", clip.Quote(string(n.Type))), namespaceFix)
		} else if j, dup := seen[n.Type]; dup {
			v.add(f+".type", fmt.Sprintf("duplicate namespace type %q, already in %s", n.Type, index("linux.namespaces", j)),
				"keep one entry per namespace type")
		} else {
			seen[n.Type] = i
		}
		if n.Path != "" && !filepath.IsAbs(n.Path) {
			v.add(f+".path", fmt.Sprintf("%s is not absolute", clip.Quote(n.Path)),
				"use the absolute path of the namespace file, e.g. /proc/<pid>/ns/net, or remove path for a new namespace")
		}
	}
	if _, ok := v.ns[specs.MountNamespace]; !ok {
		v.noMountNS(l)
	}
}

// noMountNS refuses what a container without a mount namespace cannot have. The
// spec lets it inherit the runtime's: hull then only chroots into root.path, as
// runc does. runc also makes the config's mounts, the rootfs bind, /dev and the
// console there, in the host's mount table, and leaves them behind; hull makes
// no mount at all, so anything that needs one is refused here, before anything is
// made (maskedPaths and readonlyPaths as runc refuses them, the rest where runc
// would change the host or silently skip it, as root.readonly).
func (v *validator) noMountNS(l *specs.Linux) {
	const fix = `add {"type": "mount"} to linux.namespaces, or remove it`
	const why = "without a mount namespace of the container's it would be mounted in the host's mount table"
	s := v.spec
	if len(s.Mounts) > 0 {
		v.add("mounts", fmt.Sprintf("%d mounts: %s", len(s.Mounts), why), `add {"type": "mount"} to linux.namespaces, or make mounts empty`)
	}
	if s.Root != nil && s.Root.Readonly {
		v.add("root.readonly", "a read-only root is a read-only bind of root.path, "+why, fix+` ("readonly": false)`)
	}
	if s.Process != nil && s.Process.Terminal {
		v.add("process.terminal", "the pty is mounted at /dev/console and opened from the devpts at /dev/pts, "+why, `add {"type": "mount"} to linux.namespaces, or set terminal to false`)
	}
	if l == nil {
		return
	}
	if len(l.MaskedPaths) > 0 {
		v.add("linux.maskedPaths", "masking a path is a mount over it, "+why, fix)
	}
	if len(l.ReadonlyPaths) > 0 {
		v.add("linux.readonlyPaths", "a read-only path is a read-only bind over it, "+why, fix)
	}
	if l.RootfsPropagation != "" {
		v.add("linux.rootfsPropagation", "it would change the propagation of the host's mounts", fix)
	}
	if len(l.Devices) > 0 {
		v.add("linux.devices", "devices are made in the container's /dev, a tmpfs (or, in a user namespace, binds) "+why, fix)
	}
}

func (v *validator) userMappings(l *specs.Linux) {
	userns, hasUserNS := v.ns[specs.UserNamespace]
	for _, m := range []struct {
		field, kind string
		maps        []specs.LinuxIDMapping
	}{
		{"linux.uidMappings", "uid", l.UIDMappings},
		{"linux.gidMappings", "gid", l.GIDMappings},
	} {
		switch {
		case len(m.maps) > 0 && !hasUserNS:
			v.add(m.field, fmt.Sprintf("%s mappings need a user namespace", m.kind),
				fmt.Sprintf(`add {"type": "user"} to linux.namespaces, or remove %s`, m.field))
		case len(m.maps) == 0 && hasUserNS && userns.path == "":
			v.add(m.field, fmt.Sprintf("a new user namespace needs %s mappings", m.kind),
				`map at least one id, e.g. [{"containerID": 0, "hostID": 100000, "size": 65536}]`)
		}
		v.idMappings(m.field, m.maps)
	}
}

// maxIDMapExtents is the kernel's limit of lines in uid_map and gid_map
// (since Linux 4.15).
const maxIDMapExtents = 340

// idMappings checks the ranges of one uid or gid mapping list: each non-empty,
// within 32 bits, and not overlapping another on either side.
func (v *validator) idMappings(field string, maps []specs.LinuxIDMapping) {
	if len(maps) > maxIDMapExtents {
		// Also keeps the quadratic overlap check below cheap.
		v.add(field, fmt.Sprintf("%d mappings, the kernel accepts at most %d", len(maps), maxIDMapExtents),
			"merge adjacent ranges into fewer entries")
		return
	}
	valid := make([]int, 0, len(maps))
	for i, m := range maps {
		f := index(field, i)
		if m.Size == 0 {
			v.add(f+".size", "size is 0", "map at least one id")
			continue
		}
		// The kernel refuses ranges whose end does not fit in 32 bits.
		if uint64(m.ContainerID)+uint64(m.Size) > math.MaxUint32 {
			v.add(f+".size", fmt.Sprintf("containerID range %d+%d goes beyond 4294967294", m.ContainerID, m.Size),
				"reduce size or containerID")
			continue
		}
		if uint64(m.HostID)+uint64(m.Size) > math.MaxUint32 {
			v.add(f+".size", fmt.Sprintf("hostID range %d+%d goes beyond 4294967294", m.HostID, m.Size),
				"reduce size or hostID")
			continue
		}
		for _, j := range valid {
			o := maps[j]
			if overlaps(m.ContainerID, m.Size, o.ContainerID, o.Size) {
				v.add(f+".containerID", fmt.Sprintf("container ids %s overlap %s (%s)",
					idRange(m.ContainerID, m.Size), index(field, j), idRange(o.ContainerID, o.Size)),
					"make the containerID ranges disjoint")
			}
			if overlaps(m.HostID, m.Size, o.HostID, o.Size) {
				v.add(f+".hostID", fmt.Sprintf("host ids %s overlap %s (%s)",
					idRange(m.HostID, m.Size), index(field, j), idRange(o.HostID, o.Size)),
					"make the hostID ranges disjoint")
			}
		}
		valid = append(valid, i)
	}
}

func overlaps(a, an, b, bn uint32) bool {
	return uint64(a) < uint64(b)+uint64(bn) && uint64(b) < uint64(a)+uint64(an)
}

func idRange(start, size uint32) string {
	return fmt.Sprintf("%d-%d", start, uint64(start)+uint64(size)-1)
}

func (v *validator) timeOffsets(offs map[string]specs.LinuxTimeOffset) {
	if len(offs) == 0 {
		return
	}
	timens, ok := v.ns[specs.TimeNamespace]
	switch {
	case !ok:
		v.add("linux.timeOffsets", "clock offsets need a new time namespace",
			`add {"type": "time"} to linux.namespaces, or remove linux.timeOffsets`)
	case timens.path != "":
		// Offsets can only be written before any process enters the namespace.
		v.add("linux.timeOffsets", fmt.Sprintf("cannot set clock offsets of the time namespace joined from %s", clip.String(timens.path)),
			"remove linux.timeOffsets, or the path of the time namespace to get a new one")
	}
	for _, clock := range sortedKeys(offs) {
		f := "linux.timeOffsets." + clip.Quote(clock)
		if clock != "monotonic" && clock != "boottime" {
			v.add(f, fmt.Sprintf("unknown clock %s", clip.Quote(clock)), "use monotonic or boottime")
			continue
		}
		if ns := offs[clock].Nanosecs; ns >= 1e9 {
			v.add(f+".nanosecs", fmt.Sprintf("%d is not below one second", ns),
				"move whole seconds into secs, keeping nanosecs below 1000000000")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ipcSysctls are the sysctls outside fs.mqueue that the ipc namespace isolates.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// sysctlNamespace returns the namespace that isolates key, or "" when the
// sysctl is global. Keys may use "." or "/" as separator, as sysctl(8) allows.
func sysctlNamespace(key string) specs.LinuxNamespaceType {
	// Only the prefix and the ipc names matter here, and none of those have
	// dots within a component, so converting separators is safe.
	k := strings.ReplaceAll(key, "/", ".")
	switch {
	case strings.HasPrefix(k, "net.") && len(k) > len("net."):
		return specs.NetworkNamespace
	case strings.HasPrefix(k, "fs.mqueue.") && len(k) > len("fs.mqueue."):
		return specs.IPCNamespace
	case slices.Contains(ipcSysctls, k):
		return specs.IPCNamespace
	case k == "kernel.hostname" || k == "kernel.domainname":
		return specs.UTSNamespace
	}
	return ""
}

// utsNameField returns the config field that sets the same name as the sysctl
// key, "hostname" or "domainname", or "" for any other key.
func utsNameField(key string) string {
	switch strings.ReplaceAll(key, "/", ".") {
	case "kernel.hostname":
		return "hostname"
	case "kernel.domainname":
		return "domainname"
	}
	return ""
}

// utsName returns the value of the config's field "hostname" or "domainname".
func (v *validator) utsName(field string) string {
	if field == "hostname" {
		return v.spec.Hostname
	}
	return v.spec.Domainname
}

// validSysctlName reports whether key names a file under /proc/sys without
// escaping it.
func validSysctlName(key string) bool {
	sep := "."
	if strings.Contains(key, "/") {
		sep = "/"
	}
	for c := range strings.SplitSeq(key, sep) {
		if c == "" || c == "." || c == ".." || strings.IndexByte(c, 0) >= 0 {
			return false
		}
	}
	return true
}

const sysctlFix = "only namespaced sysctls can be set per container: " +
	"kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, " +
	"kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.*, net.*, kernel.hostname, kernel.domainname; remove it"

func (v *validator) sysctls(sc map[string]string) {
	for _, key := range sortedKeys(sc) {
		f := "linux.sysctl." + clip.Quote(key)
		if !validSysctlName(key) {
			v.add(f, "invalid sysctl name", `write it as dot-separated components, e.g. "net.ipv4.ip_forward"`)
			continue
		}
		t := sysctlNamespace(key)
		if t == "" {
			v.add(f, "not a namespaced sysctl: setting it would change the host", sysctlFix)
			continue
		}
		if field := utsNameField(key); field != "" && v.utsName(field) != "" {
			// Both would be written, the sysctl last: refuse rather than let one
			// silently win over the other.
			v.add(f, fmt.Sprintf("conflicts with %q: both set the container's %s", field, field),
				fmt.Sprintf("remove %q or this sysctl", field))
		}
		e, ok := v.ns[t]
		switch {
		case !ok:
			v.add(f, fmt.Sprintf("belongs to the %s namespace, which the container shares with the host", t),
				fmt.Sprintf(`add {"type": "%s"} to linux.namespaces, or remove the sysctl`, t))
		case e.path != "" && v.isHostNS(t, e.path):
			v.add(f, fmt.Sprintf("belongs to the %s namespace, and %s joins the host's", t, index("linux.namespaces", e.index)),
				fmt.Sprintf("remove the path of the %s namespace to get a new one, or remove the sysctl", t))
		}
	}
}

// isHostNS reports whether path is the namespace of type t that hull itself
// runs in. Errors count as "no": joining the path fails later with context.
func (v *validator) isHostNS(t specs.LinuxNamespaceType, path string) bool {
	if host, ok := v.hostNS[t]; ok {
		return host
	}
	file, _ := nsFile(t)
	var target, self unix.Stat_t
	host := unix.Stat(path, &target) == nil &&
		unix.Stat("/proc/self/ns/"+file, &self) == nil &&
		target.Dev == self.Dev && target.Ino == self.Ino
	if v.hostNS == nil {
		v.hostNS = make(map[specs.LinuxNamespaceType]bool)
	}
	v.hostNS[t] = host
	return host
}

// Device numbers the kernel can encode: 12 bits of major, 20 of minor.
const (
	maxMajor = 1<<12 - 1
	maxMinor = 1<<20 - 1
)

func (v *validator) devices(devs []specs.LinuxDevice) {
	for i, d := range devs {
		f := index("linux.devices", i)
		switch {
		case d.Path == "":
			v.add(f+".path", "missing", "set the device path inside the container, e.g. /dev/fuse")
		case !filepath.IsAbs(d.Path):
			v.add(f+".path", fmt.Sprintf("%s is not absolute", clip.Quote(d.Path)), "use an absolute path under /dev")
		case hasDotDot(d.Path) || !strings.HasPrefix(filepath.Clean(d.Path), "/dev/"):
			v.add(f+".path", fmt.Sprintf("%s is not under /dev", clip.Quote(d.Path)), "put the device under /dev")
		}
		switch d.Type {
		case "c", "b", "u":
			// Major 0 is the unnamed-device major, never a real device; it is
			// also what an omitted "major" decodes to.
			if d.Major <= 0 || d.Major > maxMajor {
				v.add(f+".major", fmt.Sprintf("major %d is missing or out of range", d.Major),
					fmt.Sprintf("set the device's major number (1 to %d), as shown by ls -l on the host", maxMajor))
			}
			if d.Minor < 0 || d.Minor > maxMinor {
				v.add(f+".minor", fmt.Sprintf("minor %d is out of range", d.Minor),
					fmt.Sprintf("set the device's minor number (0 to %d)", maxMinor))
			}
		case "p":
		default:
			v.add(f+".type", fmt.Sprintf("unknown device type %s", clip.Quote(d.Type)),
				"use c (character), b (block), u (unbuffered character) or p (FIFO)")
		}
	}
}
