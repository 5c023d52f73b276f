//go:build linux

package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// startContainer creates and starts s and returns the running container's
// state (its init pid in particular).
func (h *harness) startContainer(s *specs.Spec) containerState {
	h.t.Helper()
	mustExit(h.t, h.create(s), 0)
	mustExit(h.t, h.do("start", h.id), 0)
	st := h.waitStatus(h.id, "running", 10*time.Second)
	if !pidAlive(st.Pid) {
		h.t.Fatalf("container init %d is not alive after start", st.Pid)
	}
	return st
}

// bgHull is a runtime command running in the background, for the cases that
// must act on hull while it runs (signals, a pty, a pid file).
type bgHull struct {
	t      *testing.T
	cmd    *exec.Cmd
	args   []string
	stdout string // path of its stdout file
	stderr string
	done   chan struct{}
	err    error
}

// startHull starts the runtime with --root and args under cmdTimeout and
// returns without waiting. Cleanup kills it by pid if the test did not wait.
func (h *harness) startHull(o cmdOpts, args ...string) *bgHull {
	h.t.Helper()
	full := append([]string{"--root", h.root}, args...)
	b := &bgHull{t: h.t, args: full, done: make(chan struct{})}
	stdout, err := os.CreateTemp(h.outDir, "bg-stdout-")
	if err != nil {
		h.t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.CreateTemp(h.outDir, "bg-stderr-")
	if err != nil {
		h.t.Fatal(err)
	}
	defer stderr.Close()
	b.stdout, b.stderr = stdout.Name(), stderr.Name()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	b.cmd = exec.CommandContext(ctx, hullBinary, full...)
	b.cmd.Stdin = o.stdin
	b.cmd.Stdout = stdout
	b.cmd.Stderr = stderr
	b.cmd.ExtraFiles = o.extra
	if o.env != nil {
		b.cmd.Env = append(os.Environ(), o.env...)
	}
	b.cmd.WaitDelay = 5 * time.Second
	if err := b.cmd.Start(); err != nil {
		cancel()
		h.t.Fatalf("starting hull %s: %v", strings.Join(full, " "), err)
	}
	go func() {
		b.err = b.cmd.Wait()
		cancel()
		close(b.done)
	}()
	h.t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = unix.Kill(b.cmd.Process.Pid, unix.SIGKILL)
			<-b.done
		}
	})
	return b
}

// wait waits up to timeout for the background command and returns what it
// did; on timeout the test fails and the command is killed.
func (b *bgHull) wait(timeout time.Duration) result {
	b.t.Helper()
	select {
	case <-b.done:
	case <-time.After(timeout):
		_ = unix.Kill(b.cmd.Process.Pid, unix.SIGKILL)
		<-b.done
		b.t.Errorf("hull %s: did not exit within %s", strings.Join(b.args, " "), timeout)
	}
	r := result{args: b.args, exit: -1, stdoutPath: b.stdout}
	var ee *exec.ExitError
	switch {
	case b.err == nil:
		r.exit = 0
	case errors.As(b.err, &ee):
		r.exit = ee.ExitCode()
	default:
		b.t.Errorf("hull %s: %v", strings.Join(b.args, " "), b.err)
	}
	r.stdout = readFile(b.stdout)
	r.stderr = readFile(b.stderr)
	return r
}

// nsLinks reads every /proc/PID/ns/* link of pid from the host.
func nsLinks(t *testing.T, pid int) map[string]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/ns", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	links := map[string]string{}
	for _, e := range entries {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("readlink %s/%s: %v", dir, e.Name(), err)
		}
		links[e.Name()] = l
	}
	return links
}

