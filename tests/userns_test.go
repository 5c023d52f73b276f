//go:build linux

package tests

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// usernsHostID is where the container's root is mapped on the host.
const usernsHostID = 100000

func idMap(containerID, hostID, size uint32) specs.LinuxIDMapping {
	return specs.LinuxIDMapping{ContainerID: containerID, HostID: hostID, Size: size}
}

// usernsSpec is baseSpec in a new user namespace mapping container ids
// 0..65535 to host ids 100000..165535.
func usernsSpec(args ...string) *specs.Spec {
	s := baseSpec(args...)
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{idMap(0, usernsHostID, 65536)}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{idMap(0, usernsHostID, 65536)}
	return s
}

// prepareUserns makes the bundle usable by a container whose root is host
// uid:gid: the rootfs copy is chowned to it (symlinks themselves, never their
// targets, which point into the host), and the test's temporary directories,
// 0700 root's, are made searchable so the mapped root can reach the rootfs
// and bind-mount sources, as with runc.
func prepareUserns(t *testing.T, h *harness, uid, gid int) {
	t.Helper()
	err := filepath.WalkDir(h.rootfs, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		t.Fatalf("chown of the rootfs copy: %v", err)
	}
	searchable(t, h.bundle)
}

// searchable adds o+x to dir and the temporary directories above it (up to
// os.TempDir), which the test owns.
func searchable(t *testing.T, dir string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); inDir(d, tmp) && d != tmp; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, st.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sharedDir is a host directory, owned by the container's root, bind-mounted
// at /tmp of the container. It also holds "hostfile", owned by host root
// (unmapped in the container).
func sharedDir(t *testing.T, s *specs.Spec, uid, gid int) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hostfile"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	searchable(t, dir)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "bind", Source: dir, Options: []string{"rbind", "rw"}})
	return dir
}

// ownerOf is "uid:gid" of a host path.
func ownerOf(t *testing.T, path string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Errorf("stat %s on the host: %v", path, err)
		return ""
	}
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
}

