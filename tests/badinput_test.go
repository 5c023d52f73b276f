//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestBadInput feeds create bad ids, bundles and configs. Each must fail with
// a message naming the problem and leave no state, process, mount or cgroup.
func TestBadInput(t *testing.T) {
	t.Parallel()
	oom := func(v int) *int { return &v }
	tests := []struct {
		name string
		// mutate changes the spec or damages the bundle before create.
		mutate func(s *specs.Spec, h *harness)
		// raw: mutate writes config.json itself; do not rewrite it.
		raw bool
		// args replaces `create --bundle B ID` when set.
		args func(h *harness) []string
		// want: stderr must contain one of these (case-insensitive).
		want []string
	}{
		{name: "empty-id",
			args: func(h *harness) []string { return []string{"create", "--bundle", h.bundle, ""} },
			want: []string{"container id"}},
		{name: "id-dotdot",
			args: func(h *harness) []string { return []string{"create", "--bundle", h.bundle, ".."} },
			want: []string{"container id"}},
		{name: "id-with-slash",
			args: func(h *harness) []string { return []string{"create", "--bundle", h.bundle, "a/b"} },
			want: []string{"container id"}},
		{name: "id-with-space",
			args: func(h *harness) []string { return []string{"create", "--bundle", h.bundle, "a b"} },
			want: []string{"container id"}},
		{name: "missing-bundle",
			args: func(h *harness) []string {
				return []string{"create", "--bundle", filepath.Join(h.bundle, "nope"), h.id}
			},
			want: []string{"no such file or directory", "does not exist"}},
		{name: "missing-config", raw: true,
			mutate: func(_ *specs.Spec, h *harness) { os.Remove(filepath.Join(h.bundle, "config.json")) },
			want:   []string{"config.json"}},
		{name: "malformed-json", raw: true,
			mutate: func(_ *specs.Spec, h *harness) {
				os.WriteFile(filepath.Join(h.bundle, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": {`), 0o644)
			},
			want: []string{"json", "unexpected eof"}},
		{name: "missing-rootfs",
			mutate: func(_ *specs.Spec, h *harness) { os.RemoveAll(h.rootfs) },
			want:   []string{"rootfs", "root.path"}},
		{name: "missing-process-args",
			mutate: func(s *specs.Spec, _ *harness) { s.Process.Args = nil },
			want:   []string{"args"}},
		{name: "relative-cwd",
			mutate: func(s *specs.Spec, _ *harness) { s.Process.Cwd = "tmp" },
			want:   []string{"cwd"}},
		{name: "executable-not-found",
			mutate: func(s *specs.Spec, _ *harness) { s.Process.Args = []string{"no-such-binary"} },
			want:   []string{"no-such-binary"}},
		{name: "unknown-namespace-type",
			mutate: func(s *specs.Spec, _ *harness) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			},
			want: []string{"bogus"}},
		{name: "duplicate-namespace",
			mutate: func(s *specs.Spec, _ *harness) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
			},
			want: []string{"duplicate"}},
		{name: "namespace-path-missing",
			mutate: func(s *specs.Spec, _ *harness) {
				removeNamespace(s, specs.NetworkNamespace)
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/999999999/ns/net"})
			},
			want: []string{"/proc/999999999/ns/net"}},
		{name: "relative-mount-destination",
			mutate: func(s *specs.Spec, _ *harness) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "mnt/rel", Type: "tmpfs", Source: "tmpfs"})
			},
			want: []string{"mnt/rel"}},
		{name: "bind-source-missing",
			mutate: func(s *specs.Spec, h *harness) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/x", Type: "bind",
					Source: filepath.Join(h.outDir, "no-such-source"), Options: []string{"rbind"}})
			},
			want: []string{"no-such-source"}},
		{name: "unknown-mount-type",
			mutate: func(s *specs.Spec, _ *harness) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt/x", Type: "nosuchfs", Source: "none"})
			},
			want: []string{"/mnt/x", "nosuchfs"}},
		{name: "hostname-without-uts-namespace",
			mutate: func(s *specs.Spec, _ *harness) { removeNamespace(s, specs.UTSNamespace); s.Hostname = "x" },
			want:   []string{"hostname"}},
		// An unknown capability is a warning, not bad input: TestUnknownCapabilityWarns.
		{name: "hostname-and-its-sysctl",
			mutate: func(s *specs.Spec, _ *harness) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "other"} },
			want:   []string{`kernel.hostname`}},
		{name: "unknown-rlimit",
			mutate: func(s *specs.Spec, _ *harness) {
				s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_BOGUS", Soft: 1, Hard: 1})
			},
			want: []string{"RLIMIT_BOGUS"}},
		{name: "rlimit-nofile-above-host-hard",
			mutate: func(s *specs.Spec, _ *harness) {
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 30000}}
			},
			want: []string{"RLIMIT_NOFILE"}},
		{name: "non-namespaced-sysctl",
			mutate: func(s *specs.Spec, _ *harness) { s.Linux.Sysctl = map[string]string{"kernel.panic": "1"} },
			want:   []string{"kernel.panic"}},
		{name: "net-sysctl-without-net-namespace",
			mutate: func(s *specs.Spec, _ *harness) {
				removeNamespace(s, specs.NetworkNamespace)
				s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
			},
			want: []string{"net.ipv4.ip_forward"}},
		{name: "uid-mappings-without-user-namespace",
			mutate: func(s *specs.Spec, _ *harness) {
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			},
			want: []string{"uidMappings", "user namespace", "mapping"}},
		{name: "user-namespace-without-mappings",
			mutate: func(s *specs.Spec, _ *harness) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			},
			want: []string{"mapping"}},
		{name: "oom-score-adj-negative",
			mutate: func(s *specs.Spec, _ *harness) { s.Process.OOMScoreAdj = oom(-500) },
			want:   []string{"oom_score_adj", "oomScoreAdj"}},
		{name: "bad-device-type",
			mutate: func(s *specs.Spec, _ *harness) {
				s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/weird", Type: "z", Major: 1, Minor: 3}}
			},
			want: []string{"/dev/weird", "device type"}},
		{name: "terminal-without-console-socket",
			mutate: func(s *specs.Spec, _ *harness) { s.Process.Terminal = true },
			want:   []string{"console"}},
		{name: "console-socket-without-terminal",
			args: func(h *harness) []string {
				return []string{"create", "--bundle", h.bundle, "--console-socket", filepath.Join(h.outDir, "sock"), h.id}
			},
			want: []string{"console"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := baseSpec("sleep", "60")
			h.writeSpec(s)
			if tc.mutate != nil {
				tc.mutate(s, h)
				if !tc.raw {
					h.writeSpec(s)
				}
			}
			args := []string{"create", "--bundle", h.bundle, h.id}
			if tc.args != nil {
				args = tc.args(h)
			}
			r := h.do(args...)
			t.Logf("stderr: %s", strings.TrimSpace(r.stderr))
			if r.exit == 0 {
				t.Errorf("create succeeded, want a failure: %s", r)
			} else if !containsAny(r.stderr, tc.want) {
				t.Errorf("stderr does not mention any of %q: %s", tc.want, r)
			}
			h.assertNothingLeft(true)
		})
	}
}

func containsAny(s string, subs []string) bool {
	ls := strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(ls, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

// TestBadKill sends bad signals to a created container: kill must fail and
// the container must be untouched.
func TestBadKill(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mustExit(t, h.create(baseSpec("sleep", "60")), 0)
	pid := h.mustState(h.id).Pid
	for _, sig := range []string{"FOO", "SIGFOO", "KILL9", "SIG"} {
		t.Run(sig, func(t *testing.T) {
			r := h.do("kill", h.id, sig)
			if r.exit == 0 || !strings.Contains(strings.ToLower(r.stderr), "signal") {
				t.Errorf("kill %s: %s; want a failure mentioning the signal", sig, r)
			}
			if st := h.mustState(h.id); st.Status != "created" || st.Pid != pid || !pidAlive(pid) {
				t.Errorf("after kill %s: %+v, want still created with pid %d", sig, st, pid)
			}
		})
	}
}
