// Package check reports, all at once and without creating anything, what is
// wrong with a bundle: against the runtime-spec (everything config.ValidateAll
// finds, seccomp and cgroup resources, hooks, the process's cwd and program
// inside the rootfs) and against this host (namespaces, capabilities, cgroup
// controllers, rlimits, oom_score_adj, id mappings, unsupported features).
//
// This is hull's one validation pass. `hull check` prints every Finding;
// `hull create` calls ForCreate, which adds what depends on create's flags
// (Create), so that it fails with the same text check prints for the first
// error, and logs the warnings in the same text. Nothing validates the config
// again after it.
//
// Every probe is read-only: check stats and reads files, reads its own
// credentials and limits, and builds (but never loads) the seccomp filter in
// memory. It makes no cgroup, mount, state or process.
package check

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/seccomp"
)

// Severity says what a finding means for `hull create`.
type Severity string

const (
	// SeverityError: create would fail.
	SeverityError Severity = "error"
	// SeverityWarning: create would go on, but the container would differ from
	// what config.json asks for.
	SeverityWarning Severity = "warning"
)

// Finding is one problem with a bundle.
type Finding struct {
	// Field is the JSON path of the offending value, such as
	// "linux.namespaces[1].type"; empty when the problem is config.json as
	// a whole (it cannot be read).
	Field    string   `json:"field"`
	Severity Severity `json:"severity"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Fix says, in one sentence, what to change.
	Fix string `json:"fix"`
}

// Error formats the finding as "<Field>: <Message>; <Fix>", leaving out the
// parts that are empty, like config.Error. It is the text `hull create` fails
// with; `hull check` prints it after the severity.
func (f *Finding) Error() string {
	return (&config.Error{Field: f.Field, Msg: f.Message, Fix: f.Fix}).Error()
}

// String is the line `hull check` prints: "<severity>: <Error()>".
func (f Finding) String() string {
	return string(f.Severity) + ": " + f.Error()
}

// Bundle loads <bundle>/config.json and returns every finding about it:
// config.ValidateAll's first, in its order, then the others section by
// section (process, mounts, hooks, linux). The error is
// set only when config.json cannot be read or decoded at all; the findings
// are then that one error.
func Bundle(bundle string) ([]Finding, error) {
	if bundle == "" {
		bundle = "."
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		return []Finding{{Severity: SeverityError, Message: err.Error(), Fix: "pass the bundle directory with --bundle"}}, err
	}
	s, err := config.Load(abs)
	if err != nil {
		return []Finding{loadFinding(err)}, err
	}
	return Spec(s, abs), nil
}

// Spec returns every finding about s, a config.json loaded from bundle (the
// directory a relative root.path is resolved against; hull uses its
// absolute path). A nil s gives the finding config.ValidateAll gives.
func Spec(s *specs.Spec, bundle string) []Finding {
	return newChecker(s, bundle, realHost()).run()
}

// SeccompFunc compiles linux.seccomp (never nil when called) and returns what
// seccomp.Validate would: its warnings and its error.
type SeccompFunc func(*specs.LinuxSeccomp) (warnings []string, err error)

// ForCreate is the validation pass of `hull create`: the findings `hull check`
// prints about s, then those that depend on how create was asked (o). It
// returns the first error-severity finding as a *Finding, whose Error() is the
// text `hull check` prints after "error: ", so that create fails exactly as
// check predicts; and, when there is no error, every warning, which create logs
// in the same text before it goes on, so that a user of create learns what check
// would have told them. Nothing after it checks the config again: create acts on
// this one pass.
//
// compile, if not nil, stands in for seccomp.Validate: create compiles the filter
// it gives init there, and the findings are made of that one compile's result.
func ForCreate(s *specs.Spec, bundle string, compile SeccompFunc, o Create) (warnings []Finding, err error) {
	c := newChecker(s, bundle, realHost())
	if compile != nil {
		c.compileSeccomp = compile
	}
	return c.forCreate(o)
}

func (c *checker) forCreate(o Create) (warnings []Finding, err error) {
	findings := c.run()
	if c.s != nil {
		c.create(o)
		findings = c.findings
	}
	for _, f := range findings {
		switch f.Severity {
		case SeverityError:
			return nil, &f
		case SeverityWarning:
			warnings = append(warnings, f)
		}
	}
	return warnings, nil
}

// Status is `hull check`'s exit status for findings: 0 when there are none,
// 1 when there is an error, 2 when there are only warnings.
func Status(findings []Finding) int {
	code := 0
	for _, f := range findings {
		switch f.Severity {
		case SeverityError:
			return 1
		case SeverityWarning:
			code = 2
		}
	}
	return code
}

// WriteText writes one line per finding, "<severity>: <field>: <message>;
// <fix>". No findings, no output.
func WriteText(w io.Writer, findings []Finding) error {
	var b strings.Builder
	for _, f := range findings {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the findings as a JSON array of {"field", "severity",
// "message", "fix"} objects, indented by two spaces; "[]" when there are none.
func WriteJSON(w io.Writer, findings []Finding) error {
	if findings == nil {
		findings = []Finding{}
	}
	data, err := json.MarshalIndent(findings, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// loadFinding turns an error of config.Load into a finding whose text is
// the error's, which is what `hull create` fails with: Load writes
// "<what is wrong>; <fix>[: <cause>]". The few errors without a fix (an
// unreadable bundle) get one.
func loadFinding(err error) Finding {
	msg, fix, ok := strings.Cut(err.Error(), "; ")
	if !ok {
		fix = "make the bundle directory and its config.json readable by hull"
	}
	return Finding{Severity: SeverityError, Message: msg, Fix: fix}
}

// checker collects the findings about one spec.
type checker struct {
	s        *specs.Spec
	bundle   string
	h        *host
	findings []Finding

	rootfs string // absolute, cleaned host path of root.path; "" if unusable
	// mountDests are the host paths, resolved inside rootfs, of the config's
	// mount destinations: what lies at or below one is not the rootfs's.
	mountDests []string
	newUserNS  bool
	// compileSeccomp builds the seccomp filter: seccomp.Validate, or create's compile.
	compileSeccomp SeccompFunc
}

func newChecker(s *specs.Spec, bundle string, h *host) *checker {
	if bundle == "" {
		bundle = "."
	}
	return &checker{s: s, bundle: bundle, h: h, compileSeccomp: seccomp.Validate}
}

func (c *checker) add(sev Severity, field, msg, fix string) {
	c.findings = append(c.findings, Finding{Field: field, Severity: sev, Message: msg, Fix: fix})
}

func (c *checker) errorf(field, fix, format string, a ...any) {
	c.add(SeverityError, field, fmt.Sprintf(format, a...), fix)
}

func (c *checker) warnf(field, fix, format string, a ...any) {
	c.add(SeverityWarning, field, fmt.Sprintf(format, a...), fix)
}

func (c *checker) run() []Finding {
	for _, e := range config.ValidateAll(c.s, c.bundle) {
		c.add(SeverityError, e.Field, e.Msg, e.Fix)
	}
	s := c.s
	if s == nil {
		return c.findings
	}
	if w := config.VersionWarning(s.Version); w != nil {
		c.add(SeverityWarning, w.Field, w.Msg, w.Fix)
	}
	c.prepare()
	c.process()
	c.mounts()
	c.hooks()
	if s.Linux != nil {
		c.namespaces()
		c.userNS()
		c.netDevices()
		c.sysfsNetNS()
		c.seccomp()
		c.resources()
		// Relative node numbers are the cpuset's, not the host's.
		if mp := s.Linux.MemoryPolicy; mp != nil && !slices.Contains(mp.Flags, specs.MpolFRelativeNodes) {
			c.hostList("linux.memoryPolicy.nodes", mp.Nodes, "memory nodes", "have no memory", c.h.memoryNodes)
		}
	}
	return c.findings
}

// prepare works out what the checks of the rootfs need.
func (c *checker) prepare() {
	s := c.s
	if s.Linux != nil {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == specs.UserNamespace && ns.Path == "" {
				c.newUserNS = true
			}
		}
	}
	if s.Root == nil || s.Root.Path == "" {
		return
	}
	root := s.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(c.bundle, root)
	}
	root = filepath.Clean(root)
	if !isDir(root) {
		return // config.ValidateAll reports it
	}
	c.rootfs = root
	for _, m := range s.Mounts {
		if !filepath.IsAbs(m.Destination) {
			continue
		}
		if p, err := c.inRootfs(m.Destination); err == nil {
			c.mountDests = append(c.mountDests, p)
		}
	}
}

func index(field string, i int) string {
	return fmt.Sprintf("%s[%d]", field, i)
}
