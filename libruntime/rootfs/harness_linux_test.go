package rootfs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// The root-only tests below run every scenario in a re-executed copy of the
// test binary inside fresh namespaces, so nothing they mount can reach the
// host: the child's mount namespace, and all its mounts, go away when it
// exits. The parent compares its own mount table before and after.

const childEnv = "_HULL_ROOTFS_TEST_CHILD"

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(childMain(v))
	}
	os.Exit(m.Run())
}

// childArgs is everything a child needs, passed as JSON in the environment.
type childArgs struct {
	Scenario string
	Spec     *specs.Spec
	Rootfs   string
	Bundle   string
	NoPivot  bool
	InUserNS bool
	Host     string // a host directory outside the rootfs
	Kcore    bool   // the host has /proc/kcore
	WantErr  string // Prepare, Pivot or Finalize must fail with this substring
	Inner    *childArgs
	Flags    uintptr // clone flags for Inner
	UserNS   bool    // Inner gets a user namespace
	// UserNSHost is where a child's user namespace maps its ids 0..65535
	// on the host (0: the same ids).
	UserNSHost int
	// Sources are the detached bind sources the parent made with a
	// SourceServer, by mount index: inherited fds that Config.Sources hands
	// to Prepare, as hull create sends them to init.
	Sources map[int]int
}

// scenario hooks run in the child around the Prepare/Pivot/Finalize flow.
type scenario struct {
	// outer replaces the flow: it prepares something and runs Inner.
	outer func(a *childArgs, ck *checker)
	// prepared runs after Prepare, still seeing the host's filesystem.
	prepared func(a *childArgs, ck *checker)
	// inside runs after Finalize, from inside the container.
	inside func(a *childArgs, ck *checker)
	// failed runs after the expected error.
	failed func(a *childArgs, ck *checker)
}

var scenarios = map[string]scenario{}

type checker struct{ errs []string }

func (ck *checker) errorf(format string, args ...any) {
	ck.errs = append(ck.errs, fmt.Sprintf(format, args...))
}

func childMain(v string) int {
	var a childArgs
	if err := json.Unmarshal([]byte(v), &a); err != nil {
		fmt.Fprintln(os.Stderr, "bad child args:", err)
		return 2
	}
	sc, ok := scenarios[a.Scenario]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown scenario", a.Scenario)
		return 2
	}
	ck := &checker{}
	if sc.outer != nil {
		sc.outer(&a, ck)
	} else {
		runFlow(&a, sc, ck)
	}
	if len(ck.errs) > 0 {
		fmt.Fprintln(os.Stderr, strings.Join(ck.errs, "\n"))
		return 1
	}
	return 0
}

func runFlow(a *childArgs, sc scenario, ck *checker) {
	c := &Config{Spec: a.Spec, Rootfs: a.Rootfs, NoPivot: a.NoPivot, InUserNS: a.InUserNS}
	if a.Sources != nil {
		c.Sources = func(i int) (*os.File, error) {
			fd, ok := a.Sources[i]
			if !ok {
				return nil, fmt.Errorf("the parent made no source for mounts[%d]", i)
			}
			delete(a.Sources, i)
			return os.NewFile(uintptr(fd), fmt.Sprintf("source:mounts[%d]", i)), nil
		}
	}
	err := Prepare(c)
	if err == nil && sc.prepared != nil {
		sc.prepared(a, ck)
	}
	if err == nil {
		err = Pivot(c)
	}
	if err == nil {
		err = Finalize(c)
	}
	if a.WantErr != "" {
		switch {
		case err == nil:
			ck.errorf("no error, want one containing %q", a.WantErr)
		case !strings.Contains(err.Error(), a.WantErr):
			ck.errorf("error %q, want one containing %q", err, a.WantErr)
		case sc.failed != nil:
			sc.failed(a, ck)
		}
		return
	}
	if err != nil {
		ck.errorf("%v", err)
		return
	}
	if len(a.Sources) > 0 {
		ck.errorf("Prepare left the sources of mounts %v unclaimed", a.Sources)
	}
	if sc.inside != nil {
		sc.inside(a, ck)
	}
}

// childCmd builds the command that runs a in new namespaces.
func childCmd(ctx context.Context, a *childArgs, flags uintptr, userns bool) (*exec.Cmd, error) {
	js, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	cmd.Dir = a.Bundle
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	if userns {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: a.UserNSHost, Size: 65536}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: a.UserNSHost, Size: 65536}}
		if a.UserNSHost != 0 {
			// Host root is unmapped there: become the namespace's root
			// before execve, or it drops every capability.
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
		}
	}
	return cmd, nil
}