// normMap squeezes the column padding of uid_map/gid_map text.
func normMap(text string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

// TestUsernsInside runs containers in a new user namespace and checks the
// mapping and the ids from inside, and the owners of files they create from
// the host.
func TestUsernsInside(t *testing.T) {
	t.Parallel()
	const H = usernsHostID
	tests := []struct {
		name       string
		uids, gids []specs.LinuxIDMapping // nil: usernsSpec's 0 -> 100000, 65536
		shared     bool                   // bind-mount a host dir at /tmp
		mutate     func(s *specs.Spec)
		script     string
		check      func(t *testing.T, out string, h *harness, shared string)
	}{
		{
			name:   "maps-and-ids",
			script: `cat /proc/self/uid_map; echo @@; cat /proc/self/gid_map; echo @@; id; echo @@; grep -E '^(Uid|Gid):' /proc/self/status`,
			check: func(t *testing.T, out string, _ *harness, _ string) {
				p := sections(out)
				if len(p) != 4 {
					t.Fatalf("unexpected output %q", out)
				}
				want := fmt.Sprintf("0 %d 65536", H)
				if got := normMap(p[0]); got != want {
					t.Errorf("uid_map %q, want %q", got, want)
				}
				if got := normMap(p[1]); got != want {
					t.Errorf("gid_map %q, want %q", got, want)
				}
				if !strings.HasPrefix(p[2], "uid=0(root) gid=0(root)") {
					t.Errorf("id: %q, want uid=0(root) gid=0(root)", p[2])
				}
				st := procStatus(p[3])
				if st["Uid"] != "0\t0\t0\t0" || st["Gid"] != "0\t0\t0\t0" {
					t.Errorf("Uid %q Gid %q, want all 0", st["Uid"], st["Gid"])
				}
			},
		},
		{
			name:   "files-in-bind-mount",
			shared: true,
			mutate: withChown,
			script: `set -e; touch /tmp/by-root; mkdir /tmp/dir-by-root; touch /tmp/chowned; chown 1000:1000 /tmp/chowned
stat -c '%u:%g' /tmp/hostfile /tmp/by-root`,
			check: func(t *testing.T, out string, _ *harness, shared string) {
				if want := "65534:65534\n0:0\n"; out != want {
					t.Errorf("inside: owner of a host-root file and of a new file %q, want %q (overflow ids, then root)", out, want)
				}
				for _, c := range []struct{ name, want string }{
					{"by-root", fmt.Sprintf("%d:%d", H, H)},
					{"dir-by-root", fmt.Sprintf("%d:%d", H, H)},
					{"chowned", fmt.Sprintf("%d:%d", H+1000, H+1000)},
					{"hostfile", "0:0"},
				} {
					if got := ownerOf(t, filepath.Join(shared, c.name)); got != c.want {
						t.Errorf("host owner of %s: %s, want %s", c.name, got, c.want)
					}
				}
			},
		},
		{
			name:   "files-in-rootfs",
			mutate: func(s *specs.Spec) { s.Root.Readonly = false },
			script: `set -e; echo hi > /root/created; mkdir /newdir; echo ok`,
			check: func(t *testing.T, out string, h *harness, _ string) {
				if out != "ok\n" {
					t.Errorf("writing in the rootfs: %q", out)
				}
				for _, p := range []string{"root/created", "newdir"} {
					if got, want := ownerOf(t, filepath.Join(h.rootfs, p)), fmt.Sprintf("%d:%d", H, H); got != want {
						t.Errorf("host owner of rootfs/%s: %s, want %s", p, got, want)
					}
				}
			},
		},
		{
			name:   "multiple-ranges",
			uids:   []specs.LinuxIDMapping{idMap(0, H, 1000), idMap(1000, 200000, 1000)},
			gids:   []specs.LinuxIDMapping{idMap(0, H, 1000), idMap(1000, 300000, 1000)},
			shared: true,
			mutate: withChown,
			script: `cat /proc/self/uid_map; echo @@; cat /proc/self/gid_map; echo @@
touch /tmp/a /tmp/b /tmp/c && chown 1000:1000 /tmp/a && chown 1500:1999 /tmp/b && echo chowned
chown 2000:2000 /tmp/c 2>&1 || echo unmapped-refused
chown 999:999 /tmp/c && echo low-range-ok`,
			check: func(t *testing.T, out string, _ *harness, shared string) {
				p := sections(out)
				if len(p) != 3 {
					t.Fatalf("unexpected output %q", out)
				}
				if got, want := normMap(p[0]), fmt.Sprintf("0 %d 1000\n1000 200000 1000", H); got != want {
					t.Errorf("uid_map %q, want %q", got, want)
				}
				if got, want := normMap(p[1]), fmt.Sprintf("0 %d 1000\n1000 300000 1000", H); got != want {
					t.Errorf("gid_map %q, want %q", got, want)
				}
				// EINVAL: uid 2000 has no host id (EPERM would mean a missing capability).
				if want := "chowned\nchown: /tmp/c: Invalid argument\nunmapped-refused\nlow-range-ok\n"; p[2] != want {
					t.Errorf("chown results %q, want %q", p[2], want)
				}
				for _, c := range []struct{ name, want string }{
					{"a", "200000:300000"},
					{"b", "200500:300999"},
					{"c", fmt.Sprintf("%d:%d", H+999, H+999)},
				} {
					if got := ownerOf(t, filepath.Join(shared, c.name)); got != c.want {
						t.Errorf("host owner of %s: %s, want %s", c.name, got, c.want)
					}
				}
			},
		},
		{
			name: "devices-usable",
			script: `echo hi > /dev/null && echo null-write-ok; wc -c < /dev/null; stat -c '%F|%t:%T' /dev/null
head -c 5 /dev/zero | wc -c; head -c 5 /dev/urandom | wc -c`,
			check: func(t *testing.T, out string, _ *harness, _ string) {
				if want := "null-write-ok\n0\ncharacter special file|1:3\n5\n5\n"; out != want {
					t.Errorf("device checks: %q, want %q", out, want)
				}
			},
		},
		{
			name:   "non-root-user",
			shared: true,
			mutate: func(s *specs.Spec) { s.Process.User = specs.User{UID: 1000, GID: 1000} },
			script: `id -u; touch /tmp/by-1000`,
			check: func(t *testing.T, out string, _ *harness, shared string) {
				if out != "1000\n" {
					t.Errorf("id -u %q, want 1000", out)
				}
				if got, want := ownerOf(t, filepath.Join(shared, "by-1000")), fmt.Sprintf("%d:%d", H+1000, H+1000); got != want {
					t.Errorf("host owner of a file made by container uid 1000: %s, want %s", got, want)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := usernsSpec(shell(tc.script)...)
			if tc.uids != nil {
				s.Linux.UIDMappings, s.Linux.GIDMappings = tc.uids, tc.gids
			}
			var shared string
			if tc.shared {
				shared = sharedDir(t, s, usernsHostID, usernsHostID)
			}
			if tc.mutate != nil {
				tc.mutate(s)
			}
			prepareUserns(t, h, usernsHostID, usernsHostID)
			r := h.run(s)
			mustExit(t, r, 0)
			tc.check(t, r.stdout, h, shared)
		})
	}
}

// withChown gives the container's root CAP_CHOWN, which baseSpec's runc
// default set lacks.
func withChown(s *specs.Spec) {
	c := s.Process.Capabilities
	c.Bounding = append(c.Bounding, "CAP_CHOWN")
	c.Effective = append(c.Effective, "CAP_CHOWN")
	c.Permitted = append(c.Permitted, "CAP_CHOWN")
}

// nsOwner is the inode of the user namespace owning the namespace at path.
func nsOwner(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_USERNS)
	if err != nil {
		t.Fatalf("NS_GET_USERNS on %s: %v", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestUsernsHostView looks at a running user-namespaced container from the
// host: its init runs as the mapped ids, and every namespace created with it
// belongs to its user namespace.
func TestUsernsHostView(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	prepareUserns(t, h, usernsHostID, usernsHostID)
	st := h.startContainer(usernsSpec("sleep", "1001"))
	proc := fmt.Sprintf("/proc/%d", st.Pid)
	status := procStatus(readFile(proc + "/status"))
	want := strings.Repeat(strconv.Itoa(usernsHostID)+"\t", 3) + strconv.Itoa(usernsHostID)
	if status["Uid"] != want || status["Gid"] != want {
		t.Errorf("init's host Uid %q Gid %q, want %q", status["Uid"], status["Gid"], want)
	}
	wantMap := fmt.Sprintf("0 %d 65536", usernsHostID)
	for _, f := range []string{"uid_map", "gid_map"} {
		if got := normMap(readFile(proc + "/" + f)); got != wantMap {
			t.Errorf("%s/%s read from the host: %q, want %q", proc, f, got, wantMap)
		}
	}
	hostUser, _ := os.Readlink("/proc/self/ns/user")
	ctUser, _ := os.Readlink(proc + "/ns/user")
	if ctUser == hostUser || !strings.HasPrefix(ctUser, "user:[") {
		t.Fatalf("init's user namespace %q, host's %q: want a new one", ctUser, hostUser)
	}
	userIno := nsInode(t, proc+"/ns/user")
	for _, ns := range []string{"mnt", "pid", "net", "ipc", "uts"} {
		t.Run("owner-of-"+ns, func(t *testing.T) {
			if got := nsOwner(t, proc+"/ns/"+ns); got != userIno {
				t.Errorf("the container's %s namespace is owned by user namespace %d, want the container's %d", ns, got, userIno)
			}
		})
	}
}

// TestUsernsExec execs into a user-namespaced container: the process joins
// the container's user namespace (and every other) and gets its ids mapped.
func TestUsernsExec(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	prepareUserns(t, h, usernsHostID, usernsHostID)
	st := h.startContainer(usernsSpec("sleep", "1001"))
	initNS := nsLinks(t, st.Pid)
	proc := fmt.Sprintf("/proc/%d", st.Pid)

	t.Run("as-root", func(t *testing.T) {
		t.Parallel()
		r := h.do("exec", h.id, "sh", "-c", `cat /proc/self/uid_map; echo @@; cat /proc/self/gid_map; echo @@
id -u; id -g; echo @@
for f in /proc/self/ns/*; do echo "${f##*/} $(readlink "$f")"; done`)
		mustExit(t, r, 0)
		p := sections(r.stdout)
		if len(p) != 4 {
			t.Fatalf("unexpected output %q (stderr %q)", r.stdout, r.stderr)
		}
		for i, f := range []string{"uid_map", "gid_map"} {
			want := normMap(readFile(proc + "/" + f))
			if got := normMap(p[i]); got != want || want != fmt.Sprintf("0 %d 65536", usernsHostID) {
				t.Errorf("exec'd %s %q, want the container's %q", f, got, want)
			}
		}
		if p[2] != "0\n0\n" {
			t.Errorf("id -u, id -g: %q, want 0 and 0", p[2])
		}
		inside := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(p[3]), "\n") {
			if name, link, ok := strings.Cut(line, " "); ok {
				inside[name] = link
			}
		}
		if len(inside) == 0 {
			t.Fatalf("no namespaces listed: %q", p[3])
		}
		for name, want := range initNS {
			if got := inside[name]; got != want {
				t.Errorf("ns/%s: exec'd %q, container init %q", name, got, want)
			}
		}
	})
	t.Run("as-1000-host-view", func(t *testing.T) {
		t.Parallel()
		pidFile := filepath.Join(t.TempDir(), "pid")
		r := h.do("exec", "-d", "--pid-file", pidFile, "-u", "1000:1000", h.id, "sleep", "1002")
		mustExit(t, r, 0)
		pid := hulltest.ReadPid(t, pidFile)
		t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
		status := procStatus(readFile(fmt.Sprintf("/proc/%d/status", pid)))
		want := strings.Repeat(strconv.Itoa(usernsHostID+1000)+"\t", 3) + strconv.Itoa(usernsHostID+1000)
		if status["Uid"] != want || status["Gid"] != want {
			t.Errorf("exec'd uid 1000 on the host: Uid %q Gid %q, want %q", status["Uid"], status["Gid"], want)
		}
		if got := nsLinks(t, pid)["user"]; got != initNS["user"] {
			t.Errorf("exec'd process's user namespace %q, want the container's %q", got, initNS["user"])
		}
	})
}

// startUsernsHolder starts a process in a new user namespace mapping 0 to
// hostID (size 65536) and returns its pid; cleanup kills it.
func startUsernsHolder(t *testing.T, hostID int) int {
	t.Helper()
	holder := exec.Command("sleep", "120")
	holder.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostID, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostID, Size: 65536}},
	}
	if err := holder.Start(); err != nil {
		t.Fatalf("starting the user namespace holder: %v", err)
	}
	pid := holder.Process.Pid
	t.Cleanup(func() {
		_ = unix.Kill(pid, unix.SIGKILL)
		_ = holder.Wait()
	})
	hostUser, _ := os.Readlink("/proc/self/ns/user")
	want := fmt.Sprintf("0 %d 65536", hostID)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid))
		if err == nil && l != hostUser && normMap(readFile(fmt.Sprintf("/proc/%d/uid_map", pid))) == want {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("holder %d never got its user namespace and mapping (%q, %v)", pid, l, err)
		}
	}
}