// pidsInPidNS lists the host pids of the processes in init's pid namespace.
func pidsInPidNS(t *testing.T, initPid int) []int {
	t.Helper()
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", initPid))
	if err != nil {
		t.Fatalf("init %d: %v", initPid, err)
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && l == want && pidAlive(pid) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// cgroup2Line is the "0::/path" line of /proc/PID/cgroup.
func cgroup2Line(pid int) string {
	for _, l := range strings.Split(readFile(fmt.Sprintf("/proc/%d/cgroup", pid)), "\n") {
		if strings.HasPrefix(l, "0::") {
			return l
		}
	}
	return ""
}

// sleeperSpec is a container whose init only sleeps, with a distinctive
// command line so the exec'd process can recognise it as PID 1.
func sleeperSpec() *specs.Spec { return baseSpec("sleep", "1001") }

// TestExecJoinsContainer execs into a running container and checks from
// inside and from the host that the new process shares everything with init:
// PID 1, hostname, mount table and every namespace.
func TestExecJoinsContainer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
	}{
		{"default-namespaces", func(*specs.Spec) {}},
		{"with-cgroup-and-time", func(s *specs.Spec) {
			if _, err := os.Stat("/proc/self/ns/time"); err != nil {
				return
			}
			s.Linux.Namespaces = append(s.Linux.Namespaces,
				specs.LinuxNamespace{Type: specs.CgroupNamespace}, specs.LinuxNamespace{Type: specs.TimeNamespace})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := sleeperSpec()
			s.Hostname = "exec-host-" + strconv.Itoa(int(idSeq.Add(1)))
			tc.mutate(s)
			st := h.startContainer(s)
			initNS := nsLinks(t, st.Pid)

			r := h.do("exec", h.id, "sh", "-c", `cat /proc/1/cmdline | tr '\0' ' '; echo; echo @@
hostname; echo @@
cat /proc/self/mountinfo; echo @@
for f in /proc/self/ns/*; do echo "${f##*/} $(readlink "$f")"; done; echo @@
echo $$; echo @@
grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status`)
			mustExit(t, r, 0)
			parts := sections(r.stdout)
			if len(parts) != 6 {
				t.Fatalf("unexpected output (want 6 sections): %q\nstderr: %q", r.stdout, r.stderr)
			}

			t.Run("pid-1-is-init", func(t *testing.T) {
				if got := strings.TrimSpace(parts[0]); got != "sleep 1001" {
					t.Errorf("/proc/1/cmdline inside the exec'd process: %q, want the container's init \"sleep 1001\"", got)
				}
				if pid := strings.TrimSpace(parts[4]); pid == "1" || pid == "" {
					t.Errorf("exec'd shell's pid is %q, want a pid other than 1 in the container's pid namespace", pid)
				}
			})
			t.Run("hostname", func(t *testing.T) {
				if got := strings.TrimSpace(parts[1]); got != s.Hostname {
					t.Errorf("hostname %q, want the container's %q", got, s.Hostname)
				}
			})
			t.Run("mountinfo", func(t *testing.T) {
				want := readFile(fmt.Sprintf("/proc/%d/mountinfo", st.Pid))
				if want == "" {
					t.Fatal("cannot read init's mountinfo from the host")
				}
				if parts[2] != want {
					t.Errorf("exec'd /proc/self/mountinfo differs from init's:\n--- exec\n%s--- init\n%s", parts[2], want)
				}
			})
			t.Run("namespaces", func(t *testing.T) {
				inside := map[string]string{}
				for _, line := range strings.Split(strings.TrimSpace(parts[3]), "\n") {
					if name, link, ok := strings.Cut(line, " "); ok {
						inside[name] = link
					}
				}
				for _, n := range []string{"pid", "net", "ipc", "uts", "mnt", "user", "cgroup"} {
					if _, ok := inside[n]; !ok {
						t.Errorf("no %s entry in the exec'd process's /proc/self/ns: %q", n, parts[3])
					}
				}
				for name, want := range initNS {
					if got := inside[name]; got != want {
						t.Errorf("ns/%s: exec'd process %q, container init %q", name, got, want)
					}
				}
			})
			t.Run("caps-and-nnp-from-container", func(t *testing.T) {
				got := procStatus(parts[5])
				initSt := procStatus(readFile(fmt.Sprintf("/proc/%d/status", st.Pid)))
				for _, k := range []string{"CapEff", "CapBnd", "NoNewPrivs"} {
					if got[k] == "" || got[k] != initSt[k] {
						t.Errorf("%s: exec'd %q, init %q", k, got[k], initSt[k])
					}
				}
				if w := fmt.Sprintf("%016x", capMask(t, s.Process.Capabilities.Effective)); got["CapEff"] != w {
					t.Errorf("CapEff %s, want the config's %s", got["CapEff"], w)
				}
				if got["NoNewPrivs"] != "1" {
					t.Errorf("NoNewPrivs %q, want 1 (the config sets noNewPrivileges)", got["NoNewPrivs"])
				}
			})
			if st2 := h.mustState(h.id); st2.Status != "running" || st2.Pid != st.Pid {
				t.Errorf("container after exec: %+v, want still running with init %d", st2, st.Pid)
			}
		})
	}
}

// TestExecExitStatus checks hull exec exits with the process's status, and
// 128+signal when the process is killed.
func TestExecExitStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startContainer(sleeperSpec())
	tests := []struct {
		name   string
		script string
		want   int
	}{
		{"exit-0", "exit 0", 0},
		{"exit-1", "exit 1", 1},
		{"exit-7", "exit 7", 7},
		{"exit-255", "exit 255", 255},
		{"killed-by-KILL", "kill -KILL $$; sleep 5", 128 + 9},
		{"killed-by-TERM", "kill -TERM $$; sleep 5", 128 + 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := h.do("exec", h.id, "sh", "-c", tc.script)
			if r.exit != tc.want {
				t.Errorf("want exit %d, got %s", tc.want, r)
			}
		})
	}
}

// TestExecStdio checks that an attached exec passes stdin, stdout and stderr
// through.
func TestExecStdio(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startContainer(sleeperSpec())
	in := "line one\nline two with \x01 bytes\n"
	r := h.hullOpts(cmdOpts{stdin: strings.NewReader(in)}, "exec", h.id, "sh", "-c", "cat; echo to-stderr >&2; echo to-stdout")
	mustExit(t, r, 0)
	if want := in + "to-stdout\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "to-stderr\n") {
		t.Errorf("stderr %q, want it to contain \"to-stderr\"", r.stderr)
	}
	if strings.Contains(r.stdout, "to-stderr") {
		t.Errorf("stderr output went to stdout: %q", r.stdout)
	}
}

