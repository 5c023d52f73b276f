//go:build linux

package tests

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestSecurityExecFakeProc: hull exec's helper works in the container's mount
// namespace, where /proc is whatever the container made it: a container with
// CAP_SYS_ADMIN mounts over it (or, without a procfs mount, the image ships the
// files). Nothing the helper decides may come from there. The helper read
// /proc/sys/kernel/cap_last_cap to know how far to drop the bounding set: a
// container that bound "1" over it had every exec'd process keep the host's whole
// bounding set, and a root process without no_new_privs gets its bounding set as
// its capabilities at execve: CAP_SYS_MODULE, CAP_SYS_RAWIO and the rest, beyond
// anything the container was given, for the program the container chose (it owns
// the binaries an operator's `hull exec` runs).
func TestSecurityExecFakeProc(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := baseSpec(shell("echo 1 >/dev/shm/last && mount -o bind /dev/shm/last /proc/sys/kernel/cap_last_cap && touch /dev/shm/ready && exec sleep 1000")...)
	c := s.Process.Capabilities
	for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Permitted} {
		*set = append(*set, "CAP_SYS_ADMIN")
	}
	// Docker's default: no no_new_privs.
	s.Process.NoNewPrivileges = false
	st := h.startContainer(s)
	secWait(t, "the container to bind its cap_last_cap", 10*time.Second, func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/root/dev/shm/ready", st.Pid))
		return err == nil
	})
	want := capMask(t, c.Bounding)

	r := h.do("exec", h.id, "cat", "/proc/self/status")
	mustExit(t, r, 0)
	got := hulltest.ProcStatus(r.readStdout())
	for _, set := range []string{"CapBnd", "CapEff", "CapPrm"} {
		if v := hulltest.StatusHex(t, got, set); v&^want != 0 {
			t.Errorf("ATTACK SUCCEEDED: the exec'd process has %s %#x, beyond the container's bounding set %#x by %#x: the container's fake /proc/sys/kernel/cap_last_cap stopped the bounding drop", set, v, want, v&^want)
		}
	}
}

// TestSecurityExecFakeSetgroups: the same helper read /proc/self/setgroups, there
// too the container's, to decide whether setgroups(2) is denied in the user
// namespace; if "deny", it left the supplementary groups as they were: those of
// hull exec's caller. A container that mounted a "deny" there had an exec'd
// process of any user carry the caller's groups (here 4242; a shim's, root's)
// instead of none. Whether setgroups is denied is now read by hull exec on the
// host, from init's /proc entry.
func TestSecurityExecFakeSetgroups(t *testing.T) {
	t.Parallel()
	setpriv := hulltest.RequireTool(t, "setpriv", "util-linux")
	h := newHarness(t)
	s := baseSpec(shell("mount -t tmpfs none /proc && mkdir /proc/self && echo deny >/proc/self/setgroups && touch /dev/shm/ready && exec sleep 1000")...)
	c := s.Process.Capabilities
	for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Permitted} {
		*set = append(*set, "CAP_SYS_ADMIN")
	}
	st := h.startContainer(s)
	secWait(t, "the container to fake its /proc/self/setgroups", 10*time.Second, func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/root/dev/shm/ready", st.Pid))
		return err == nil
	})
	r, err := h.runBinary(setpriv, cmdOpts{noRoot: true}, "--groups", "4242", "--",
		hullBinary, "--root", h.root, "exec", "--user", "1000:1000", h.id, "id", "-G")
	if err != nil {
		t.Fatal(err)
	}
	mustExit(t, r, 0)
	if got := strings.TrimSpace(r.stdout); got != "1000" {
		t.Errorf("ATTACK SUCCEEDED: the exec'd process (user 1000:1000, no additionalGids) has groups %q, want \"1000\": it kept hull exec's caller's supplementary groups because the container's /proc/self/setgroups said deny", got)
	}
}