// TestUsernsJoinPath puts a container into the user namespace of a process
// we started, by its /proc path, with no mappings in the config.
func TestUsernsJoinPath(t *testing.T) {
	t.Parallel()
	const hostID = 200000 // not usernsHostID: the mapping must come from the holder
	h := newHarness(t)
	holder := startUsernsHolder(t, hostID)
	nsPath := fmt.Sprintf("/proc/%d/ns/user", holder)
	want, err := os.Readlink(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	prepareUserns(t, h, hostID, hostID)
	s := baseSpec("sh", "-c", "readlink /proc/self/ns/user; cat /proc/self/uid_map; id -u; touch /dev/shm/x && echo wrote; grep ^0:: /proc/self/cgroup")
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: nsPath})
	r := h.run(s)
	mustExit(t, r, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 {
		t.Fatalf("unexpected output %q (stderr %q)", r.stdout, r.stderr)
	}
	if lines[0] != want {
		t.Errorf("container's user namespace %q, want the joined %q", lines[0], want)
	}
	if got, w := normMap(lines[1]), fmt.Sprintf("0 %d 65536", hostID); got != w {
		t.Errorf("uid_map inside %q, want the holder's %q", got, w)
	}
	if lines[2] != "0" || lines[3] != "wrote" {
		t.Errorf("id -u and a write: %q, want 0 and wrote", lines[2:4])
	}
	// Joining a user namespace takes nsenter's raw fork, which must still start init
	// in the container's cgroup (no cgroup namespace here: the full path shows).
	if strings.HasPrefix(cgroupPrefix, "/") && lines[4] != "0::"+cgroupPrefix+h.id {
		t.Errorf("init's cgroup %q, want 0::%s%s", lines[4], cgroupPrefix, h.id)
	}
}