// TestExecSignals sends signals to an attached `hull exec` and checks the
// exec'd process receives them.
func TestExecSignals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startContainer(sleeperSpec())
	trapScript := `trap 'echo trapped-TERM; kill $!; exit 42' TERM
trap 'echo trapped-USR1; kill $!; exit 43' USR1
trap 'echo trapped-HUP; kill $!; exit 44' HUP
trap 'echo trapped-INT; kill $!; exit 45' INT
echo ready
sleep 1000 & wait`
	tests := []struct {
		name   string
		sig    unix.Signal
		script string
		marker string // what the trap prints, "" for none
		want   int
	}{
		{"TERM-trapped", unix.SIGTERM, trapScript, "trapped-TERM", 42},
		{"USR1-trapped", unix.SIGUSR1, trapScript, "trapped-USR1", 43},
		{"HUP-trapped", unix.SIGHUP, trapScript, "trapped-HUP", 44},
		{"INT-trapped", unix.SIGINT, trapScript, "trapped-INT", 45},
		// Not trapped: the process dies of the signal, hull reports 128+15.
		{"TERM-untrapped", unix.SIGTERM, "echo ready; exec sleep 1000", "", 128 + 15},
		// A real-time signal: hull forwards those from 25 ms after the process starts
		// (before, they are ignored), so it is sent until it arrives.
		{"RT40-trapped", unix.Signal(40), "trap 'echo trapped-40; kill $!; exit 46' 40\necho ready\nsleep 1000 & wait", "trapped-40", 46},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := h.startHull(cmdOpts{}, "exec", h.id, "sh", "-c", tc.script)
			waitOutput(t, b.stdout, "ready", 15*time.Second)
			if tc.sig >= 34 {
				// Until hull catches it, a real-time signal is ignored, hull lives on.
				waitFor(10*time.Second, func() bool {
					_ = unix.Kill(b.cmd.Process.Pid, tc.sig)
					return strings.Contains(readFile(b.stdout), tc.marker)
				})
			} else if err := unix.Kill(b.cmd.Process.Pid, tc.sig); err != nil {
				t.Fatalf("signalling hull (pid %d): %v", b.cmd.Process.Pid, err)
			}
			r := b.wait(15 * time.Second)
			if r.exit != tc.want {
				t.Errorf("after %v to hull: want exit %d, got %s", tc.sig, tc.want, r)
			}
			if tc.marker != "" && !strings.Contains(r.stdout, tc.marker) {
				t.Errorf("the exec'd process did not trap %v: stdout %q, want %q", tc.sig, r.stdout, tc.marker)
			}
		})
	}
}

