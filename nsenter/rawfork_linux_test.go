package nsenter

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// spawnOut runs /bin/busybox with args through Spawn and returns its stdout and exit code.
func spawnOut(t *testing.T, join []Join, flags uintptr, args ...string) (string, int, error) {
	t.Helper()
	exe, err := os.OpenFile(hulltest.RequireBusybox(t), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	null, _ := os.Open(os.DevNull)
	defer null.Close()
	p, err := Spawn(&SpawnOpts{Exe: exe, Args: append([]string{"busybox"}, args...), Env: []string{"PATH=/bin"}, Files: []*os.File{null, w, os.Stderr}, Join: join, CloneFlags: flags})
	w.Close()
	if err != nil {
		return "", -1, err
	}
	out, _ := io.ReadAll(r)
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return string(out), st.ExitCode(), nil
}

// bothWays runs f with Spawn's vfork and with its fork.
func bothWays(t *testing.T, f func(t *testing.T)) {
	for _, fork := range []bool{false, true} {
		name := "vfork"
		if fork {
			name = "fork"
		}
		t.Run(name, func(t *testing.T) {
			if !fork && !haveVfork {
				hulltest.HostLimit(t, "no vfork on %s; the fork path runs here, both on amd64", runtime.GOARCH)
			}
			old := spawnFork
			spawnFork = fork
			defer func() { spawnFork = old }()
			f(t)
		})
	}
}

func TestSpawnJoinUserAndMount(t *testing.T) {
	needRoot(t)
	bothWays(t, func(t *testing.T) {
		cmd := exec.Command("/bin/sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		pid := cmd.Process.Pid
		ns := func(n string) string { return fmt.Sprintf("/proc/%d/ns/%s", pid, n) }
		join := []Join{
			{specs.MountNamespace, ns("mnt")},
			{specs.UserNamespace, ns("user")}, // deliberately not first: Spawn orders it
			{specs.UTSNamespace, ns("uts")},
		}
		out, code, err := spawnOut(t, join, 0, "sh", "-c", "cat /proc/self/uid_map; for n in user mnt uts; do readlink /proc/self/ns/$n; done")
		if err != nil {
			t.Fatalf("Spawn: %v", err)
		}
		if code != 0 {
			t.Fatalf("exit %d, out %q", code, out)
		}
		fields := strings.Fields(out)
		if len(fields) != 6 || fields[0] != "0" || fields[1] != "100000" || fields[2] != "65536" {
			t.Fatalf("uid_map not the holder's: %q", out)
		}
		for i, n := range []string{"user", "mnt", "uts"} {
			want, _ := os.Readlink(ns(n))
			if fields[3+i] != want {
				t.Errorf("%s: child in %s, want %s", n, fields[3+i], want)
			}
		}
	})
}

// TestSpawnClosesOtherFds: of the caller's fds only Files reach the final child, even
// those not marked close-on-exec (a caller's leftovers).
func TestSpawnClosesOtherFds(t *testing.T) {
	needRoot(t)
	bothWays(t, func(t *testing.T) {
		fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0) // no O_CLOEXEC
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		cmd := exec.Command("/bin/sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		utsns := fmt.Sprintf("/proc/%d/ns/uts", cmd.Process.Pid)
		for _, c := range []struct {
			name  string
			join  []Join
			flags uintptr
		}{
			{"direct", nil, 0},
			{"second fork", nil, unix.CLONE_NEWUTS},
			{"joined", []Join{{specs.UTSNamespace, utsns}}, 0},
		} {
			out, code, err := spawnOut(t, c.join, c.flags, "ls", "/proc/self/fd")
			if err != nil || code != 0 {
				t.Fatalf("%s: Spawn: %v (exit %d)", c.name, err, code)
			}
			// 0-2 are Files, 3 is ls's own directory.
			if got := strings.Join(strings.Fields(out), " "); got != "0 1 2 3" {
				t.Errorf("%s: fds in the child %q, want 0 1 2 3", c.name, got)
			}
		}
	})
}

// TestPidJoinRefused: nothing of hull's may enter a joined pid namespace, whichever way
// it is asked (create forks the container's process into one with ForkTail).
func TestPidJoinRefused(t *testing.T) {
	needRoot(t)
	join := []Join{{specs.PIDNamespace, "/proc/self/ns/pid"}}
	if _, _, err := spawnOut(t, join, 0, "true"); !errors.Is(err, ErrPidJoin) {
		t.Errorf("Spawn joining a pid namespace: %v, want ErrPidJoin", err)
	}
	if err := Start(exec.Command("/bin/true"), join); !errors.Is(err, ErrPidJoin) {
		t.Errorf("Start joining a pid namespace: %v, want ErrPidJoin", err)
	}
	if NeedsSpawn(join) {
		t.Error("NeedsSpawn: a pid namespace alone needs no Spawn (it is refused everywhere)")
	}
}

func TestSpawnPidNamespace(t *testing.T) {
	needRoot(t)
	bothWays(t, func(t *testing.T) {
		// A new pid namespace for the final child: it must be pid 1 there.
		out, code, err := spawnOut(t, nil, unix.CLONE_NEWPID, "sh", "-c", "echo $$")
		if err != nil {
			t.Fatalf("Spawn: %v", err)
		}
		if code != 0 || strings.TrimSpace(out) != "1" {
			t.Fatalf("pid in new namespace %q (exit %d), want 1", out, code)
		}
		// Exit codes come through.
		_, code, err = spawnOut(t, nil, 0, "sh", "-c", "exit 7")
		if err != nil || code != 7 {
			t.Fatalf("exit code %d, %v; want 7", code, err)
		}
	})
}

func TestSpawnErrors(t *testing.T) {
	needRoot(t)
	bothWays(t, func(t *testing.T) {
		_, _, err := spawnOut(t, []Join{{specs.UTSNamespace, "/proc/self/ns/net"}}, 0, "true")
		if err == nil || !strings.Contains(err.Error(), "setns") || !strings.Contains(err.Error(), "/proc/self/ns/net") {
			t.Fatalf("wrong-kind join: %v", err)
		}
		_, _, err = spawnOut(t, []Join{{specs.NetworkNamespace, "/nonexistent"}}, 0, "true")
		if err == nil || !strings.Contains(err.Error(), "/nonexistent") {
			t.Fatalf("missing path: %v", err)
		}
		// An exe that cannot be run: child 2 reports the failed execveat (with vfork,
		// before child 1 reports its pid) and is reaped.
		notExe, err := os.OpenFile("/etc/hostname", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer notExe.Close()
		null, _ := os.Open(os.DevNull)
		defer null.Close()
		_, err = Spawn(&SpawnOpts{Exe: notExe, Args: []string{"x"}, Files: []*os.File{null, null, null}, CloneFlags: unix.CLONE_NEWUTS})
		if err == nil || !strings.Contains(err.Error(), "execveat") {
			t.Fatalf("exec of a non-executable: %v", err)
		}
		// No zombie children may be left behind by failures.
		ents, _ := os.ReadDir("/proc/self/task")
		for _, e := range ents {
			data, _ := os.ReadFile("/proc/self/task/" + e.Name() + "/children")
			for _, c := range strings.Fields(string(data)) {
				stat, _ := os.ReadFile("/proc/" + c + "/stat")
				if strings.Contains(string(stat), ") Z ") {
					t.Errorf("zombie child %s left", c)
				}
			}
		}
	})
}