// TestUsernsSetgroupsDenied: a joined user namespace whose setgroups is "deny" (the
// holder's, as Go makes it) keeps its groups, and a process without additionalGids
// runs there, exec'd ones too: hull exec reads the deny on the host, from init's
// /proc entry. Its helper used to read the container's /proc/self, where it is not
// (it is outside the pid namespace): exec failed with setgroups' EPERM, and a
// container could fake the file (tests/security_execproc_test.go).
func TestUsernsSetgroupsDenied(t *testing.T) {
	t.Parallel()
	const hostID = 200000
	h := newHarness(t)
	holder := startUsernsHolder(t, hostID)
	if got := strings.TrimSpace(readFile(fmt.Sprintf("/proc/%d/setgroups", holder))); got != "deny" {
		t.Fatalf("the holder's setgroups is %q, want deny: the test is broken", got)
	}
	prepareUserns(t, h, hostID, hostID)
	s := baseSpec("sleep", "1000")
	joinUserns(s, fmt.Sprintf("/proc/%d/ns/user", holder))
	h.startContainer(s)
	r := h.do("exec", "--user", "1000:1000", h.id, "id", "-u")
	mustExit(t, r, 0)
	if got := strings.TrimSpace(r.stdout); got != "1000" {
		t.Errorf("exec'd process's uid %q, want 1000", got)
	}
}