// TestExecProcessAttributes changes the exec'd process with each flag and
// checks the change from inside; without flags it gets the container's.
func TestExecProcessAttributes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := sleeperSpec()
	s.Process.NoNewPrivileges = false
	s.Process.Cwd = "/etc"
	s.Process.Env = append(s.Process.Env, "CONTAINER_VAR=from-config")
	s.Process.User.AdditionalGids = []uint32{30}
	s.Process.Rlimits = []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 1000, Hard: 2000},
		{Type: "RLIMIT_NPROC", Soft: 3000, Hard: 4000},
	}
	h.startContainer(s)
	base := capMask(t, s.Process.Capabilities.Effective)

	status := func(out string) map[string]string { return procStatus(out) }
	field := func(key, want string) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			t.Helper()
			if got := status(out)[key]; got != want {
				t.Errorf("%s: %q, want %q\n%s", key, got, want, out)
			}
		}
	}
	ids := func(uid, gid, groups string) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			t.Helper()
			st := status(out)
			for _, f := range []struct{ key, want string }{
				{"Uid", strings.Repeat(uid+"\t", 3) + uid},
				{"Gid", strings.Repeat(gid+"\t", 3) + gid},
				{"Groups", groups},
			} {
				if got := st[f.key]; got != f.want {
					t.Errorf("%s: %q, want %q", f.key, got, f.want)
				}
			}
		}
	}
	envHas := func(want []string, not []string) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			t.Helper()
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			count := map[string]int{}
			for _, l := range lines {
				count[l]++
			}
			for _, w := range want {
				if count[w] != 1 {
					t.Errorf("environment has %q %d times, want once:\n%s", w, count[w], out)
				}
				name, _, _ := strings.Cut(w, "=")
				n := 0
				for _, l := range lines {
					if strings.HasPrefix(l, name+"=") {
						n++
					}
				}
				if n != 1 {
					t.Errorf("environment defines %s %d times, want once (the last value given):\n%s", name, n, out)
				}
			}
			for _, n := range not {
				for _, l := range lines {
					if l == n || strings.HasPrefix(l, n+"=") {
						t.Errorf("environment has %q, want no %q:\n%s", l, n, out)
					}
				}
			}
		}
	}
	limits := func(row, soft, hard string) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			t.Helper()
			for _, line := range strings.Split(out, "\n") {
				if m := limitLine.FindStringSubmatch(line); m != nil && m[1] == row {
					if m[2] != soft || m[3] != hard {
						t.Errorf("%s: %s/%s, want %s/%s", row, m[2], m[3], soft, hard)
					}
					return
				}
			}
			t.Errorf("no %q row in:\n%s", row, out)
		}
	}
	capsCheck := func(eff, bnd uint64) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			t.Helper()
			st := status(out)
			if got := hulltest.StatusHex(t, st, "CapEff"); got != eff {
				t.Errorf("CapEff %016x, want %016x", got, eff)
			}
			if got := hulltest.StatusHex(t, st, "CapPrm"); got != eff {
				t.Errorf("CapPrm %016x, want %016x", got, eff)
			}
			if got := hulltest.StatusHex(t, st, "CapBnd"); got != bnd {
				t.Errorf("CapBnd %016x, want %016x", got, bnd)
			}
		}
	}
	sysAdmin := uint64(1) << unix.CAP_SYS_ADMIN
	netRaw := uint64(1) << unix.CAP_NET_RAW
	catStatus := []string{"cat", "/proc/self/status"}
	tests := []struct {
		name  string
		flags []string // before the id
		args  []string
		want  string // exact stdout, unless check is set
		check func(t *testing.T, out string)
	}{
		{name: "env-from-container", args: []string{"env"},
			check: envHas([]string{"CONTAINER_VAR=from-config", "TERM=xterm", s.Process.Env[0]}, nil)},
		// One flag spelling per command: runc (urfave/cli) refuses mixing -e and --env.
		{name: "env-added-and-overridden", flags: []string{"-e", "FOO=bar baz", "-e", "EQ=a=b", "-e", "TERM=dumb"}, args: []string{"env"},
			check: envHas([]string{"FOO=bar baz", "EQ=a=b", "TERM=dumb", "CONTAINER_VAR=from-config"}, []string{"TERM=xterm"})},
		{name: "env-long-flag", flags: []string{"--env", "FOO=long", "--env", "BAR="}, args: []string{"env"},
			check: envHas([]string{"FOO=long", "BAR=", "TERM=xterm"}, nil)},
		// The shell imports the environment in order, so it sees the flag's value
		// even if a duplicate TERM reaches it; env-added-and-overridden checks
		// there is no duplicate.
		{name: "env-override-seen-by-shell", flags: []string{"-e", "TERM=dumb"}, args: shell(`echo "$TERM"`), want: "dumb\n"},
		{name: "cwd-from-container", args: []string{"pwd"}, want: "/etc\n"},
		{name: "cwd-flag", flags: []string{"--cwd", "/tmp"}, args: []string{"pwd"}, want: "/tmp\n"},
		{name: "user-from-container", args: catStatus, check: ids("0", "0", "30")},
		{name: "user-uid-only", flags: []string{"-u", "1000"}, args: catStatus, check: ids("1000", "0", "30")},
		{name: "user-uid-gid", flags: []string{"--user", "1000:1000"}, args: catStatus, check: ids("1000", "1000", "30")},
		{name: "user-nobody-additional-gids", flags: []string{"-u", "65534:65534", "-g", "10", "-g", "20"},
			args: catStatus, check: ids("65534", "65534", "10 20")},
		{name: "additional-gids-long-flag", flags: []string{"--additional-gids", "40", "--additional-gids", "50"},
			args: catStatus, check: ids("0", "0", "40 50")},
		{name: "additional-gids-root", flags: []string{"-g", "10", "-g", "20"}, args: catStatus, check: ids("0", "0", "10 20")},
		{name: "user-non-root-has-no-caps", flags: []string{"-u", "1000:1000"}, args: catStatus, check: field("CapEff", "0000000000000000")},
		{name: "id-command", flags: []string{"-u", "1000:1000"}, args: []string{"id"},
			check: func(t *testing.T, out string) {
				if !strings.HasPrefix(out, "uid=1000(hull) gid=1000(hull)") {
					t.Errorf("id: %q, want uid=1000(hull) gid=1000(hull)", out)
				}
			}},
		{name: "caps-from-container", args: catStatus, check: capsCheck(base, base)},
		{name: "cap-added", flags: []string{"--cap", "CAP_SYS_ADMIN"}, args: catStatus,
			check: capsCheck(base|sysAdmin, base|sysAdmin)},
		{name: "cap-added-twice", flags: []string{"-c", "CAP_SYS_ADMIN", "-c", "CAP_NET_RAW"}, args: catStatus,
			check: capsCheck(base|sysAdmin|netRaw, base|sysAdmin|netRaw)},
		{name: "no-new-privs-from-container", args: catStatus, check: field("NoNewPrivs", "0")},
		{name: "no-new-privs-flag", flags: []string{"--no-new-privs"}, args: catStatus, check: field("NoNewPrivs", "1")},
		{name: "rlimit-nofile-from-container", args: []string{"cat", "/proc/self/limits"},
			check: limits("Max open files", "1000", "2000")},
		{name: "rlimit-nproc-from-container", args: []string{"cat", "/proc/self/limits"},
			check: limits("Max processes", "3000", "4000")},
		{name: "args-verbatim", args: []string{"sh", "-c", `printf '[%s]' "$@"`, "sh", "a b", "", "c*", "$HOME", "-e"},
			want: "[a b][][c*][$HOME][-e]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{"exec"}, tc.flags...), h.id)
			r := h.do(append(args, tc.args...)...)
			mustExit(t, r, 0)
			if tc.check != nil {
				tc.check(t, r.stdout)
			} else if r.stdout != tc.want {
				t.Errorf("stdout %q, want %q (stderr %q)", r.stdout, tc.want, r.stderr)
			}
		})
	}
}

