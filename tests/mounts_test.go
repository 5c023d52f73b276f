//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestMounts reads /proc/self/mountinfo inside a container with runc's
// default mounts plus a bind, a read-only bind and a sized tmpfs.
func TestMounts(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	bindSrc := t.TempDir()
	roSrc := t.TempDir()
	if err := os.WriteFile(filepath.Join(bindSrc, "hello"), []byte("from-host"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(roSrc, "file"), []byte("ro"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := baseSpec(shell(`cat /proc/self/mountinfo; echo @@
cat /mnt/bind/hello; echo; echo @@
echo from-container > /mnt/bind/back && echo write-ok; echo @@
touch /mnt/ro/new 2>&1; echo "rc=$?"; echo @@
cat /mnt/ro/file; echo; echo @@
stat -c %a /mnt/tmp`)...)
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/mnt/bind", Type: "bind", Source: bindSrc, Options: []string{"rbind", "rw"}},
		specs.Mount{Destination: "/mnt/ro", Type: "bind", Source: roSrc, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/mnt/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=2m", "mode=750", "nodev"}},
	)
	r := h.run(s)
	mustExit(t, r, 0)
	parts := sections(r.stdout)
	if len(parts) != 6 {
		t.Fatalf("unexpected output: %q", r.stdout)
	}

	mounts := map[string]mountEntry{}
	for _, m := range parseMountinfo(parts[0]) {
		mounts[m.point] = m // the last one at a point is the visible one
	}
	tests := []struct {
		point  string
		fstype string // "" for any
		opt    string // a per-mount option that must be set, "" for none
		super  string // a superblock option that must be set, "" for none
		root   string // the mount's root within its source, "" for any
	}{
		{point: "/", opt: "ro"},
		{point: "/proc", fstype: "proc"},
		{point: "/dev", fstype: "tmpfs", opt: "nosuid", super: "size=65536k"},
		{point: "/dev/pts", fstype: "devpts", super: "ptmxmode=666"},
		{point: "/dev/shm", fstype: "tmpfs", opt: "nodev", super: "size=65536k"},
		{point: "/dev/mqueue", fstype: "mqueue", opt: "noexec"},
		{point: "/sys", fstype: "sysfs", opt: "ro"},
		{point: "/mnt/bind", opt: "rw", root: filepath.Base(bindSrc)},
		{point: "/mnt/ro", opt: "ro", root: filepath.Base(roSrc)},
		{point: "/mnt/tmp", fstype: "tmpfs", opt: "nodev", super: "size=2048k"},
	}
	for _, tc := range tests {
		t.Run("mountinfo"+tc.point, func(t *testing.T) {
			m, ok := mounts[tc.point]
			if !ok {
				t.Fatalf("no mount at %s inside the container:\n%s", tc.point, parts[0])
			}
			if tc.fstype != "" && m.fstype != tc.fstype {
				t.Errorf("%s: type %s, want %s", tc.point, m.fstype, tc.fstype)
			}
			if tc.opt != "" && !hulltest.HasOpt(m.opts, tc.opt) {
				t.Errorf("%s: options %s, want %s", tc.point, m.opts, tc.opt)
			}
			if tc.super != "" && !hulltest.HasOpt(m.super, tc.super) {
				t.Errorf("%s: superblock options %s, want %s", tc.point, m.super, tc.super)
			}
			if tc.root != "" && filepath.Base(m.root) != tc.root {
				t.Errorf("%s: mount root %s, want the bind source .../%s", tc.point, m.root, tc.root)
			}
		})
	}

	if got := strings.TrimSpace(parts[1]); got != "from-host" {
		t.Errorf("bind mount: read %q, want %q", got, "from-host")
	}
	if got := strings.TrimSpace(parts[2]); got != "write-ok" {
		t.Errorf("bind mount: write from the container failed: %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(bindSrc, "back")); err != nil || string(b) != "from-container\n" {
		t.Errorf("host does not see the container's write through the bind: %q, %v", b, err)
	}
	if got := parts[3]; !strings.Contains(got, "Read-only file system") || strings.Contains(got, "rc=0") {
		t.Errorf("read-only bind: touch gave %q, want a Read-only file system error", got)
	}
	if _, err := os.Stat(filepath.Join(roSrc, "new")); err == nil {
		t.Errorf("read-only bind: the container created %s on the host", filepath.Join(roSrc, "new"))
	}
	if got := strings.TrimSpace(parts[4]); got != "ro" {
		t.Errorf("read-only bind: read %q, want %q", got, "ro")
	}
	if got := strings.TrimSpace(parts[5]); got != "750" {
		t.Errorf("tmpfs mode=750: stat says %q", got)
	}
}

// TestPaths checks masked and read-only paths from inside, with controls that
// show the same operations work on paths not in the lists.
func TestPaths(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	files := map[string]string{
		"etc/secret":          "top secret",
		"etc/notsecret":       "public",
		"etc/secretdir/file":  "hidden",
		"etc/rodir/file":      "ro",
		"etc/rofile":          "ro",
		"etc/rwdir/file":      "rw",
		"etc/secretdir/file2": "hidden",
	}
	for name, content := range files {
		p := filepath.Join(h.rootfs, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checks := []struct {
		name    string
		cmd     string // run by sh, stdout+stderr captured
		wantRC  bool   // want exit status 0
		want    string // output must equal this, unless contains is set
		contain string // output must contain this
	}{
		{"masked-file", "cat /etc/secret", true, "", ""},
		{"unmasked-file", "cat /etc/notsecret", true, "public", ""},
		{"masked-dir", "ls -A /etc/secretdir", true, "", ""},
		{"masked-proc-file", "wc -c < /proc/keys", true, "0", ""},
		{"unmasked-proc-file", "grep -c Linux /proc/version", true, "1", ""},
		{"masked-write-discarded", "echo x > /etc/secret; cat /etc/secret", true, "", ""},
		{"readonly-proc-sys", "echo x > /proc/sys/kernel/domainname", false, "", "Read-only file system"},
		{"readonly-dir", "touch /etc/rodir/new", false, "", "Read-only file system"},
		{"readonly-file", "echo x >> /etc/rofile", false, "", "Read-only file system"},
		{"readonly-dir-readable", "cat /etc/rodir/file", true, "ro", ""},
		{"writable-dir", "touch /etc/rwdir/new", true, "", ""},
	}
	var script strings.Builder
	for _, c := range checks {
		// The braces make the shell's own redirection errors part of out.
		script.WriteString("out=$( { " + c.cmd + "; } 2>&1); rc=$?; printf '%s\\n' \"$out\"; echo \"rc=$rc\"; echo @@\n")
	}
	s := baseSpec(shell(script.String())...)
	s.Root.Readonly = false
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/etc/secret", "/etc/secretdir")
	s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/etc/rodir", "/etc/rofile")
	r := h.run(s)
	mustExit(t, r, 0)
	parts := sections(r.stdout)
	if len(parts) != len(checks)+1 {
		t.Fatalf("unexpected output: %q", r.stdout)
	}
	for i, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			body := strings.TrimSuffix(parts[i], "\n")
			out, rc, _ := strings.Cut(body, "\nrc=")
			if (rc == "0") != c.wantRC {
				t.Errorf("%s: exit %s (output %q), want success=%v", c.cmd, rc, out, c.wantRC)
			}
			if c.contain != "" {
				if !strings.Contains(out, c.contain) {
					t.Errorf("%s: output %q, want it to contain %q", c.cmd, out, c.contain)
				}
			} else if c.wantRC && strings.TrimSpace(out) != c.want {
				t.Errorf("%s: output %q, want %q", c.cmd, out, c.want)
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(h.rootfs, "etc/secret")); string(b) != "top secret" {
		t.Errorf("masking changed the rootfs file: %q", b)
	}
	if hostFirmware, _ := os.ReadDir("/sys/firmware"); len(hostFirmware) > 0 {
		t.Run("masked-sys-firmware", func(t *testing.T) {
			r := runContainer(t, baseSpec("ls", "-A", "/sys/firmware"))
			mustExit(t, r, 0)
			if r.stdout != "" {
				t.Errorf("masked /sys/firmware lists %q", r.stdout)
			}
		})
	}
}

// TestReadonlyRoot checks root.readonly, with the writable root as control.
func TestReadonlyRoot(t *testing.T) {
	t.Parallel()
	runCases(t, []runCase{
		{name: "readonly", args: shell("touch /x 2>&1; echo rc=$?"),
			mutate: func(s *specs.Spec, _ *harness) { s.Root.Readonly = true },
			check: func(t *testing.T, out string) {
				if !strings.Contains(out, "Read-only file system") || strings.Contains(out, "rc=0") {
					t.Errorf("touch /x on a read-only root: %q", out)
				}
			}},
		{name: "writable", args: shell("touch /x 2>&1; echo rc=$?"),
			mutate: func(s *specs.Spec, _ *harness) { s.Root.Readonly = false },
			want:   "rc=0\n"},
		{name: "readonly-tmpfs-still-writable", args: shell("touch /dev/shm/x 2>&1; echo rc=$?"),
			mutate: func(s *specs.Spec, _ *harness) { s.Root.Readonly = true },
			want:   "rc=0\n"},
	})
}