// TestUsernsErrors: inconsistent user namespace configs must fail at create,
// naming the problem, and leave nothing behind.
func TestUsernsErrors(t *testing.T) {
	t.Parallel()
	missing := "/nonexistent/hull-test/ns/user"
	tests := []struct {
		name   string
		mutate func(t *testing.T, s *specs.Spec, h *harness) string // returns an extra wanted string
		want   []string
	}{
		{name: "mappings-without-userns",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) string {
				removeNamespace(s, specs.UserNamespace)
				return ""
			},
			want: []string{"uidMappings", "user namespace"}},
		{name: "userns-without-mappings",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) string {
				s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
				return ""
			},
			want: []string{"mappings"}},
		{name: "userns-without-gid-mappings",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) string {
				s.Linux.GIDMappings = nil
				return ""
			},
			want: []string{"gidMappings"}},
		{name: "path-missing",
			mutate: func(_ *testing.T, s *specs.Spec, _ *harness) string {
				joinUserns(s, missing)
				return missing
			}},
		{name: "path-not-a-namespace",
			mutate: func(_ *testing.T, s *specs.Spec, h *harness) string {
				p := filepath.Join(h.bundle, "config.json")
				joinUserns(s, p)
				return p
			}},
		{name: "path-wrong-namespace-type",
			mutate: func(t *testing.T, s *specs.Spec, _ *harness) string {
				// A network namespace given as the user namespace.
				p := fmt.Sprintf("/proc/%d/ns/net", startUsernsHolder(t, usernsHostID))
				joinUserns(s, p)
				return p
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			prepareUserns(t, h, usernsHostID, usernsHostID)
			s := usernsSpec("sh", "-c", "echo ran")
			want := tc.want
			if extra := tc.mutate(t, s, h); extra != "" {
				want = append(want, extra)
			}
			r := h.create(s)
			t.Logf("exit %d, stderr: %s", r.exit, strings.TrimSpace(r.stderr))
			if r.exit == 0 {
				t.Errorf("create succeeded, want a failure: %s", r)
				mustExit(t, h.do("start", h.id), 0)
			} else if !containsAny(r.stderr, want) {
				t.Errorf("stderr does not mention any of %q: %s", want, r)
			}
			if _, r2, ok := h.state(h.id); ok {
				t.Errorf("state of the failed container exists: %s", r2)
			}
		})
	}
}