// TestExecProcessJSON runs a process described by a process.json (-p): its
// args, user, env, cwd, rlimits, capabilities and no_new_privs are used
// instead of the container's.
func TestExecProcessJSON(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	s := sleeperSpec()
	s.Process.NoNewPrivileges = false
	h.startContainer(s)

	p := specs.Process{
		Args: shell(`id -u; id -g; pwd; echo "FROMJSON=$FROMJSON"; echo "TERM=${TERM-unset}"; echo @@
cat /proc/self/status; echo @@
cat /proc/self/limits`),
		Env:  []string{"PATH=/bin:/usr/bin", "FROMJSON=yes it is"},
		Cwd:  "/tmp",
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}},
		Capabilities: &specs.LinuxCapabilities{
			Bounding:    []string{"CAP_KILL", "CAP_CHOWN"},
			Effective:   []string{"CAP_KILL"},
			Permitted:   []string{"CAP_KILL"},
			Inheritable: []string{"CAP_KILL"},
			Ambient:     []string{"CAP_KILL"},
		},
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 500, Hard: 600}},
		NoNewPrivileges: true,
	}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	pj := filepath.Join(h.outDir, "process.json")
	if err := os.WriteFile(pj, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-p", "--process"} {
		t.Run(flag, func(t *testing.T) {
			r := h.do("exec", flag, pj, h.id)
			mustExit(t, r, 0)
			parts := sections(r.stdout)
			if len(parts) != 3 {
				t.Fatalf("unexpected output %q (stderr %q)", r.stdout, r.stderr)
			}
			if want := "1000\n1000\n/tmp\nFROMJSON=yes it is\nTERM=unset\n"; parts[0] != want {
				t.Errorf("id/cwd/env: %q, want %q", parts[0], want)
			}
			st := procStatus(parts[1])
			kill := capMask(t, []string{"CAP_KILL"})
			for _, c := range []struct {
				key  string
				want uint64
			}{
				{"CapEff", kill}, {"CapPrm", kill}, {"CapAmb", kill}, {"CapInh", kill},
				{"CapBnd", capMask(t, []string{"CAP_KILL", "CAP_CHOWN"})},
			} {
				if got := hulltest.StatusHex(t, st, c.key); got != c.want {
					t.Errorf("%s %016x, want %016x (process.json's)", c.key, got, c.want)
				}
			}
			if st["NoNewPrivs"] != "1" {
				t.Errorf("NoNewPrivs %q, want 1 (process.json sets it, the container does not)", st["NoNewPrivs"])
			}
			if st["Groups"] != "10" {
				t.Errorf("Groups %q, want \"10\"", st["Groups"])
			}
			found := false
			for _, line := range strings.Split(parts[2], "\n") {
				if m := limitLine.FindStringSubmatch(line); m != nil && m[1] == "Max open files" {
					found = true
					if m[2] != "500" || m[3] != "600" {
						t.Errorf("Max open files %s/%s, want 500/600", m[2], m[3])
					}
				}
			}
			if !found {
				t.Errorf("no Max open files row: %q", parts[2])
			}
		})
	}
}

// consoleListener listens on a short unix socket path for a pty master.
func consoleListener(t *testing.T) (string, <-chan recvResult) {
	t.Helper()
	ln, sock := hulltest.UnixListener(t, "hullexec")
	got := make(chan recvResult, 1)
	go func() {
		f, err := receiveConsole(ln)
		got <- recvResult{f, err}
	}()
	return sock, got
}

type recvResult struct {
	f   *os.File
	err error
}

// readPty reads the master until the slave side closes (EIO) or timeout.
func readPty(t *testing.T, master *os.File, timeout time.Duration) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	_ = master.SetReadDeadline(time.Now().Add(timeout))
	for {
		n, err := master.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("pty output did not end within %s: %q", timeout, out)
			}
			return string(out)
		}
	}
}

