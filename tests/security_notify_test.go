//go:build linux

package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hull-runtime/hull/internal/hulltest"
)

var notifyRaceTool = &testTool{pkg: "./testdata/notifyrace", name: "notifyrace"}

// TestSecurityNotifySocketSymlink: /run/notify is a bind mount of a directory of the
// container's state dir, read-only, but a process of the container with CAP_SYS_ADMIN
// (and no user namespace, which would lock the flag) remounts it read-write and so
// writes in that host directory. An exec'd process of a created container does so,
// then waits for `hull start` to bind the relay's socket there and renames a symlink to
// a host file over it at once. start must never act on the socket's path after the
// container could have replaced it: before the fix it made the socket 0777 with
// chmod(path), which followed the symlink in the host's mount namespace and made the
// host file 0777. strace widens the window (the chmod is delayed 300 ms) so that the
// attack is deterministic rather than a race.
func TestSecurityNotifySocketSymlink(t *testing.T) {
	t.Parallel()
	strace := hulltest.RequireTool(t, "strace", "strace")
	h := newHarness(t)
	notifyRaceTool.install(t, h, "notifyrace")
	sock, _ := notifyListener(t)
	env := []string{"NOTIFY_SOCKET=" + sock}

	victim := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(victim, []byte("host only\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	s := baseSpec("true")
	for _, set := range []*[]string{&s.Process.Capabilities.Bounding, &s.Process.Capabilities.Effective, &s.Process.Capabilities.Permitted} {
		*set = append(*set, "CAP_SYS_ADMIN")
	}
	h.writeSpec(s)
	mustExit(t, h.hullOpts(cmdOpts{env: env}, "create", "--bundle", h.bundle, h.id), 0)

	pidFile := filepath.Join(h.outDir, "attacker.pid")
	attack := fmt.Sprintf("mount -o remount,rw,bind /run/notify || exit 1; exec notifyrace /run/notify %s 30 >/run/notify/attacker.out 2>&1", victim)
	mustExit(t, h.do("exec", "--detach", "--pid-file", pidFile, h.id, "sh", "-c", attack), 0)
	attacker := hulltest.ReadPid(t, pidFile)
	notifyDir := filepath.Join(h.root, h.id, "notify")
	secWait(t, "the attacker to remount /run/notify read-write and spin", 10*time.Second, func() bool {
		_, err := os.Lstat(filepath.Join(notifyDir, ".notifyrace"))
		return err == nil
	})

	args := []string{"-f", "-qq", "-o", "/dev/null", "-e", "trace=fchmodat", "-e", "inject=fchmodat:delay_enter=300000",
		hullBinary, "--root", h.root, "start", h.id}
	r, err := h.runBinary(strace, cmdOpts{noRoot: true, env: env}, args...)
	if err != nil {
		t.Fatal(err)
	}
	mustExit(t, r, 0)
	secWait(t, "the attacker to finish", 40*time.Second, func() bool { return !pidAlive(attacker) })
	out := readFile(filepath.Join(notifyDir, "attacker.out"))
	if !strings.Contains(out, "swaps=1") {
		t.Errorf("the attacker never replaced the socket (%q): the attack is broken", out)
	}
	fi, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("ATTACK SUCCEEDED: hull start followed the container's symlink at /run/notify/notify.sock: the host file %s is now mode %#o (was 0600)", victim, fi.Mode().Perm())
	}
}