// joinUserns replaces the spec's user namespace by one joined at path, with
// no mappings.
func joinUserns(s *specs.Spec, path string) {
	removeNamespace(s, specs.UserNamespace)
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: path})
	s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
}

// TestUsernsJoinHostOwnedNetns joins a user namespace and, next to it, a network
// namespace the host's user namespace owns: runc 1.5 joins every other namespace before
// the user namespace (then the rest), and so does hull; before, joining the user
// namespace first left no privilege to enter the network namespace. sysfs cannot be
// mounted for such a namespace (the container's root has no privilege over it): check
// and create refuse it up front, naming the mount, where runc fails at the mount.
func TestUsernsJoinHostOwnedNetns(t *testing.T) {
	t.Parallel()
	const hostID = 210000
	h := newHarness(t)
	holder := startUsernsHolder(t, hostID)
	prepareUserns(t, h, hostID, hostID)
	netns, netnsPath := testNetns(t, "uj")
	ip(t, "-n", netns, "link", "set", "lo", "up")
	s := baseSpec("sh", "-c", "readlink /proc/self/ns/net; ip -o link show lo")
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: fmt.Sprintf("/proc/%d/ns/user", holder)})
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = netnsPath
		}
	}
	sysfs := -1
	for i, m := range s.Mounts {
		if m.Type == "sysfs" {
			sysfs = i
		}
	}
	r := h.create(s)
	want := fmt.Sprintf("mounts[%d]: sysfs cannot be mounted", sysfs)
	if r.exit == 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("create with sysfs: %s; want a failure with %q", r, want)
	}
	h.assertNothingLeft(true)

	s.Mounts = append(s.Mounts[:sysfs], s.Mounts[sysfs+1:]...)
	r = h.run(s)
	mustExit(t, r, 0)
	wantNS, err := os.Readlink(netnsPath)
	if err != nil {
		var st unix.Stat_t
		if err := unix.Stat(netnsPath, &st); err != nil {
			t.Fatal(err)
		}
		wantNS = fmt.Sprintf("net:[%d]", st.Ino)
	}
	if !strings.HasPrefix(r.stdout, wantNS+"\n") || !strings.Contains(r.stdout, "UP") {
		t.Errorf("inside: %q, want the joined %s with lo up", r.stdout, wantNS)
	}
	h.assertNothingLeft(true)
}
