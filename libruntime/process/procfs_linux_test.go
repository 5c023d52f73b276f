package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func TestSysctlPath(t *testing.T) {
	tests := []struct{ key, want string }{
		{"net.ipv4.ip_forward", "sys/net/ipv4/ip_forward"},
		{"kernel.shm_rmid_forced", "sys/kernel/shm_rmid_forced"},
		{"fs.mqueue.queues_max", "sys/fs/mqueue/queues_max"},
		{"net.ipv4.conf.eth0/100.forwarding", "sys/net/ipv4/conf/eth0.100/forwarding"},
		{"net/ipv4/conf/eth0.100/forwarding", "sys/net/ipv4/conf/eth0.100/forwarding"},
		{"kernel/hostname", "sys/kernel/hostname"},
		{"vm", "sys/vm"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := SysctlPath(tt.key); got != tt.want {
				t.Errorf("SysctlPath(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func openPath(t *testing.T, path string) *os.File {
	t.Helper()
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestOpenProcRoot(t *testing.T) {
	f, err := OpenProcRoot()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.O_PATH == 0 {
		t.Errorf("handle flags %#x lack O_PATH", flags)
	}
	fdFlags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fdFlags&unix.FD_CLOEXEC == 0 {
		t.Error("handle is not close-on-exec")
	}
}

func TestVerifyProcRoot(t *testing.T) {
	tests := []struct {
		path    string
		wantErr string // "" means accepted
	}{
		{path: "/proc"},
		{path: "/proc/"},
		{path: t.TempDir(), wantErr: "is not procfs"},
		{path: "/", wantErr: "is not procfs"},
		{path: "/sys", wantErr: "is not procfs"},
		{path: "/dev", wantErr: "is not procfs"},
		{path: "/proc/sys", wantErr: "is not its root"},
		{path: "/proc/self", wantErr: "is not its root"},
		{path: "/proc/self/fd", wantErr: "is not its root"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := os.Stat(tt.path)
			hulltest.Require(t, tt.path, err)
			err = verifyProcRoot(openPath(t, tt.path))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// openMethods open rel below root for writing the way WriteProcFile does,
// with openat2 and with the walk used where openat2 is missing, but write
// nothing: a test that fails must not have written anywhere.
var openMethods = map[string]func(root *os.File, rel string) error{
	"openat2": func(root *os.File, rel string) error {
		return openOnly(root, rel, openBeneath)
	},
	"walk": func(root *os.File, rel string) error {
		return openOnly(root, rel, openBeneathWalk)
	},
}

var errOpened = errors.New("opened")

func openOnly(root *os.File, rel string, open func(int, string, []string, int) (int, error)) error {
	comps, err := procComponents(root, rel)
	if err != nil {
		return err
	}
	fd, err := open(int(root.Fd()), root.Name(), comps, unix.O_WRONLY)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return errOpened
}

func TestWriteProcFileRefuses(t *testing.T) {
	proc, err := OpenProcRoot()
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()

	// A tree where following a link would write somewhere visible.
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("orig"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "target"), []byte("orig"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, to := range map[string]string{"link": "target", "abslink": target, "dirlink": "sub", "up": ".."} {
		if err := os.Symlink(to, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	tmp := openPath(t, dir)

	tests := []struct {
		name  string
		root  *os.File
		rel   string
		errno error // nil: refused before any lookup
	}{
		// Targets in /proc are read-only files or missing ones, so a
		// failure to refuse can still not change anything.
		{"proc symlink", proc, "mounts", unix.ELOOP},
		{"proc symlink directory", proc, "net/dev", unix.ELOOP},
		{"proc magic link", proc, "self/cwd/nonexistent", unix.ELOOP},
		{"proc magic link to a file", proc, "self/exe", unix.ELOOP},
		{"proc fd magic link", proc, "self/fd/0", unix.ELOOP},
		{"dotdot", proc, "sys/../self/oom_score_adj", nil},
		{"dot", proc, "./sys/kernel/hostname", nil},
		{"absolute", proc, "/proc/self/oom_score_adj", nil},
		{"empty", proc, "", nil},
		{"empty component", proc, "sys//kernel/hostname", nil},
		{"symlink to file", tmp, "link", unix.ELOOP},
		{"absolute symlink", tmp, "abslink", unix.ELOOP},
		{"symlink to directory", tmp, "dirlink/target", unix.ELOOP},
		{"symlink upwards", tmp, "up/target", unix.ELOOP},
	}
	for _, tt := range tests {
		for method, open := range openMethods {
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				err := open(tt.root, tt.rel)
				if err == nil || err == errOpened {
					t.Fatalf("%s: opened, want it refused", tt.rel)
				}
				if tt.errno != nil && !errors.Is(err, tt.errno) {
					t.Fatalf("%s: error = %v, want %v", tt.rel, err, tt.errno)
				}
				if tt.errno == nil && !strings.Contains(err.Error(), "not allowed") && !strings.Contains(err.Error(), "not a relative path") {
					t.Fatalf("%s: error = %v, want it refused as a path", tt.rel, err)
				}
			})
		}
	}
	for _, p := range []string{target, filepath.Join(dir, "sub", "target")} {
		if b, _ := os.ReadFile(p); string(b) != "orig" {
			t.Errorf("%s was written: %q", p, b)
		}
	}
}

type procWriteArg struct {
	Method string
}

func init() {
	// procwrite moves its thread into new network and UTS namespaces and
	// writes sysctls there through the verified handle, so the host's
	// values are not touched. It prints what it reads back.
	scenarios["procwrite"] = func(b []byte) error {
		var a procWriteArg
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		proc, err := OpenProcRoot()
		if err != nil {
			return err
		}
		if err := unix.Unshare(unix.CLONE_NEWNET | unix.CLONE_NEWUTS); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		write := func(rel, data string) error {
			if a.Method == "openat2" {
				return WriteProcFile(proc, rel, data)
			}
			comps, err := procComponents(proc, rel)
			if err != nil {
				return err
			}
			fd, err := openBeneathWalk(int(proc.Fd()), proc.Name(), comps, unix.O_WRONLY)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			_, err = unix.Write(fd, []byte(data))
			return err
		}
		var out []string
		for _, w := range []struct{ rel, data, readBack string }{
			{SysctlPath("net.ipv4.ip_forward"), "1", "/proc/sys/net/ipv4/ip_forward"},
			{SysctlPath("net/ipv4/ip_default_ttl"), "33", "/proc/sys/net/ipv4/ip_default_ttl"},
			{SysctlPath("kernel.hostname"), "hull-test", "/proc/sys/kernel/hostname"},
			{"thread-self/comm", "hull-comm", "/proc/thread-self/comm"},
			{SysctlPath("net.ipv4.ip_forward"), "0", "/proc/sys/net/ipv4/ip_forward"},
		} {
			if err := write(w.rel, w.data); err != nil {
				return err
			}
			got, err := os.ReadFile(w.readBack)
			if err != nil {
				return err
			}
			out = append(out, w.rel+"="+strings.TrimSpace(string(got)))
		}
		fmt.Println(strings.Join(out, "\n"))
		return nil
	}
}

func TestWriteProcFile(t *testing.T) {
	requireRoot(t)
	if !hostCapEff(t).has(unix.CAP_SYS_ADMIN) {
		hulltest.Require(t, "CAP_SYS_ADMIN for new namespaces (root)", errors.New("not held"))
	}
	hostForward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	hostName, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"sys/net/ipv4/ip_forward=1",
		"sys/net/ipv4/ip_default_ttl=33",
		"sys/kernel/hostname=hull-test",
		"thread-self/comm=hull-comm",
		"sys/net/ipv4/ip_forward=0",
	}, "\n") + "\n"
	for _, method := range []string{"openat2", "walk"} {
		t.Run(method, func(t *testing.T) {
			res := runChild(t, "procwrite", procWriteArg{Method: method})
			res.mustSucceed(t)
			if res.stdout != want {
				t.Errorf("read back:\n%s\nwant:\n%s", res.stdout, want)
			}
		})
	}
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(b) != string(hostForward) {
		t.Errorf("host ip_forward changed: %q -> %q", hostForward, b)
	}
	if n, _ := os.Hostname(); n != hostName {
		t.Errorf("host name changed: %q -> %q", hostName, n)
	}
}

func init() {
	// oom sets each value in turn and prints what /proc reads back.
	scenarios["oom"] = func(b []byte) error {
		var vals []int
		if err := json.Unmarshal(b, &vals); err != nil {
			return err
		}
		proc, err := OpenProcRoot()
		if err != nil {
			return err
		}
		for _, v := range vals {
			if err := SetOOMScoreAdj(proc, v); err != nil {
				return err
			}
			got, err := os.ReadFile("/proc/self/oom_score_adj")
			if err != nil {
				return err
			}
			fmt.Println(strings.TrimSpace(string(got)))
		}
		return nil
	}
}

func TestSetOOMScoreAdj(t *testing.T) {
	requireRoot(t)
	cur, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := strconv.Atoi(strings.TrimSpace(string(cur))); v != 0 {
		hulltest.HostLimit(t, "the test process starts at oom_score_adj %d, want 0; runs where go test inherits 0 (the CI host)", v)
	}
	tests := []struct {
		name    string
		vals    []int
		want    string
		wantErr string
	}{
		{name: "zero", vals: []int{0}, want: "0\n"},
		{name: "raise", vals: []int{500}, want: "500\n"},
		{name: "raise and back", vals: []int{500, 1000, 0}, want: "500\n1000\n0\n"},
		{
			name: "negative", vals: []int{-500},
			wantErr: "process.oomScoreAdj -500: lowering oom_score_adj needs CAP_SYS_RESOURCE, which hull does not have here; use a value >= 0",
		},
		{
			name: "minimum", vals: []int{-1000},
			wantErr: "process.oomScoreAdj -1000: lowering oom_score_adj needs CAP_SYS_RESOURCE",
		},
		{name: "out of range", vals: []int{1001}, wantErr: "process.oomScoreAdj 1001: must be between -1000 and 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.wantErr, "CAP_SYS_RESOURCE") && hostCapEff(t).has(unix.CAP_SYS_RESOURCE) {
				hulltest.HostLimit(t, "root holds CAP_SYS_RESOURCE here and may lower oom_score_adj; runs where it lacks it (the CI host)")
			}
			res := runChild(t, "oom", tt.vals)
			if tt.wantErr != "" {
				if got := res.childErr(); !strings.HasPrefix(got, tt.wantErr) {
					t.Fatalf("error = %q\nwant prefix %q (exit %d, stderr %s)", got, tt.wantErr, res.code, res.stderr)
				}
				return
			}
			res.mustSucceed(t)
			if res.stdout != tt.want {
				t.Errorf("read back %q, want %q", res.stdout, tt.want)
			}
		})
	}
}

func init() {
	// mountns moves its thread into a private mount namespace, builds
	// mounts that a hostile or confused setup could have, and prints, one
	// line per check, "name: ok" or "name: <error>".
	scenarios["mountns"] = func(b []byte) error {
		var dir string
		if err := json.Unmarshal(b, &dir); err != nil {
			return err
		}
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		// Only this namespace's copy of the mounts changes propagation,
		// so nothing below reaches the host.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make mounts private: %w", err)
		}
		mkdir := func(name string) string {
			p := filepath.Join(dir, name)
			if err := os.Mkdir(p, 0o755); err != nil {
				panic(err)
			}
			return p
		}
		report := func(name string, err error) {
			if err == nil {
				fmt.Printf("%s: ok\n", name)
				return
			}
			fmt.Printf("%s: %v\n", name, err)
		}
		verify := func(path string) error {
			fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			f := os.NewFile(uintptr(fd), path)
			defer f.Close()
			return verifyProcRoot(f)
		}

		newProc := mkdir("newproc")
		if err := unix.Mount("proc", newProc, "proc", 0, ""); err != nil {
			return fmt.Errorf("mount proc: %w", err)
		}
		report("fresh procfs", verify(newProc))

		sysBind := mkdir("sysbind")
		if err := unix.Mount("/proc/sys", sysBind, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /proc/sys: %w", err)
		}
		report("bind of /proc/sys", verify(sysBind))

		tmpfs := mkdir("tmpfs")
		if err := unix.Mount("tmpfs", tmpfs, "tmpfs", 0, "size=64k"); err != nil {
			return fmt.Errorf("mount tmpfs: %w", err)
		}
		report("tmpfs", verify(tmpfs))

		// A mount inside the tree must not be crossed.
		root := mkdir("root")
		inner := mkdir("root/inner")
		if err := unix.Mount("tmpfs", inner, "tmpfs", 0, "size=64k"); err != nil {
			return fmt.Errorf("mount tmpfs: %w", err)
		}
		if err := os.WriteFile(filepath.Join(inner, "f"), nil, 0o644); err != nil {
			return err
		}
		rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		rootFile := os.NewFile(uintptr(rootFd), root)
		for _, m := range []string{"openat2", "walk"} {
			report("mount crossing "+m, openMethods[m](rootFile, "inner/f"))
		}

		// What a container could leave behind: /proc/sys where /proc was.
		if err := unix.Mount("/proc/sys", "/proc", "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /proc/sys over /proc: %w", err)
		}
		f, err := OpenProcRoot()
		if err == nil {
			f.Close()
		}
		report("OpenProcRoot with /proc/sys over /proc", err)
		return nil
	}
}

func TestProcMounts(t *testing.T) {
	requireRoot(t)
	if !hostCapEff(t).has(unix.CAP_SYS_ADMIN) {
		hulltest.Require(t, "CAP_SYS_ADMIN for a mount namespace (root)", errors.New("not held"))
	}
	res := runChild(t, "mountns", t.TempDir())
	res.mustSucceed(t)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		got[k] = v
	}
	tests := []struct{ check, want string }{
		{"fresh procfs", "ok"},
		{"bind of /proc/sys", "is not its root"},
		{"tmpfs", "is not procfs"},
		{"mount crossing openat2", unix.EXDEV.Error()},
		{"mount crossing walk", unix.EXDEV.Error()},
		{"OpenProcRoot with /proc/sys over /proc", "/proc is on procfs but is not its root"},
	}
	for _, tt := range tests {
		t.Run(tt.check, func(t *testing.T) {
			v, ok := got[tt.check]
			if !ok {
				t.Fatalf("no result; stdout:\n%s", res.stdout)
			}
			if tt.want == "ok" && v != "ok" || tt.want != "ok" && !strings.Contains(v, tt.want) {
				t.Errorf("%s: got %q, want %q", tt.check, v, tt.want)
			}
		})
	}
}