// TestExecTTY execs with --tty, receiving the pty master over
// --console-socket, attached and detached: an interactive shell works on the
// pty, and a command run directly gets the pty as stdio and no other fd.
func TestExecTTY(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startContainer(sleeperSpec())
	shellInput := "tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-$((1+1))-tty; echo done-$((6*7)); exit 3\n"
	shellChecks := []*regexp.Regexp{
		regexp.MustCompile(`(^|\n)/dev/pts/[0-9]+\r?\n`),
		regexp.MustCompile(`(^|\n)all-2-tty\r?\n`),
		regexp.MustCompile(`(^|\n)done-42\r?\n`),
	}
	// ls is exec'd directly (no shell, which keeps its own fd 10 on the tty);
	// fd 3 is ls's own, for reading the directory.
	fdsCmd := []string{"sh", "-c", `for f in 0 1 2; do readlink /proc/self/fd/$f; done; exec ls -1 /proc/self/fd`}
	fdsChecks := []*regexp.Regexp{
		regexp.MustCompile(`^(/dev/pts/[0-9]+)\r\n(/dev/pts/[0-9]+)\r\n(/dev/pts/[0-9]+)\r\n0\r\n1\r\n2\r\n3\r\n$`),
	}
	tests := []struct {
		name     string
		detach   bool
		cmd      []string
		input    string
		checks   []*regexp.Regexp
		wantExit int // attached only
	}{
		{"attached-shell", false, []string{"sh"}, shellInput, shellChecks, 3},
		{"detached-shell", true, []string{"sh"}, shellInput, shellChecks, 0},
		{"attached-fds", false, fdsCmd, "", fdsChecks, 0},
		{"detached-fds", true, fdsCmd, "", fdsChecks, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sock, got := consoleListener(t)
			args := []string{"exec", "--tty", "--console-socket", sock}
			if tc.detach {
				args = append(args, "--detach")
			}
			b := h.startHull(cmdOpts{}, append(append(args, h.id), tc.cmd...)...)
			var rc recvResult
			select {
			case rc = <-got:
			case <-b.done:
				// A detached hull may exit as soon as the master is sent,
				// before the receiver has finished reading it.
				select {
				case rc = <-got:
				case <-time.After(10 * time.Second):
					t.Fatalf("hull exited without sending the pty master: %s", b.wait(time.Second))
				}
			}
			if rc.err != nil {
				t.Fatalf("receiving the pty master: %v", rc.err)
			}
			master := rc.f
			defer master.Close()
			if _, err := unix.IoctlGetWinsize(int(master.Fd()), unix.TIOCGWINSZ); err != nil {
				t.Fatalf("the received fd is not a terminal: %v", err)
			}
			if tc.detach {
				// hull returns while the process keeps running on the pty.
				if r := b.wait(15 * time.Second); r.exit != 0 {
					t.Fatalf("exec --detach --tty: %s", r)
				}
			}
			if tc.input != "" {
				if _, err := master.Write([]byte(tc.input)); err != nil {
					t.Fatal(err)
				}
			}
			out := readPty(t, master, 15*time.Second)
			for _, re := range tc.checks {
				if !re.MatchString(out) {
					t.Errorf("no %s in pty output %q", re, out)
				}
			}
			if tc.detach {
				return
			}
			r := b.wait(15 * time.Second)
			if r.exit != tc.wantExit {
				t.Errorf("attached exec --tty: want exit %d (the process's), got %s", tc.wantExit, r)
			}
			if r.stdout != "" {
				t.Errorf("with --console-socket, the process's output must go to the pty, not hull's stdout: %q", r.stdout)
			}
		})
	}
}

// TestExecPidFile checks --pid-file holds the host pid of the exec'd process,
// attached and detached, and that the process is in the container's pid
// namespace and cgroup.
func TestExecPidFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	st := h.startContainer(sleeperSpec())
	tests := []struct {
		name   string
		detach bool
	}{
		{"attached", false},
		{"detached", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "exec.pid")
			args := []string{"exec", "--pid-file", pidFile}
			if tc.detach {
				args = append(args, "-d")
			}
			b := h.startHull(cmdOpts{}, append(args, h.id, "sh", "-c", `echo "inner=$$"; exec sleep 1002`)...)
			if tc.detach {
				if r := b.wait(15 * time.Second); r.exit != 0 {
					t.Fatalf("exec -d: %s", r)
				}
			}
			out := waitOutput(t, b.stdout, "\n", 15*time.Second)
			m := regexp.MustCompile(`inner=([0-9]+)\n`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no inner pid in output %q", out)
			}
			pid := hulltest.ReadPid(t, pidFile)
			if !pidAlive(pid) {
				t.Fatalf("pid file holds %d, which is not running", pid)
			}
			t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
			status := procStatus(readFile(fmt.Sprintf("/proc/%d/status", pid)))
			nspid := strings.Fields(status["NSpid"])
			if len(nspid) != 2 || nspid[0] != strconv.Itoa(pid) || nspid[1] != m[1] {
				t.Errorf("/proc/%d/status NSpid %q, want \"%d\t%s\" (host pid, pid inside)", pid, status["NSpid"], pid, m[1])
			}
			// The shell prints its pid before it execs sleep: wait for the exec.
			waitFor(10*time.Second, func() bool { return cmdlineOf(pid) == "sleep 1002" })
			if cmdline := readFile(fmt.Sprintf("/proc/%d/cmdline", pid)); cmdline != "sleep\x001002\x00" {
				t.Errorf("pid %d runs %q, want the exec'd \"sleep 1002\"", pid, cmdline)
			}
			if got, want := nsLinks(t, pid)["pid"], nsLinks(t, st.Pid)["pid"]; got != want {
				t.Errorf("pid %d is in pid namespace %s, want the container's %s", pid, got, want)
			}
			if h.cgroupDir() != "" {
				if got, want := cgroup2Line(pid), cgroup2Line(st.Pid); got != want || want == "" {
					t.Errorf("exec'd process cgroup %q, want the container's %q", got, want)
				}
			}
			if !tc.detach {
				// Still attached: hull must be waiting for it.
				select {
				case <-b.done:
					t.Errorf("attached hull exec returned while its process runs: %s", b.wait(0))
				default:
				}
				_ = unix.Kill(b.cmd.Process.Pid, unix.SIGTERM)
				if r := b.wait(15 * time.Second); r.exit != 128+15 {
					t.Errorf("attached exec after SIGTERM: want exit 143, got %s", r)
				}
			}
		})
	}
}

