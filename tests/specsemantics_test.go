//go:build linux

package tests

import (
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestNewerSpecMinorRuns: a config written for a runtime-spec 1.x newer than
// hull knows (1.3) still runs, because 1.x keeps compatibility within the major
// version; create notes it at --debug only (every container of an engine built
// on the newer spec would otherwise warn), and only at --debug.
func TestNewerSpecMinorRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := chkCleanSpec()
	s.Version = "1.4.0"
	s.Process.Args = []string{"echo", "ran"}
	r := h.run(s)
	mustExit(t, r, 0)
	if !strings.Contains(r.stdout, "ran") {
		t.Errorf("the container did not run: %s", r)
	}
	if strings.Contains(r.stderr, "ociVersion") {
		t.Errorf("without --debug, create mentions ociVersion: %q", r.stderr)
	}

	h2 := h.sibling(t)
	h2.writeSpec(s)
	r = h2.do("--debug", "run", "--bundle", h2.bundle, h2.id)
	mustExit(t, r, 0)
	var note string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, "ociVersion") {
			note = l
		}
	}
	if !strings.Contains(note, "level=debug") || !strings.Contains(note, "1.4.0") || !strings.Contains(note, "1.3") {
		t.Errorf("with --debug, create does not log the newer version at debug level: %q", r.stderr)
	}
}

// TestUnknownCapabilityWarns: a capability name hull cannot map to the kernel
// is left out with a warning naming it, as config.md asks ("logged as a
// warning", "SHOULD NOT fail") and runc does; the names it knows still apply.
func TestUnknownCapabilityWarns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := chkCleanSpec()
	s.Process.Args = shell(`grep -E '^Cap(Bnd|Eff)' /proc/self/status`)
	caps := s.Process.Capabilities
	caps.Bounding = append(caps.Bounding, "CAP_NOPE")
	caps.Effective = append(caps.Effective, "net_admin")
	caps.Permitted = append(caps.Permitted, "CAP_NOPE")
	r := h.run(s)
	mustExit(t, r, 0)
	for _, name := range []string{"CAP_NOPE", "net_admin"} {
		if !strings.Contains(r.stderr, "level=warning") || !strings.Contains(r.stderr, name) {
			t.Errorf("no warning naming %s: %q", name, r.stderr)
		}
	}
	want := fmt.Sprintf("%016x", capMask(t, []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}))
	st := procStatus(r.stdout)
	for _, k := range []string{"CapBnd", "CapEff"} {
		if st[k] != want {
			t.Errorf("%s = %q, want %s (the known names only)", k, st[k], want)
		}
	}

	// exec --cap too (runc: "ignoring unknown or unavailable capabilities").
	h2 := h.sibling(t)
	h2.startContainer(baseSpec("sleep", "1001"))
	e := h2.do("exec", "--cap", "CAP_BOGUS", h2.id, "sh", "-c", `grep -E '^CapEff' /proc/self/status`)
	mustExit(t, e, 0)
	if !strings.Contains(e.stderr, "level=warning") || !strings.Contains(e.stderr, "CAP_BOGUS") {
		t.Errorf("exec --cap CAP_BOGUS: no warning naming it: %q", e.stderr)
	}
	if got := procStatus(e.stdout)["CapEff"]; got != want {
		t.Errorf("exec --cap CAP_BOGUS: CapEff = %q, want %s", got, want)
	}
}

// TestJoinedUTSNamespaceHostname: a container that joins another container's uts
// namespace by path and sets hostname and domainname sets them in that
// namespace, as runc does: the first container sees the new names.
func TestJoinedUTSNamespaceHostname(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first := h.startContainer(baseSpec("sleep", "1001"))
	sib := h.sibling(t)
	s := chkCleanSpec()
	s.Process.Args = shell(`echo "$(hostname) $(cat /proc/sys/kernel/domainname)"`)
	s.Hostname = "joiner"
	s.Domainname = "joined.example"
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == specs.UTSNamespace {
			s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/uts", first.Pid)
		}
	}
	r := sib.run(s)
	mustExit(t, r, 0)
	if got := strings.TrimSpace(r.stdout); got != "joiner joined.example" {
		t.Errorf("inside the joining container: %q, want %q", got, "joiner joined.example")
	}
	e := h.do("exec", h.id, "sh", "-c", `echo "$(hostname) $(cat /proc/sys/kernel/domainname)"`)
	mustExit(t, e, 0)
	if got := strings.TrimSpace(e.stdout); got != "joiner joined.example" {
		t.Errorf("in the container whose uts namespace was joined: %q, want %q", got, "joiner joined.example")
	}
}
