//go:build linux

package tests

import (
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestDevices stats the default devices and a configured one inside.
func TestDevices(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mode := os.FileMode(0o640)
	uid, gid := uint32(0), uint32(5)
	s := baseSpec(shell(`for d in null zero full random urandom tty fuse; do stat -c '%n|%F|%t:%T|%a|%u:%g' /dev/$d; done
stat -L -c '%n|%F|%t:%T' /dev/ptmx
for l in fd stdin stdout stderr; do echo "/dev/$l|$(readlink /dev/$l)"; done
echo "fdlist|$(ls /dev/fd/ | tr '\n' ' ')"
echo "null-write|$(echo hi > /dev/null && echo ok)"
echo "zero-read|$(head -c 4 /dev/zero | od -An -tx1 | tr -d ' ')"`)...)
	s.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: &mode, UID: &uid, GID: &gid},
	}
	r := h.run(s)
	mustExit(t, r, 0)
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		f := strings.Split(line, "|")
		got[f[0]] = f[1:]
	}
	const char = "character special file"
	tests := []struct {
		name string
		want []string
	}{
		{"/dev/null", []string{char, "1:3", "666", "0:0"}},
		{"/dev/zero", []string{char, "1:5", "666", "0:0"}},
		{"/dev/full", []string{char, "1:7", "666", "0:0"}},
		{"/dev/random", []string{char, "1:8", "666", "0:0"}},
		{"/dev/urandom", []string{char, "1:9", "666", "0:0"}},
		{"/dev/tty", []string{char, "5:0", "666", "0:0"}},
		{"/dev/fuse", []string{char, "a:e5", "640", "0:5"}}, // 10:229 in hex
		{"/dev/ptmx", []string{char, "5:2"}},
		{"/dev/fd", []string{"/proc/self/fd"}},
		{"/dev/stdin", []string{"/proc/self/fd/0"}},
		{"/dev/stdout", []string{"/proc/self/fd/1"}},
		{"/dev/stderr", []string{"/proc/self/fd/2"}},
		{"null-write", []string{"ok"}},
		{"zero-read", []string{"00000000"}},
	}
	for _, tc := range tests {
		t.Run(strings.TrimPrefix(tc.name, "/dev/"), func(t *testing.T) {
			if g := strings.Join(got[tc.name], "|"); g != strings.Join(tc.want, "|") {
				t.Errorf("%s: got %q, want %q\nfull output:\n%s", tc.name, g, strings.Join(tc.want, "|"), r.stdout)
			}
		})
	}
	if fds := strings.Fields(strings.Join(got["fdlist"], "")); len(fds) < 3 || fds[0] != "0" || fds[1] != "1" || fds[2] != "2" {
		t.Errorf("ls /dev/fd/: %q, want 0 1 2 ...", got["fdlist"])
	}
}