// TestExecDetach checks `hull exec --detach` returns while the process keeps
// running in the container.
func TestExecDetach(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	st := h.startContainer(sleeperSpec())
	pidFile := filepath.Join(h.outDir, "exec.pid")
	start := time.Now()
	r := h.do("exec", "--detach", "--pid-file", pidFile, h.id, "sh", "-c", "echo started; exec sleep 1003")
	took := time.Since(start)
	mustExit(t, r, 0)
	if took > 15*time.Second {
		t.Errorf("exec --detach took %s; it must return once the process runs", took)
	}
	pid := hulltest.ReadPid(t, pidFile)
	t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
	waitOutput(t, r.stdoutPath, "started", 10*time.Second)
	// The shell prints before it execs sleep: wait for the exec, then give a
	// process that would die with hull exec a moment to do so.
	waitFor(10*time.Second, func() bool { return cmdlineOf(pid) == "sleep 1003" })
	time.Sleep(300 * time.Millisecond)
	if !pidAlive(pid) {
		t.Fatalf("detached process %d is not running after hull exec returned", pid)
	}
	if cmdline := readFile(fmt.Sprintf("/proc/%d/cmdline", pid)); cmdline != "sleep\x001003\x00" {
		t.Errorf("pid %d runs %q, want \"sleep 1003\"", pid, cmdline)
	}
	pids := pidsInPidNS(t, st.Pid)
	if len(pids) != 2 || !containsInt(pids, pid) || !containsInt(pids, st.Pid) {
		t.Errorf("processes in the container's pid namespace: %v, want init %d and the detached %d", pids, st.Pid, pid)
	}
	// The container sees it too.
	out := h.do("exec", h.id, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
	mustExit(t, out, 0)
	if !strings.Contains(out.stdout, "sleep 1003") {
		t.Errorf("the detached process is not visible inside: %q", out.stdout)
	}
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestExecPreserveFds hands hull two extra open files (fds 3 and 4) and lists
// the exec'd process's fds: only --preserve-fds lets them through, and no fd of
// hull's leaks. ls holds one more fd, the lowest free one, for the directory.
func TestExecPreserveFds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startContainer(sleeperSpec())
	tests := []struct {
		name     string
		args     []string
		wantFds  string
		wantRead string
	}{
		{"preserve-1", []string{"--preserve-fds", "1"}, "0 1 2 3 4", "three|"},
		{"preserve-2", []string{"--preserve-fds", "2"}, "0 1 2 3 4 5", "three|four|"},
		{"none", nil, "0 1 2 3", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var extra []*os.File
			dir := t.TempDir()
			for _, content := range []string{"three", "four"} {
				p := filepath.Join(dir, content)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				extra = append(extra, f)
			}
			args := append(append([]string{"exec"}, tc.args...), h.id)
			r := h.hullOpts(cmdOpts{extra: extra}, append(args, shell(`ls /proc/self/fd | tr '\n' ' '; echo @@
{ cat <&3 && echo '|'; } 2>/dev/null | tr -d '\n'
{ cat <&4 && echo '|'; } 2>/dev/null | tr -d '\n'`)...)...)
			mustExit(t, r, 0)
			parts := sections(r.stdout)
			if len(parts) != 2 {
				t.Fatalf("unexpected output %q (stderr %q)", r.stdout, r.stderr)
			}
			if got := strings.TrimSpace(parts[0]); got != tc.wantFds {
				t.Errorf("fds inside: %q, want %q", got, tc.wantFds)
			}
			if parts[1] != tc.wantRead {
				t.Errorf("reading fds 3 and 4: %q, want %q", parts[1], tc.wantRead)
			}
		})
	}
}