// runChild runs a in a child and returns its combined output and error.
func runChild(a *childArgs, flags uintptr, userns bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, err := childCmd(ctx, a, flags, userns)
	if err != nil {
		return nil, err
	}
	return cmd.CombinedOutput()
}

const defaultFlags = syscall.CLONE_NEWNS | syscall.CLONE_NEWPID

// runScenario runs a in a child with a new mount and pid namespace (plus
// extra flags) and fails t on any error the child reports or if the host's
// mount table changed.
func runScenario(t *testing.T, a *childArgs, extra uintptr) {
	t.Helper()
	before := readFile(t, "/proc/self/mountinfo")
	out, err := runChild(a, defaultFlags|extra, false)
	if err != nil {
		t.Errorf("scenario %s: %v\n%s", a.Scenario, err, out)
	}
	if after := readFile(t, "/proc/self/mountinfo"); after != before {
		t.Errorf("host mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	hulltest.RequireRoot(t)
	hulltest.RequireBusybox(t)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bundle is a bundle directory with a busybox rootfs, plus a host directory
// outside of it that escapes would hit.
type bundle struct {
	dir, rootfs, host string
}

func newBundle(t *testing.T) *bundle {
	t.Helper()
	dir := t.TempDir()
	b := &bundle{dir: dir, rootfs: filepath.Join(dir, "rootfs"), host: t.TempDir()}
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "etc", "mnt"} {
		b.mkdir(t, d)
	}
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	b.write(t, "bin/busybox", string(bin), 0o755)
	for _, l := range []string{"sh", "cat", "ls", "stat", "echo", "touch", "rm", "mkdir", "true"} {
		b.symlink(t, "busybox", "bin/"+l)
	}
	return b
}

func (b *bundle) path(p string) string { return filepath.Join(b.rootfs, p) }

func (b *bundle) mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(b.path(p), 0o755); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(b.path(p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.path(p), []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, b.path(p)); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) args(scenario string, spec *specs.Spec) *childArgs {
	return &childArgs{Scenario: scenario, Spec: spec, Rootfs: b.rootfs, Bundle: b.dir, Host: b.host}
}

// runcMounts are the mounts `runc spec` writes.
func runcMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
}

// In-child helpers.

// mountTable returns the mounts the calling process sees, keyed by mount
// point; for stacked mounts the top one wins.
func mountTable(ck *checker) map[string]*mountinfo.Info {
	ms, err := mountinfo.GetMounts(nil)
	if err != nil {
		ck.errorf("read mountinfo: %v", err)
		return nil
	}
	t := map[string]*mountinfo.Info{}
	for _, m := range ms {
		t[m.Mountpoint] = m
	}
	return t
}

func expectMount(ck *checker, mt map[string]*mountinfo.Info, mp, fstype string, opts ...string) {
	m, ok := mt[mp]
	if !ok {
		ck.errorf("%s is not a mount point", mp)
		return
	}
	if fstype != "" && m.FSType != fstype {
		ck.errorf("%s: fstype %s, want %s", mp, m.FSType, fstype)
	}
	for _, o := range opts {
		if !hulltest.HasOpt(m.Options, o) && !hulltest.HasOpt(m.VFSOptions, o) {
			ck.errorf("%s: options %q / %q lack %s", mp, m.Options, m.VFSOptions, o)
		}
	}
}

func expectErrno(ck *checker, what string, err error, want syscall.Errno) {
	if !errors.Is(err, want) {
		ck.errorf("%s: got %v, want %v", what, err, want)
	}
}

func expectContent(ck *checker, p, want string) {
	b, err := os.ReadFile(p)
	if err != nil {
		ck.errorf("read %s: %v", p, err)
		return
	}
	if string(b) != want {
		ck.errorf("%s reads %q, want %q", p, b, want)
	}
}

func writeFile(p, s string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

type node struct {
	typ          uint32
	major, minor uint32
	perm         uint32
	uid, gid     uint32
}

func expectNode(ck *checker, p string, want node) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		ck.errorf("stat %s: %v", p, err)
		return
	}
	got := node{st.Mode & unix.S_IFMT, unix.Major(st.Rdev), unix.Minor(st.Rdev), st.Mode & 0o7777, st.Uid, st.Gid}
	if got != want {
		ck.errorf("%s is %+v, want %+v", p, got, want)
	}
}

func expectLink(ck *checker, p, want string) {
	got, err := os.Readlink(p)
	if err != nil || got != want {
		ck.errorf("readlink %s = %q, %v; want %q", p, got, err, want)
	}
}

func busybox(ck *checker, script string) string {
	var out bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = []string{"PATH=/bin"}
	if err := cmd.Run(); err != nil {
		ck.errorf("sh -c %q: %v: %s", script, err, out.String())
	}
	return out.String()
}
