package tests

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// hostAppArmor reports whether AppArmor is on here, as hull and runc decide it.
func hostAppArmor() bool {
	if _, err := os.Stat("/sys/kernel/security/apparmor"); err != nil {
		return false
	}
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(b), "Y")
}

// hostSELinux reports whether SELinux is on here (selinuxfs mounted writable).
func hostSELinux() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &st) == nil && uint32(st.Type) == uint32(unix.SELINUX_MAGIC) && st.Flags&unix.ST_RDONLY == 0
}

func requireNoAppArmor(t *testing.T) {
	t.Helper()
	if hostAppArmor() {
		hulltest.HostLimit(t, "AppArmor is enabled here, where hull applies the profile; the refusal is tested on hosts without it (the CI host)")
	}
}

func requireNoSELinux(t *testing.T) {
	t.Helper()
	if hostSELinux() {
		hulltest.HostLimit(t, "SELinux is enabled here, where hull applies the labels; the refusal is tested on hosts without it (the CI host)")
	}
}

// featLSM: features claims AppArmor and SELinux (features.md: the runtime's
// support, whatever the host has), and where the host has the module off create
// refuses the field, as runc 1.5 does, rather than run the process unconfined.
func featLSM(t *testing.T, doc *features.Features) {
	l := doc.Linux
	claims := []struct {
		name  string
		value *bool
		off   func(t *testing.T)
		set   func(s *specs.Spec)
		want  string
	}{
		{"apparmor.enabled", featEnabled(l.Apparmor != nil, func() *bool { return l.Apparmor.Enabled }), requireNoAppArmor,
			func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" },
			"process.apparmorProfile: AppArmor is not enabled on this host"},
		{"selinux.enabled", featEnabled(l.Selinux != nil, func() *bool { return l.Selinux.Enabled }), requireNoSELinux,
			func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" },
			"process.selinuxLabel: SELinux is not enabled on this host"},
	}
	for _, c := range claims {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if c.value == nil || !*c.value {
				t.Fatalf("features says %s is %v, want true", c.name, c.value)
			}
			c.off(t)
			h := newHarness(t)
			s := baseSpec("true")
			c.set(s)
			if r := h.create(s); r.exit == 0 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("create with %s on a host without the module: want a refusal with %q, got %s", c.name, c.want, r)
			}
		})
	}
}

// TestLSMHostOff: on a host without AppArmor and SELinux, each LSM field of the
// container's process and of an exec'd one is refused with the field, what is
// wrong and the fix, before anything runs (runc 1.5.1 fails all three here too:
// its init cannot write the profile, its validation refuses the label, its tmpfs
// mounts refuse context=); the harness checks nothing is left behind.
func TestLSMHostOff(t *testing.T) {
	t.Parallel()
	t.Run("create", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			off  func(t *testing.T)
			set  func(s *specs.Spec)
			want string
		}{
			{"apparmorProfile", requireNoAppArmor, func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" },
				"process.apparmorProfile: AppArmor is not enabled on this host: the process would run unconfined; remove process.apparmorProfile"},
			{"selinuxLabel", requireNoSELinux, func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0:c1,c2" },
				"process.selinuxLabel: SELinux is not enabled on this host"},
			{"mountLabel", requireNoSELinux, func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0:c1,c2" },
				"linux.mountLabel: SELinux is not enabled on this host: the mounts would not get their context"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.off(t)
				h := newHarness(t)
				s := baseSpec("true")
				tc.set(s)
				r := h.run(s)
				if r.exit == 0 || !strings.Contains(r.stderr, tc.want) {
					t.Errorf("want a refusal with %q, got %s", tc.want, r)
				}
			})
		}
	})
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		st := h.startContainer(sleeperSpec())
		pj := func(mut func(p *specs.Process)) string {
			p := &specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}}
			mut(p)
			return writeProcessJSON(t, h, p)
		}
		ok := pj(func(*specs.Process) {})
		for _, tc := range []struct {
			name string
			off  func(t *testing.T)
			args []string
			want string
		}{
			{"apparmor-flag", requireNoAppArmor, []string{"--apparmor", "docker-default", h.id, "true"},
				"process.apparmorProfile: AppArmor is not enabled on this host"},
			{"apparmor-flag-with-p", requireNoAppArmor, []string{"--apparmor", "docker-default", "-p", ok, h.id},
				"process.apparmorProfile: AppArmor is not enabled on this host"},
			{"apparmorProfile-in-p", requireNoAppArmor, []string{"-p", pj(func(p *specs.Process) { p.ApparmorProfile = "unconfined" }), h.id},
				"process.apparmorProfile: AppArmor is not enabled on this host"},
			{"process-label-flag", requireNoSELinux, []string{"--process-label", "system_u:system_r:container_t:s0", h.id, "true"},
				"process.selinuxLabel: SELinux is not enabled on this host"},
			{"selinuxLabel-in-p", requireNoSELinux, []string{"-p", pj(func(p *specs.Process) { p.SelinuxLabel = "system_u:system_r:container_t:s0" }), h.id},
				"process.selinuxLabel: SELinux is not enabled on this host"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.off(t)
				r := h.do(append([]string{"exec"}, tc.args...)...)
				if r.exit != 255 || !strings.Contains(r.stderr, "exec failed: "+tc.want) {
					t.Errorf("want exit 255 and %q, got %s", tc.want, r)
				}
			})
		}
		if pids := pidsInPidNS(t, st.Pid); len(pids) != 1 {
			t.Errorf("processes in the container after the refused execs: %v, want only init %d", pids, st.Pid)
		}
	})
}