// TestExecErrors runs bad execs against a running container: each must fail
// with a message naming the problem, start no process and leave the container
// running.
func TestExecErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	st := h.startContainer(sleeperSpec())
	pj := filepath.Join(h.outDir, "no-args.json")
	if err := os.WriteFile(pj, []byte(`{"args": [], "cwd": "/", "env": ["PATH=/bin"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	badJSON := filepath.Join(h.outDir, "bad.json")
	if err := os.WriteFile(badJSON, []byte(`{"args": ["true"`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string // after "exec"; ID is replaced by the container id
		want []string // stderr must contain one of these (case-insensitive)
	}{
		{"command-absolute-missing", []string{"ID", "/no/such/cmd"}, []string{"/no/such/cmd"}},
		{"command-not-in-path", []string{"ID", "no-such-cmd-xyz"}, []string{"no-such-cmd-xyz"}},
		{"command-not-executable", []string{"ID", "/etc/passwd"}, []string{"/etc/passwd"}},
		{"no-command", []string{"ID"}, []string{"command", "args"}},
		{"process-json-no-args", []string{"-p", pj, "ID"}, []string{"args"}},
		{"process-json-missing", []string{"-p", "/no/such/process.json", "ID"}, []string{"/no/such/process.json"}},
		{"process-json-malformed", []string{"-p", badJSON, "ID"}, []string{"bad.json", "json", "unexpected"}},
		{"user-name", []string{"-u", "nobody", "ID", "true"}, []string{"nobody"}},
		{"user-bad-gid", []string{"-u", "1000:staff", "ID", "true"}, []string{"1000:staff"}},
		{"user-overflow", []string{"-u", "99999999999", "ID", "true"}, []string{"99999999999"}},
		{"user-empty-uid", []string{"-u", ":1000", "ID", "true"}, []string{":1000"}},
		{"additional-gid-name", []string{"-g", "wheel", "ID", "true"}, []string{"wheel"}},
		{"cwd-missing", []string{"--cwd", "/no/such/dir", "ID", "true"}, []string{"/no/such/dir"}},
		{"apparmor", []string{"--apparmor", "some-profile", "ID", "true"}, []string{"apparmor"}},
		{"process-label", []string{"--process-label", "system_u:system_r:container_t:s0", "ID", "true"}, []string{"label"}},
		{"tty-detach-no-socket", []string{"-t", "-d", "ID", "true"}, []string{"console socket", "console-socket"}},
		{"console-socket-missing", []string{"-t", "--console-socket", "/no/such/socket", "ID", "true"}, []string{"/no/such/socket"}},
	}
	for _, tc := range tests {
		// Sequential: each case checks nothing else runs in the container.
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"exec"}
			for _, a := range tc.args {
				if a == "ID" {
					a = h.id
				}
				args = append(args, a)
			}
			r := h.do(args...)
			t.Logf("exit %d, stderr: %s", r.exit, strings.TrimSpace(r.stderr))
			if r.exit == 0 {
				t.Errorf("want a failure, got %s", r)
			} else if !containsAny(r.stderr, tc.want) {
				t.Errorf("stderr does not mention any of %q: %s", tc.want, r)
			}
			var pids []int
			waitFor(10*time.Second, func() bool { pids = pidsInPidNS(t, st.Pid); return len(pids) == 1 })
			if len(pids) != 1 || pids[0] != st.Pid {
				t.Errorf("processes in the container after the failed exec: %v, want only init %d", pids, st.Pid)
			}
			if st2, r2, ok := h.state(h.id); !ok || st2.Status != "running" || st2.Pid != st.Pid {
				t.Errorf("container after the failed exec: %+v (%s), want running with init %d", st2, r2, st.Pid)
			}
		})
	}
}

// TestExecStopped execs into a container whose init has exited, and into one
// that does not exist.
func TestExecStopped(t *testing.T) {
	t.Parallel()
	t.Run("stopped", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		mustExit(t, h.create(baseSpec("true")), 0)
		mustExit(t, h.do("start", h.id), 0)
		h.waitStatus(h.id, "stopped", 10*time.Second)
		r := h.do("exec", h.id, "sh", "-c", "echo ran")
		if r.exit == 0 || !strings.Contains(r.stderr, "cannot exec in a stopped container") {
			t.Errorf("exec into a stopped container: %s; want a failure saying \"cannot exec in a stopped container\"", r)
		}
		if strings.Contains(r.stdout, "ran") {
			t.Errorf("the command ran in a stopped container: %q", r.stdout)
		}
		if st := h.mustState(h.id); st.Status != "stopped" {
			t.Errorf("state after the failed exec: %+v, want stopped", st)
		}
	})
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		r := h.do("exec", h.id, "true")
		if r.exit == 0 || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("exec into a missing container: %s; want a failure saying \"does not exist\"", r)
		}
	})
	t.Run("paused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.needCgroupDir() // no cgroup, no pause
		h.startContainer(baseSpec("sleep", "1001"))
		mustExit(t, h.do("pause", h.id), 0)
		defer h.do("resume", h.id)
		r := h.do("exec", h.id, "true")
		if r.exit == 0 || !strings.Contains(r.stderr, "paused") || !strings.Contains(r.stderr, "--ignore-paused") {
			t.Errorf("exec into a paused container: %s; want a failure naming --ignore-paused", r)
		}
		// Refused at once, never a hang in the frozen cgroup (the harness's
		// command timeout would report one as exit -1).
		r = h.do("exec", "--ignore-paused", h.id, "true")
		if r.exit == 0 || r.timedOut || !strings.Contains(r.stderr, "resume") {
			t.Errorf("exec --ignore-paused into a paused container: %s; want a prompt refusal saying to resume", r)
		}
		mustExit(t, h.do("resume", h.id), 0)
		mustExit(t, h.do("exec", h.id, "true"), 0)
	})
}

// TestExecCgroupFailClosed: when the container's cgroup cannot be loaded, exec fails
// instead of starting the process outside the cgroup (outside its limits, its device
// filter and `kill --all`). The cgroup is made unloadable by pointing the state at a
// missing one, and put back for the cleanup.
func TestExecCgroupFailClosed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.needCgroupDir()
	h.startContainer(baseSpec("sleep", "1001"))
	path := filepath.Join(h.root, h.id, "state.json")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(orig, &st); err != nil {
		t.Fatal(err)
	}
	cg, _ := st["cgroup_path"].(string)
	if cg == "" {
		t.Fatalf("state.json has no cgroup_path: %s", orig)
	}
	st["cgroup_path"] = cg + "-missing"
	bad, _ := json.Marshal(st)
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.do("exec", h.id, "true")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if r.exit == 0 || !strings.Contains(r.stderr, "cgroup") {
		t.Errorf("exec with the container's cgroup unloadable: %s; want a failure naming the cgroup", r)
	}
}
