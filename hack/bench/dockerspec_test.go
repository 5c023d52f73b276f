package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func TestOCISeccompConditions(t *testing.T) {
	profile := `{
		"defaultAction": "SCMP_ACT_ERRNO",
		"archMap": [
			{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
			{"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
		],
		"syscalls": [
			{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
			{"name": "old_format", "action": "SCMP_ACT_ALLOW"},
			{"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
			{"names": ["s390_only"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
			{"names": ["not_on_amd64"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
			{"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_CHROOT"]}},
			{"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
			{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]},
			 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
			{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
			{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
			{"names": ["future"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}}
		]
	}`
	s, err := ociSeccomp([]byte(profile), "amd64", "6.1.0-18-amd64", dockerCaps)
	if err != nil {
		t.Fatal(err)
	}
	if want := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}; !slices.Equal(s.Architectures, want) {
		t.Errorf("architectures %v, want %v", s.Architectures, want)
	}
	var got []string
	for _, r := range s.Syscalls {
		got = append(got, strings.Join(r.Names, "+"))
	}
	want := []string{"read+write", "old_format", "arch_prctl", "chroot", "clone", "clone3", "ptrace"}
	if !slices.Equal(got, want) {
		t.Errorf("rules kept %v, want %v", got, want)
	}
	if r := s.Syscalls[4]; len(r.Args) != 1 || r.Args[0].Op != specs.OpMaskedEqual || r.Args[0].Value != 2114060288 {
		t.Errorf("clone's argument rule not carried over: %+v", r.Args)
	}
	if r := s.Syscalls[5]; r.ErrnoRet == nil || *r.ErrnoRet != 38 {
		t.Errorf("clone3's errnoRet not carried over: %+v", r)
	}
	if _, err := ociSeccomp([]byte(`{"foo": 1}`), "amd64", "6.1", dockerCaps); err == nil {
		t.Error("a file that is no profile was accepted")
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, c := range []struct {
		have, want string
		ok         bool
	}{
		{"6.18.0-rc1", "4.8", true}, {"4.8.0", "4.8", true}, {"4.7.10", "4.8", false},
		{"5", "4.8", true}, {"3.19", "4.8", false}, {"6.1.0-18-amd64", "6.2", false},
	} {
		if got := kernelAtLeast(c.have, c.want); got != c.ok {
			t.Errorf("kernelAtLeast(%q, %q) = %v, want %v", c.have, c.want, got, c.ok)
		}
	}
}

// TestDockerBundle checks the bundle made with each profile bench.sh may use
// that is here: Docker's, extracted by an earlier bench, and containers-common's.
func TestDockerBundle(t *testing.T) {
	n := 0
	for _, p := range []string{"../../build/bench/docker-seccomp-default.json", podmanProfile} {
		if _, err := os.Stat(p); err == nil {
			n++
			t.Run(filepath.Base(p), func(t *testing.T) { checkDockerBundle(t, p) })
		}
	}
	if n == 0 {
		hulltest.HostLimit(t, "no seccomp profile in Docker's format here; runs after make bench, which extracts Docker's (apt's golang-github-containers-common ships podman's)")
	}
}

func checkDockerBundle(t *testing.T, profile string) {
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "true"), []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeDockerBundle(dir, rootfs, profile); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}

	sc := s.Linux.Seccomp
	if sc == nil || sc.DefaultAction != specs.ActErrno {
		t.Fatalf("seccomp missing or not deny-by-default: %+v", sc)
	}
	allowed := map[string]bool{}
	for _, r := range sc.Syscalls {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			for _, n := range r.Names {
				allowed[n] = true
			}
		}
	}
	// Docker's and podman's allow lists hold 300-450 syscalls.
	if n := len(allowed); n < 300 || n > 500 {
		t.Errorf("%s: %d syscalls allowed unconditionally, want 300-500", profile, n)
	}
	for _, n := range []string{"read", "write", "execve", "openat", "exit_group", "chroot"} {
		if !allowed[n] {
			t.Errorf("%s: %s not allowed", profile, n)
		}
	}
	// Allowed only with a capability Docker does not give by default.
	for _, n := range []string{"kexec_load", "bpf", "init_module", "open_by_handle_at"} {
		if allowed[n] {
			t.Errorf("%s: %s allowed for Docker's default capabilities", profile, n)
		}
	}
	if runtime.GOARCH == "amd64" && (len(sc.Architectures) == 0 || sc.Architectures[0] != specs.ArchX86_64) {
		t.Errorf("architectures %v, want SCMP_ARCH_X86_64 first", sc.Architectures)
	}

	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/interrupts", "/sys/firmware", "/sys/devices/virtual/powercap"} {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("masked paths lack %s: %v", p, s.Linux.MaskedPaths)
		}
	}
	if !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
		t.Errorf("read-only paths lack /proc/sys: %v", s.Linux.ReadonlyPaths)
	}
	if c := s.Process.Capabilities; len(c.Bounding) != 14 || len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Errorf("capabilities %+v, want Docker's 14 in bounding/effective/permitted only", c)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
		if m.Type == "bind" {
			if _, err := os.Stat(m.Source); err != nil {
				t.Errorf("bind source of %s: %v", m.Destination, err)
			}
			if _, err := os.Stat(filepath.Join(rootfs, m.Destination)); err != nil {
				t.Errorf("mount point %s not made in the rootfs: %v", m.Destination, err)
			}
		}
	}
	for _, d := range []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		if !slices.Contains(dests, d) {
			t.Errorf("no mount on %s: %v", d, dests)
		}
	}
	if d := s.Linux.Resources.Devices; len(d) != 8 || d[0].Allow || d[0].Type != "" {
		t.Errorf("device rules %+v, want Docker's deny-all and 7 more", d)
	}

	// hull itself must accept it; the bench would fail on its first run otherwise.
	hull := os.Getenv("HULL_BINARY")
	if hull == "" {
		hull = "../../bin/hull"
	}
	_, err = os.Stat(hull)
	hulltest.Require(t, "a hull binary (make hull, or HULL_BINARY)", err)
	// Exit status 2 is warnings only: podman's profile lists a few syscalls twice.
	out, err := exec.Command(hull, "check", "--bundle", dir).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		t.Logf("hull check: warnings only:\n%s", out)
	} else if err != nil {
		t.Errorf("hull check --bundle %s: %v\n%s", dir, err, out)
	}
}
