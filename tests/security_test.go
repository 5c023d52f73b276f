//go:build linux

package tests

// Attacks on the runtime from inside a real container, one test per class of
// published runc escape. Each attack is run by a process in the container (or,
// for configuration attacks, by the image and config.json a tenant controls)
// and each test checks both that the attack did not get through and that it
// really was attempted, so that removing the defence makes the test fail.
//
// Nothing here touches host state the tests did not create: the runtime binary
// attacked is a private copy of hull, the files and directories an escape
// would hit are temporary ones, and host sysctls are only read (a sysctl the
// container sets is restored if a broken runtime wrote it to the host).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// secHull runs the runtime binary bin (not necessarily hullBinary) with the
// harness's --root; it returns an error when bin cannot be started (an argument
// with a NUL byte, say).
func secHull(h *harness, bin string, o cmdOpts, args ...string) (result, error) {
	h.t.Helper()
	return h.runBinary(bin, o, args...)
}

// secDo is secHull that fails the test if bin cannot be started at all.
func secDo(h *harness, bin string, args ...string) result {
	h.t.Helper()
	r, err := secHull(h, bin, cmdOpts{}, args...)
	if err != nil {
		h.t.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	return r
}

func secSHA256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// secCopyHull copies the runtime under test into a fresh directory of its own
// and returns the copy's path and hash. Attacks on the runtime binary run this
// copy, so a successful one damages nothing but the copy.
func secCopyHull(t *testing.T) (path, sum string) {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(hullBinary)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "hull")
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return path, secSHA256File(t, path)
}

// secWait polls until cond holds or fails the test after timeout.
func secWait(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !waitFor(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// secResults parses the attack scripts' "name=value" lines; later lines win.
func secResults(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" && !strings.ContainsAny(k, " \t") {
			m[k] = v
		}
	}
	return m
}

// secShellLib is sourced by the attack scripts: try runs a command and prints
// "name=SUCCEEDED" or "name=failed: <error>" on one line.
const secShellLib = `
say() { echo "$1=$2"; }
try() {
	name=$1; shift
	if out=$( { eval "$*"; } 2>&1 ); then say "$name" "SUCCEEDED"
	else say "$name" "failed: $(echo $out | tr '\n' ' ')"; fi
}
`

// secWriteAttempts are the ways of opening a path for writing that the
// CVE-2019-5736 exploits used; %s is the path.
var secWriteAttempts = []struct{ name, cmd string }{
	{"append", `echo hacked >> %s`},                      // O_WRONLY|O_APPEND|O_CREAT
	{"dd", `printf hacked | dd of=%s conv=notrunc 2>&1`}, // O_WRONLY at offset 0
	{"rdwr", `exec 4<>%s && echo hacked >&4`},            // O_RDWR
	{"trunc", `: > %s`},                                  // O_WRONLY|O_TRUNC
}

func secWriteScript(prefix, path string) string {
	var b strings.Builder
	for _, a := range secWriteAttempts {
		fmt.Fprintf(&b, "try %s%s %q\n", prefix, a.name, fmt.Sprintf(a.cmd, path))
	}
	return b.String()
}

// secReopenScript writes through /proc/self/fd/3 (a read-only handle the
// script grabbed on a hull executable while hull ran) once no hull process
// runs any more, retrying while the kernel reports the file busy (ETXTBSY):
// the CVE-2019-5736 exploit's second stage.
const secReopenScript = `
i=0
while :; do
	ok=0
	for how in "echo hacked >> /proc/self/fd/3" "printf hacked | dd of=/proc/self/fd/3 conv=notrunc 2>&1" "exec 4<>/proc/self/fd/3 && echo hacked >&4"; do
		if out=$( { eval "$how"; } 2>&1 ); then ok=1; break; fi
	done
	if [ $ok = 1 ]; then say reopen "SUCCEEDED ($how)"; break; fi
	i=$((i+1))
	if [ $i -ge 40 ]; then say reopen "failed: $(echo $out | tr '\n' ' ')"; break; fi
	sleep 0.1
done
`

// secCheckExeAttack checks the results of an attack on a hull executable: every
// write failed, the copy is unchanged, and (with CAP_SYS_PTRACE) the attacker
// did hold the hull executable, so the writes were refused by the sealing
// rather than by the dumpable check.
func secCheckExeAttack(t *testing.T, res map[string]string, out string, ptrace bool, copyPath, sum, root string) {
	t.Helper()
	// Init runs the init stage hull wrote out under root (stage_test.go): that
	// file, not hull's binary, is what the container sees as /proc/1/exe.
	stage := stageFile(t, root)
	if stage == "" {
		t.Fatalf("no init stage under %s", root)
	}
	stageSum := secStageSum(t)
	for k, v := range res {
		if strings.HasPrefix(v, "SUCCEEDED") && (k != "grab") {
			t.Errorf("ATTACK SUCCEEDED: %s: %s", k, v)
		}
	}
	for _, a := range secWriteAttempts {
		if _, ok := res["direct-"+a.name]; !ok {
			t.Errorf("attack step direct-%s did not report; output:\n%s", a.name, out)
		}
	}
	if ptrace {
		cap, err := strconv.ParseUint(strings.TrimPrefix(res["capeff"], "CapEff:"), 16, 64)
		if err != nil || cap&(1<<unix.CAP_SYS_PTRACE) == 0 {
			t.Errorf("the attacker lacks CAP_SYS_PTRACE (%q): the test does not get past the dumpable check", res["capeff"])
		}
		if res["grab"] != "SUCCEEDED" {
			t.Errorf("with CAP_SYS_PTRACE the attacker could not open the hull process's exe for reading (%q); the attack did not reach the sealed file", res["grab"])
		} else if res["grabsum"] != stageSum && res["grabsum"] != sum {
			t.Errorf("the handle the attacker grabbed is neither hull's init stage nor its binary: sha256 %q, want %s or %s", res["grabsum"], stageSum, sum)
		}
		if _, ok := res["reopen"]; !ok {
			t.Errorf("the reopen stage did not report; output:\n%s", out)
		}
	} else if res["grab"] == "SUCCEEDED" {
		t.Errorf("DEFENCE MISSING: without CAP_SYS_PTRACE the attacker opened %q's /proc/<pid>/exe: the hull process is not "+
			"non-dumpable (PR_SET_DUMPABLE 0), which leaves only the sealed executable between the container and the binary", res["victimcmd"])
	}
	if got := secSHA256File(t, copyPath); got != sum {
		t.Errorf("ATTACK SUCCEEDED: the runtime binary %s changed (sha256 %s, was %s)", copyPath, got, sum)
	}
	if got := secSHA256File(t, stage); got != stageSum {
		t.Errorf("ATTACK SUCCEEDED: the init stage %s changed (sha256 %s, was %s)", stage, got, stageSum)
	}
}

// secStageSum is the SHA-256 of the init stage in hull's binary.
func secStageSum(t *testing.T) string {
	t.Helper()
	ef, err := elf.Open(hullBinary)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	sec := ef.Section(".hull_stage")
	if sec == nil {
		t.Fatalf("%s has no init stage (.hull_stage)", hullBinary)
	}
	data, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// secExeGrabScript grabs a read-only handle (fd 3) on the executable of the
// process whose pid is in $victim and reports its hash.
const secExeGrabScript = `
if (exec 3</proc/$victim/exe) 2>/dev/null; then
	exec 3</proc/$victim/exe
	say grab SUCCEEDED
	say grabsum "$(sha256sum /proc/self/fd/3 | cut -d' ' -f1)"
else
	say grab "failed: $( (exec 3</proc/$victim/exe) 2>&1 | tr '\n' ' ')"
fi
`

// secWaitGo waits (bounded) for the host to create /tmp/go in the rootfs.
const secWaitGo = `
n=0
while [ ! -e /tmp/go ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done
`

func secAttackScript(victimSetup string) string {
	return secShellLib + `
say capeff "$(grep CapEff /proc/self/status | tr -d ' \t')"
` + victimSetup + `
say victimcmd "$(tr '\0' ' ' < /proc/$victim/cmdline)"
` + secWriteScript("direct-", "/proc/$victim/exe") + secExeGrabScript + `
if [ -e /proc/self/fd/3 ]; then
` + secWriteScript("early-", "/proc/self/fd/3") + `fi
echo STAGE1
` + secWaitGo + `
if [ -e /proc/self/fd/3 ]; then
` + secReopenScript + `fi
echo DONE
`
}

func secCapArgs(ptrace bool) []string {
	if ptrace {
		return []string{"--cap", "CAP_SYS_PTRACE"}
	}
	return nil
}

func secPtraceName(ptrace bool) string {
	if ptrace {
		return "cap-sys-ptrace"
	}
	return "no-ptrace"
}

// TestSecurityExeOverwriteInit is CVE-2019-5736 against a created container:
// its PID 1 is still hull (blocked on the exec fifo). A process exec'd into it
// tries to open /proc/1/exe for writing in every way, grabs a read-only handle
// on it, and after `start` (init has exec'd, no hull process runs any more)
// writes through /proc/self/fd/3. The runtime is a private copy of hull, which
// must be byte-identical afterwards. With CAP_SYS_PTRACE the non-dumpable
// check on init does not apply, so only the sealed executable stops the attack.
func TestSecurityExeOverwriteInit(t *testing.T) {
	t.Parallel()
	for _, ptrace := range []bool{false, true} {
		t.Run(secPtraceName(ptrace), func(t *testing.T) {
			t.Parallel()
			bin, sum := secCopyHull(t)
			h := newHarness(t)
			s := baseSpec("sleep", "1001")
			s.Root.Readonly = false // the host signals the attacker through /tmp/go
			h.writeSpec(s)
			mustExit(t, secDo(h, bin, "create", "--bundle", h.bundle, h.id), 0)
			if cmd := readFile(fmt.Sprintf("/proc/%d/cmdline", h.mustState(h.id).Pid)); !strings.HasSuffix(cmd, "\x00init\x00") {
				t.Fatalf("the created container's init runs %q, want hull init", cmd)
			}
			script := secAttackScript(`victim=1`)
			args := append([]string{"exec", "--detach"}, secCapArgs(ptrace)...)
			args = append(args, h.id, "sh", "-c", script)
			r := secDo(h, bin, args...)
			mustExit(t, r, 0)
			waitOutput(t, r.stdoutPath, "STAGE1", 20*time.Second)
			mustExit(t, secDo(h, bin, "start", h.id), 0)
			h.waitStatus(h.id, "running", 10*time.Second)
			if err := os.WriteFile(filepath.Join(h.rootfs, "tmp", "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			out := waitOutput(t, r.stdoutPath, "DONE", 20*time.Second)
			t.Logf("attacker output:\n%s", out)
			res := secResults(out)
			if f := strings.Fields(res["victimcmd"]); len(f) != 2 || f[1] != "init" {
				t.Errorf("the victim was not hull's init but %q", res["victimcmd"])
			}
			secCheckExeAttack(t, res, out, ptrace, bin, sum, h.root)
		})
	}
}

// secStopHullChild starts `bin --root R exec id true` and SIGSTOPs the helper
// it runs (a child of hull exec whose command line is "hull init") before it
// forks the command. It returns the stopped helper's host pid and
// the running hull exec command, or 0 if the helper got away.
func secStopHullChild(t *testing.T, h *harness, bin string) (int, *exec.Cmd, chan error) {
	t.Helper()
	cmd := exec.Command(bin, "--root", h.root, "exec", h.id, "true")
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	parent := cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err
			return 0, cmd, done
		default:
		}
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", parent))
		for _, task := range tasks {
			children := readFile(fmt.Sprintf("/proc/%d/task/%s/children", parent, task.Name()))
			for _, c := range strings.Fields(children) {
				pid, err := strconv.Atoi(c)
				if err != nil || readFile(fmt.Sprintf("/proc/%d/cmdline", pid)) != "hull\x00init\x00" {
					continue
				}
				if unix.Kill(pid, unix.SIGSTOP) != nil {
					continue
				}
				// Stopped: make sure it is still hull, not the exec'd program.
				secWait(t, "the helper to stop", 5*time.Second, func() bool {
					st := readFile(fmt.Sprintf("/proc/%d/stat", pid))
					i := strings.LastIndexByte(st, ')')
					return i < 0 || i+2 >= len(st) || st[i+2] == 'T' || st[i+2] == 't' || st[i+2] == 'Z'
				})
				if readFile(fmt.Sprintf("/proc/%d/cmdline", pid)) == "hull\x00init\x00" {
					return pid, cmd, done
				}
				_ = unix.Kill(pid, unix.SIGCONT)
			}
		}
	}
	return 0, cmd, done
}

// TestSecurityExeOverwriteExec is CVE-2019-5736 against `hull exec`: the
// helper that hull exec runs is hull until it forks the command. It must work
// outside the container's pid namespace, so that no process of the container
// can find it, ptrace it or open its /proc/<pid>/exe, even with
// CAP_SYS_PTRACE. The test stops the helper with SIGSTOP from the host in the
// middle of its set-up (as a patient attacker retrying in a loop would
// eventually catch it), then lets an attacker in the container list every
// process it can see.
func TestSecurityExeOverwriteExec(t *testing.T) {
	t.Parallel()
	for _, ptrace := range []bool{false, true} {
		t.Run(secPtraceName(ptrace), func(t *testing.T) {
			t.Parallel()
			bin, sum := secCopyHull(t)
			h := newHarness(t)
			s := baseSpec("sleep", "1001")
			s.Root.Readonly = false
			h.writeSpec(s)
			mustExit(t, secDo(h, bin, "create", "--bundle", h.bundle, h.id), 0)
			mustExit(t, secDo(h, bin, "start", h.id), 0)
			h.waitStatus(h.id, "running", 10*time.Second)

			// On /tmp/go: every process the attacker sees, with its command line
			// and whether its exe opens at all.
			script := secShellLib + `
say capeff "$(grep CapEff /proc/self/status | tr -d ' \t')"
echo READY
` + secWaitGo + `
for p in /proc/[0-9]*; do
	c="$(tr '\0' ' ' < $p/cmdline 2>/dev/null)"
	if (exec 3<$p/exe) 2>/dev/null; then e=opens; else e=closed; fi
	echo "proc ${p#/proc/} [$c] exe=$e"
done
echo DONE
`
			args := append([]string{"exec", "--detach"}, secCapArgs(ptrace)...)
			args = append(args, h.id, "sh", "-c", script)
			r := secDo(h, bin, args...)
			mustExit(t, r, 0)
			waitOutput(t, r.stdoutPath, "READY", 20*time.Second)

			var (
				helper int
				cmd    *exec.Cmd
				done   chan error
			)
			for try := 0; try < 20 && helper == 0; try++ {
				helper, cmd, done = secStopHullChild(t, h, bin)
				if helper == 0 {
					<-done
				}
			}
			if helper == 0 {
				t.Fatal("could not catch hull exec's helper in 20 tries")
			}
			t.Cleanup(func() {
				_ = unix.Kill(helper, unix.SIGCONT)
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					_ = cmd.Process.Kill()
				}
			})
			initNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", h.mustState(h.id).Pid))
			if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", helper)); ns == initNS {
				t.Errorf("ATTACK SURFACE: hull exec's helper (pid %d) is in the container's pid namespace %s", helper, ns)
			}
			if err := os.WriteFile(filepath.Join(h.rootfs, "tmp", "go"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			out := waitOutput(t, r.stdoutPath, "DONE", 20*time.Second)
			t.Logf("attacker output:\n%s", out)
			procs := 0
			for _, line := range strings.Split(out, "\n") {
				if !strings.HasPrefix(line, "proc ") {
					continue
				}
				procs++
				if strings.Contains(line, "hull") {
					t.Errorf("ATTACK SURFACE: a hull process is visible in the container: %s", line)
				}
			}
			if procs < 2 {
				t.Errorf("the attacker saw %d processes (want at least init and itself): the scan is broken", procs)
			}
			res := secResults(out)
			if ptrace {
				cp, err := strconv.ParseUint(strings.TrimPrefix(res["capeff"], "CapEff:"), 16, 64)
				if err != nil || cp&(1<<unix.CAP_SYS_PTRACE) == 0 {
					t.Errorf("the attacker lacks CAP_SYS_PTRACE (%q)", res["capeff"])
				}
			}
			if err := unix.Kill(helper, unix.SIGCONT); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				done <- err
				if err != nil {
					t.Errorf("hull exec true: %v", err)
				}
			case <-time.After(cmdTimeout):
				t.Fatal("hull exec did not finish after its helper was resumed")
			}
			if got := secSHA256File(t, bin); got != sum {
				t.Errorf("the runtime binary %s changed", bin)
			}
		})
	}
}

// secFdArgs is the process that scans its own fds: ls itself, exec'd
// directly by the runtime (no shell, whose pipes and saved descriptors would
// muddle the picture), so what it lists is what the runtime left open plus
// ls's own descriptor on the directory, which it has closed again by the time
// it reads the links (so that one entry has no target).
var secFdArgs = []string{"ls", "-l", "/proc/self/fd"}

// secCheckFdAllowList fails unless ls's listing has exactly fds 0, 1 and 2
// with targets and one more, the lowest free one, without (ls's own).
func secCheckFdAllowList(t *testing.T, out string) {
	t.Helper()
	withTarget := map[string]string{}
	var own []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "l") {
			continue
		}
		if before, target, ok := strings.Cut(line, " -> "); ok {
			f := strings.Fields(before)
			withTarget[f[len(f)-1]] = target
		} else {
			f := strings.Fields(line)
			own = append(own, f[len(f)-1])
		}
	}
	for fd, target := range withTarget {
		if fd != "0" && fd != "1" && fd != "2" {
			t.Errorf("ATTACK SUCCEEDED: fd %s -> %s leaked into the container's process", fd, target)
		}
	}
	for _, fd := range []string{"0", "1", "2"} {
		if _, ok := withTarget[fd]; !ok {
			t.Errorf("fd %s missing from the listing %q: the scan is broken", fd, out)
		}
	}
	if len(own) != 1 || own[0] != "3" {
		t.Errorf("want exactly ls's own directory fd 3 without a target, got %q in %q", own, out)
	}
}

// TestSecurityLeakedFds is the first half of CVE-2024-21626: no descriptor of
// the runtime (state dir, cgroup, procfs handle, sync socket, executable, ...)
// may reach a process started in the container, by init or by exec.
func TestSecurityLeakedFds(t *testing.T) {
	t.Parallel()
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		r := h.run(baseSpec(secFdArgs...))
		mustExit(t, r, 0)
		secCheckFdAllowList(t, r.stdout)
	})
	t.Run("create-start", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		cr := h.create(baseSpec(secFdArgs...))
		mustExit(t, cr, 0)
		mustExit(t, h.do("start", h.id), 0)
		h.waitStatus(h.id, "stopped", 10*time.Second)
		secCheckFdAllowList(t, cr.readStdout())
	})
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.startContainer(baseSpec("sleep", "1001"))
		r := h.do(append([]string{"exec", h.id}, secFdArgs...)...)
		mustExit(t, r, 0)
		secCheckFdAllowList(t, r.stdout)
	})
	t.Run("exec-detach", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.startContainer(baseSpec("sleep", "1001"))
		pidFile := filepath.Join(h.outDir, "exec.pid")
		r := h.do(append([]string{"exec", "--detach", "--pid-file", pidFile, h.id}, secFdArgs...)...)
		mustExit(t, r, 0)
		pid := hulltest.ReadPid(t, pidFile)
		secWait(t, "the detached ls to exit", 10*time.Second, func() bool { return !pidAlive(pid) })
		secCheckFdAllowList(t, r.readStdout())
	})
	t.Run("exec-in-created", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		mustExit(t, h.create(baseSpec("sleep", "1001")), 0)
		r := h.do(append([]string{"exec", h.id}, secFdArgs...)...)
		mustExit(t, r, 0)
		secCheckFdAllowList(t, r.stdout)
	})
}

// secCwdScript reports where the process's cwd is: the path getcwd gives,
// the cwd's device:inode and that of the path it claims, and the listings of
// "." and "..".
const secCwdScript = `cwd=$(pwd -P 2>&1)
echo "cwd=$cwd"
echo "here=$(stat -c %d:%i . 2>&1)"
echo "there=$(stat -c %d:%i "$cwd" 2>&1)"
echo "ls=$(ls -a . 2>&1 | tr '\n' ' ')"
echo "lsup=$(ls -a .. 2>&1 | tr '\n' ' ')"
echo CWD-DONE`

// secHostOnlyNames are entries of the host's / that the container's rootfs
// does not have, plus the runtime's own state and bundle files: seeing any of
// them from the container means its cwd is on the host.
func secHostOnlyNames(t *testing.T, h *harness) []string {
	t.Helper()
	in := map[string]bool{}
	entries, err := os.ReadDir(h.rootfs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		in[e.Name()] = true
	}
	names := []string{"config.json", "state.json", "exec.fifo"}
	host, err := os.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range host {
		if !in[e.Name()] {
			names = append(names, e.Name())
		}
	}
	return names
}

// secCheckCwdInside checks the output of secCwdScript: the cwd is a path in the
// container's root that names the cwd itself, and nothing of the host shows.
// It returns the parsed results.
func secCheckCwdInside(t *testing.T, what, out string, hostOnly []string) map[string]string {
	t.Helper()
	res := secResults(out)
	if !strings.Contains(out, "CWD-DONE") {
		t.Errorf("%s: the cwd probe did not finish: %q", what, out)
		return res
	}
	if cwd := res["cwd"]; !strings.HasPrefix(cwd, "/") || strings.Contains(cwd, "unreachable") {
		t.Errorf("ATTACK SUCCEEDED: %s: the container's cwd is outside its root: getcwd %q", what, cwd)
	}
	if res["here"] == "" || res["here"] != res["there"] {
		t.Errorf("ATTACK SUCCEEDED: %s: the cwd (%s) is not what its path %q names in the container (%s)", what, res["here"], res["cwd"], res["there"])
	}
	for _, k := range []string{"ls", "lsup"} {
		for _, name := range strings.Fields(res[k]) {
			for _, host := range hostOnly {
				if name == host {
					t.Errorf("ATTACK SUCCEEDED: %s: listing %s from the cwd shows the host's %q: %s", what, k, host, res[k])
				}
			}
		}
	}
	return res
}

// TestSecurityCwdLeakedFd is the second half of CVE-2024-21626: process.cwd
// (and exec --cwd) set to /proc/self/fd/N, which during set-up names the
// runtime's own descriptors, some of them directories on the host (its
// procfs handle, for one). Each N in 3..12 must fail, or leave a cwd that is
// inside the container's root.
func TestSecurityCwdLeakedFd(t *testing.T) {
	t.Parallel()
	t.Run("init", func(t *testing.T) {
		t.Parallel()
		for n := 3; n <= 12; n++ {
			t.Run(strconv.Itoa(n), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				s := baseSpec(shell(secCwdScript)...)
				s.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", n)
				r := h.run(s)
				if r.exit != 0 {
					t.Logf("refused: %s", secErrLine(r.stderr))
					if !strings.Contains(r.stderr, "cwd") {
						t.Errorf("run failed without naming the cwd: %s", r)
					}
					return
				}
				secCheckCwdInside(t, s.Process.Cwd, r.stdout, secHostOnlyNames(t, h))
			})
		}
	})
	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.startContainer(baseSpec("sleep", "1001"))
		hostOnly := secHostOnlyNames(t, h)
		for n := 3; n <= 12; n++ {
			cwd := fmt.Sprintf("/proc/self/fd/%d", n)
			r := h.do("exec", "--cwd", cwd, h.id, "sh", "-c", secCwdScript)
			if r.exit != 0 {
				t.Logf("exec --cwd %s refused: %s", cwd, secErrLine(r.stderr))
				if !strings.Contains(r.stderr, "cwd") {
					t.Errorf("exec --cwd %s failed without naming the cwd: %s", cwd, r)
				}
				continue
			}
			secCheckCwdInside(t, "exec --cwd "+cwd, r.stdout, hostOnly)
		}
		// The probe itself works: a plain cwd passes it.
		r := h.do("exec", "--cwd", "/tmp", h.id, "sh", "-c", secCwdScript)
		mustExit(t, r, 0)
		if res := secCheckCwdInside(t, "exec --cwd /tmp", r.stdout, hostOnly); res["cwd"] != "/tmp" {
			t.Errorf("probe with cwd /tmp reports %q", res["cwd"])
		}
	})
}

// TestSecurityCwdSymlink sets process.cwd to symlinks in the image that point
// out of the rootfs: to "/", up a ".." chain, and to an absolute host path
// that exists on the host. Each resolves inside the container's root (or
// fails); the host directory is never the cwd.
func TestSecurityCwdSymlink(t *testing.T) {
	t.Parallel()
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "host-marker"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, target string
		wantRoot     bool // the cwd must be the container's root
	}{
		{"slash", "/", true},
		{"dotdot", strings.Repeat("../", 20), true},
		{"dotdot-host", strings.Repeat("../", 20) + strings.TrimPrefix(hostDir, "/"), false},
		{"abs-host", hostDir, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if err := os.WriteFile(filepath.Join(h.rootfs, "rootfs-marker"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tc.target, filepath.Join(h.rootfs, "evil")); err != nil {
				t.Fatal(err)
			}
			s := baseSpec(shell(secCwdScript)...)
			s.Process.Cwd = "/evil"
			r := h.run(s)
			if r.exit != 0 {
				if tc.wantRoot {
					t.Fatalf("cwd /evil -> %s should resolve to the container's root: %s", tc.target, r)
				}
				t.Logf("refused: %s", secErrLine(r.stderr))
				return
			}
			res := secCheckCwdInside(t, "cwd /evil -> "+tc.target, r.stdout, append(secHostOnlyNames(t, h), "host-marker"))
			if tc.wantRoot && !strings.Contains(" "+res["ls"]+" ", " rootfs-marker ") {
				t.Errorf("cwd /evil -> %s: want the container's root, listing is %q", tc.target, res["ls"])
			}
		})
	}
}

// secErrLine is the error hull printed (its last "level=error" line, or the
// last line of stderr), for logs.
func secErrLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "level=error") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}

// secHostVictimDir makes a host directory an escape would hit, with a marker
// file, and registers the check that it is unchanged and has no mount on or
// under it in the host's mount namespace.
func secHostVictimDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "host-marker"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := hulltest.Tree(t, dir)
	t.Cleanup(func() {
		if m := mountsUnder(dir); len(m) > 0 {
			t.Errorf("ATTACK SUCCEEDED: host mounts on the victim directory: %v", m)
			for i := len(m) - 1; i >= 0; i-- {
				_ = unix.Unmount(m[i], unix.MNT_DETACH)
			}
		}
		if after := hulltest.Tree(t, dir); after != before {
			t.Errorf("ATTACK SUCCEEDED: host directory %s changed:\nbefore:\n%s\nafter:\n%s", dir, before, after)
		}
	})
	return dir
}

// secSpyHook is a createContainer hook: it runs in the container's mount
// namespace after every mount of the config is made and before pivot_root,
// where the host's filesystem is still visible, and saves that namespace's
// mountinfo and a listing of dir to out.
func secSpyHook(out, dir string) specs.Hook {
	return specs.Hook{
		Path: "/bin/sh",
		Args: []string{"sh", "-c", `{ cat /proc/self/mountinfo; echo @@; ls -a "$2"; } > "$1" 2>&1`, "sh", out, dir},
	}
}

// secCheckSpy fails if the container's mount namespace had a mount on or under
// the host directory dir, or the directory's listing there was not just the
// marker. It returns the container namespace's mount entries.
func secCheckSpy(t *testing.T, what, out, dir string) []mountEntry {
	t.Helper()
	data := readFile(out)
	mi, ls, ok := strings.Cut(data, "@@\n")
	if !ok {
		t.Errorf("%s: the spy hook did not run: %q", what, data)
		return nil
	}
	entries := parseMountinfo(mi)
	for _, m := range entries {
		if inDir(m.point, dir) {
			t.Errorf("ATTACK SUCCEEDED: %s: the runtime mounted %s (%s) on the host path %s", what, m.fstype, m.source, m.point)
		}
	}
	if got := strings.Join(strings.Fields(ls), " "); got != ". .. host-marker" {
		t.Errorf("ATTACK SUCCEEDED: %s: the host directory as the runtime saw it holds %q", what, got)
	}
	return entries
}

// TestSecurityMountSymlinkDest points mount destinations out of the rootfs
// through symlinks in the image (to "/", up a ".." chain, to an absolute
// host path) and through a lexical ".." chain. Every mount must land inside
// the rootfs: a hook in the container's mount namespace checks that nothing
// was mounted on the host directory, the container checks the mount is in
// its own tree, and the host directory is unchanged.
func TestSecurityMountSymlinkDest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		links map[string]string // symlinks planted in the rootfs; %s is the host directory without its leading "/"
		dest  string
	}{
		{"abs-link", map[string]string{"evil": "/%s"}, "/evil"},
		{"slash-link", map[string]string{"evil": "/"}, "/evil/%s"},
		{"dotdot-link", map[string]string{"evil": strings.Repeat("../", 20) + "%s"}, "/evil"},
		{"dotdot-link-parent", map[string]string{"evil": strings.Repeat("../", 20)}, "/evil/%s"},
		{"chained-links", map[string]string{"evil": "sub/next", "sub/next": "../../../../../../../../.."}, "/evil/%s"},
		{"lexical-dotdot", nil, strings.Repeat("/..", 20) + "/%s"},
	}
	for _, tc := range tests {
		for _, kind := range []string{"tmpfs", "bind"} {
			t.Run(tc.name+"-"+kind, func(t *testing.T) {
				t.Parallel()
				host := secHostVictimDir(t)
				rel := strings.TrimPrefix(host, "/")
				h := newHarness(t)
				for name, target := range tc.links {
					if strings.Contains(target, "%s") {
						target = fmt.Sprintf(target, rel)
					}
					p := filepath.Join(h.rootfs, name)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink(target, p); err != nil {
						t.Fatal(err)
					}
				}
				dest := tc.dest
				if strings.Contains(dest, "%s") {
					dest = fmt.Sprintf(dest, rel)
				}
				s := baseSpec(shell(`cat /proc/self/mountinfo; echo @@; find / -name payload-marker 2>/dev/null`)...)
				m := specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=755"}}
				if kind == "bind" {
					payload := t.TempDir()
					if err := os.WriteFile(filepath.Join(payload, "payload-marker"), nil, 0o644); err != nil {
						t.Fatal(err)
					}
					m = specs.Mount{Destination: dest, Type: "bind", Source: payload, Options: []string{"rbind"}}
				}
				s.Mounts = append(s.Mounts, m)
				spy := filepath.Join(h.outDir, "spy")
				s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{secSpyHook(spy, host)}}
				r := h.run(s)
				if r.exit != 0 {
					t.Logf("refused: %s", secErrLine(r.stderr))
					if _, err := os.Stat(spy); err == nil {
						secCheckSpy(t, dest, spy, host)
					}
					return
				}
				secCheckSpy(t, dest, spy, host)
				// Inside, the mount is in the container's own tree: at the
				// host directory's path resolved inside the rootfs.
				found := false
				if kind == "tmpfs" {
					for _, e := range parseMountinfo(sections(r.stdout)[0]) {
						if e.fstype == "tmpfs" && strings.Contains(e.super, "size=1024k") {
							found = true
							t.Logf("landed inside the container at %s", e.point)
						}
					}
				} else {
					for _, line := range strings.Split(sections(r.stdout)[1], "\n") {
						if strings.HasSuffix(line, "/payload-marker") {
							found = true
							t.Logf("landed inside the container: %s", line)
						}
					}
				}
				if !found {
					t.Errorf("the %s mount for %s is not in the container's tree:\n%s", kind, dest, r.stdout)
				}
			})
		}
	}
}

// TestSecurityMountRace is the CVE-2021-30465 race: a first container, which
// has the second container's rootfs bind-mounted at /victim, keeps swapping
// /victim/race between a directory and a symlink to a host directory, while
// the second container is run over and over with a tmpfs mounted on /race.
// Whatever the swap's timing, the tmpfs must land inside the second rootfs
// (or the run fail): a hook in each run's mount namespace checks the host
// directory has no mount, and the host directory and the host's mount table
// are checked at the end.
func TestSecurityMountRace(t *testing.T) {
	t.Parallel()
	// At least 50 runs; more (up to 150) until one resolved /race through
	// the symlink, so the race is known to have been exercised.
	const runs, maxRuns = 50, 150
	host := secHostVictimDir(t)
	victim := newHarness(t)
	attacker := victim.sibling(t)
	if err := os.Mkdir(filepath.Join(victim.rootfs, "race"), 0o755); err != nil {
		t.Fatal(err)
	}

	swap := fmt.Sprintf(`cd /victim || exit 1
n=0
while [ ! -e /victim/stop-race ]; do
	mkdir -p race.d; ln -sfn %q race.l
	rm -rf race; mv race.l race
	rm -f race; mv race.d race
	n=$((n+1))
done
echo "swaps=$n"`, host)
	as := baseSpec("sh", "-c", swap)
	as.Mounts = append(as.Mounts, specs.Mount{Destination: "/victim", Type: "bind", Source: victim.rootfs, Options: []string{"rbind", "rw"}})
	cr := attacker.create(as)
	mustExit(t, cr, 0)
	mustExit(t, attacker.do("start", attacker.id), 0)
	stop := filepath.Join(victim.rootfs, "stop-race")
	t.Cleanup(func() { os.Remove(stop) })

	spy := filepath.Join(victim.outDir, "spy")
	vs := baseSpec("true")
	vs.Mounts = append(vs.Mounts, specs.Mount{Destination: "/race", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}})
	vs.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{secSpyHook(spy, host)}}
	victim.writeSpec(vs)
	inRoot := filepath.Join(victim.rootfs, strings.TrimPrefix(host, "/"))
	var ok, failed, viaLink, viaDir int
	var elsewhere []string // swapped away after the mount: still inside the rootfs
	// The bound only stops a runaway loop: on a loaded machine 50 runs (with
	// the attacker's loop busy on a CPU) can take well over a minute.
	deadline := time.Now().Add(4 * time.Minute)
	for i := 0; (i < runs || viaLink == 0 && i < maxRuns) && time.Now().Before(deadline); i++ {
		os.Remove(spy)
		r := victim.do("run", "--bundle", victim.bundle, victim.id)
		if _, err := os.Stat(spy); err == nil {
			for _, m := range secCheckSpy(t, fmt.Sprintf("run %d", i), spy, host) {
				if m.fstype != "tmpfs" || !strings.Contains(m.super, "size=1024k") {
					continue
				}
				switch {
				case m.point == inRoot:
					viaLink++
				case m.point == filepath.Join(victim.rootfs, "race"):
					viaDir++
				default:
					elsewhere = append(elsewhere, m.point)
				}
			}
		}
		if r.exit == 0 {
			ok++
		} else {
			failed++
			t.Logf("run %d failed: %s", i, secErrLine(r.stderr))
			// A failed run must not leave the container behind.
			victim.do("delete", "--force", victim.id)
		}
		if t.Failed() {
			break
		}
	}
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := waitOutput(t, cr.stdoutPath, "swaps=", 20*time.Second)
	t.Logf("%d runs succeeded, %d failed; tmpfs landed through the symlink (inside the rootfs) %d times, on the directory %d times, elsewhere %q; attacker: %s",
		ok, failed, viaLink, viaDir, elsewhere, strings.TrimSpace(out))
	for _, p := range elsewhere {
		if !inDir(strings.TrimSuffix(p, "//deleted"), victim.rootfs) {
			t.Errorf("ATTACK SUCCEEDED: a tmpfs for /race was mounted outside the rootfs, at %s", p)
		}
	}
	if ok+failed < runs {
		t.Errorf("only %d of %d runs in the time allowed", ok+failed, runs)
	}
	if viaLink == 0 {
		t.Errorf("no run resolved /race through the attacker's symlink: the race was not exercised")
	}
}

// secNoDevTmpfs removes the tmpfs on /dev from s, so the image's own /dev
// (and whatever it planted there) is used.
func secNoDevTmpfs(s *specs.Spec) {
	var keep []specs.Mount
	for _, m := range s.Mounts {
		if m.Destination != "/dev" {
			keep = append(keep, m)
		}
	}
	s.Mounts = keep
}

// secPlant replaces rootfs/name with a symlink to target.
func secPlant(t *testing.T, rootfs, name, target string) {
	t.Helper()
	p := filepath.Join(rootfs, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// secKeepHostFile registers a check that the host file path (a sysctl, say)
// reads the same at the end of the test as now.
func secKeepHostFile(t *testing.T, path string) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Errorf("ATTACK SUCCEEDED: host %s changed from %q to %q", path, before, after)
		}
	})
}

// TestSecurityMaskedDevNull is CVE-2025-31133: masked files are covered by a
// bind mount of /dev/null, and the image controls /dev (no tmpfs on it here).
// With /dev/null a symlink to /proc/sys/kernel/core_pattern, a runtime that
// follows it bind-mounts core_pattern, writable, over every masked file, and
// the container can then set the host's core pattern. Create must fail, or the
// masked file must not be core_pattern; the host's core_pattern is unchanged.
// Nothing here writes core_pattern: sameness is checked by device and inode.
func TestSecurityMaskedDevNull(t *testing.T) {
	t.Parallel()
	secKeepHostFile(t, "/proc/sys/kernel/core_pattern")
	secKeepHostFile(t, "/proc/sys/kernel/panic")
	for name, target := range map[string]string{
		"abs":      "/proc/sys/kernel/core_pattern",
		"relative": "../proc/sys/kernel/core_pattern",
		"panic":    "/proc/sys/kernel/panic",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			abs := filepath.Clean(filepath.Join("/dev", target)) // where target leads from /dev/null
			if filepath.IsAbs(target) {
				abs = target
			}
			if _, err := os.Stat(abs); err != nil {
				hulltest.HostLimit(t, "this kernel has no %s; runs on Debian's kernels", abs)
			}
			h := newHarness(t)
			secPlant(t, h.rootfs, "dev/null", target)
			s := baseSpec(shell(`for f in /proc/keys /proc/timer_list ` + abs + `; do
	echo "$f=$(stat -L -c '%d:%i:%F' $f 2>&1)"
done
echo "mounts=$(grep -c -e ' /proc/keys ' -e ' /proc/timer_list ' /proc/self/mountinfo)"`)...)
			secNoDevTmpfs(s)
			s.Linux.MaskedPaths = []string{"/proc/keys", "/proc/timer_list", "/proc/acpi"}
			r := h.run(s)
			if r.exit != 0 {
				t.Logf("/dev/null -> %s refused: %s", target, secErrLine(r.stderr))
				if !strings.Contains(r.stderr, "/dev/null") {
					t.Errorf("create failed, but not over /dev/null: %s", r)
				}
				return
			}
			res := secResults(r.stdout)
			want := res[abs]
			if want == "" || strings.Contains(want, "can't") {
				t.Fatalf("cannot stat %s inside: %q", abs, r.stdout)
			}
			for _, f := range []string{"/proc/keys", "/proc/timer_list"} {
				if res[f] == want {
					t.Errorf("ATTACK SUCCEEDED: masked %s is %s (%s)", f, abs, want)
				}
				if !strings.HasSuffix(res[f], "character special file") {
					t.Errorf("masked %s is not covered by the null device: %s", f, res[f])
				}
			}
		})
	}
}

// TestSecurityConsoleSymlink is CVE-2025-52565: with a terminal, the pty is
// bind-mounted on /dev/console, and the image controls /dev (no tmpfs on it
// here). /dev/console is planted as a symlink to a procfs file, to a file of
// the image, and to an absolute host path. The link must not be followed:
// its target gets no mount and keeps its content, and /dev/console itself is
// the pty.
func TestSecurityConsoleSymlink(t *testing.T) {
	t.Parallel()
	secKeepHostFile(t, "/proc/sys/kernel/core_pattern")
	hostDir := secHostVictimDir(t)
	hostFile := filepath.Join(hostDir, "host-marker")
	tests := []struct {
		name, target string
		inImage      string // the file the link leads to, as the container sees it
	}{
		{"procfs", "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/core_pattern"},
		{"procfs-relative", "../proc/sys/kernel/core_pattern", "/proc/sys/kernel/core_pattern"},
		{"image-file", "/victim", "/victim"},
		{"host-file", hostFile, hostFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			secPlant(t, h.rootfs, "dev/console", tc.target)
			if err := os.WriteFile(filepath.Join(h.rootfs, "victim"), []byte("victim"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.name == "host-file" {
				// The same path inside the image, so the link is not dangling.
				p := filepath.Join(h.rootfs, hostFile)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("victim"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			sock, got := consoleListener(t)
			s := baseSpec(shell(fmt.Sprintf(`{
echo "tty=$(tty)"
echo "console=$(stat -c '%%F %%t:%%T' /dev/console)"
echo "consolemount=$(grep -c ' /dev/console ' /proc/self/mountinfo)"
echo "targetmount=$(grep -c ' %[1]s ' /proc/self/mountinfo)"
if [ -c %[1]s ]; then echo "target=$(stat -c %%F %[1]s)"  # a terminal now: do not read it
else echo "target=$(stat -c %%F %[1]s) $(cat %[1]s | tr -d '\n' | head -c 40)"; fi
echo END
} > /tmp/result 2>&1`, tc.inImage))...)
			s.Root.Readonly = false
			s.Process.Terminal = true
			secNoDevTmpfs(s)
			cr := h.create(s, "--console-socket", sock)
			if cr.exit != 0 {
				t.Logf("refused: %s", secErrLine(cr.stderr))
				return
			}
			rc := <-got
			if rc.err != nil {
				t.Fatalf("receiving the console: %v", rc.err)
			}
			defer rc.f.Close()
			mustExit(t, h.do("start", h.id), 0)
			h.waitStatus(h.id, "stopped", 10*time.Second)
			out := readFile(filepath.Join(h.rootfs, "tmp", "result"))
			t.Logf("inside:\n%s", out)
			res := secResults(out)
			if !strings.Contains(out, "END") {
				t.Fatalf("the probe did not finish: %q", out)
			}
			if res["targetmount"] != "0" {
				t.Errorf("ATTACK SUCCEEDED: the console was mounted on the symlink's target %s", tc.inImage)
			}
			if strings.HasPrefix(res["target"], "character") {
				t.Errorf("ATTACK SUCCEEDED: the symlink's target %s is now a terminal: %s", tc.inImage, res["target"])
			}
			if tc.name != "procfs" && tc.name != "procfs-relative" && res["target"] != "regular file victim" {
				t.Errorf("the symlink's target %s changed: %q", tc.inImage, res["target"])
			}
			if !strings.HasPrefix(res["tty"], "/dev/pts/") || !strings.HasPrefix(res["console"], "character special file 88:") || res["consolemount"] != "1" {
				t.Errorf("/dev/console is not the container's pty (tty %q, console %q, mounts %q)", res["tty"], res["console"], res["consolemount"])
			}
		})
	}
}

// secFakeProc builds, under dir, the files a runtime writing sysctls and
// oom_score_adj through a path would hit, and returns their initial listing.
func secFakeProc(t *testing.T, dir string) string {
	t.Helper()
	for _, f := range []string{"sys/net/core/somaxconn", "sys/kernel/domainname", "self/oom_score_adj", "1/oom_score_adj", "thread-self/oom_score_adj"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("fake\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hulltest.Tree(t, dir)
}

// secNetnsRead reads a /proc/sys file as a process in pid's network
// namespace sees it (nsenter from util-linux, run from the host).
func secNetnsRead(t *testing.T, pid int, path string) string {
	t.Helper()
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-n", "-u", "cat", path).CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter -t %d cat %s: %v: %s", pid, path, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestSecurityProcRedirect is the CVE-2025-52881 class: the runtime's writes
// to procfs (linux.sysctl, oomScoreAdj) redirected by the container: its
// /proc is a symlink into the image (to a directory of fake procfs files),
// or config.json mounts over /proc/sys or /proc/self after the proc mount.
// hull must refuse, or write the real, namespaced files: the container's
// net.core.somaxconn and domainname, init's oom_score_adj. The fake files
// stay as they are and the host's sysctls are unchanged.
func TestSecurityProcRedirect(t *testing.T) {
	t.Parallel()
	hulltest.RequireTool(t, "nsenter", "util-linux") // reads the container's sysctls from the host
	const somaxconn, domain, oom = "1234", "hull-sec-test", 123
	hostSomaxconn := "/proc/sys/net/core/somaxconn"
	before := readFile(hostSomaxconn)
	// Restore the host's value if a broken runtime wrote it there.
	t.Cleanup(func() {
		if after := readFile(hostSomaxconn); after != before {
			t.Errorf("ATTACK SUCCEEDED: host %s changed from %q to %q; restoring it", hostSomaxconn, before, after)
			_ = os.WriteFile(hostSomaxconn, []byte(before), 0o644)
		}
	})
	secKeepHostFile(t, "/proc/sys/kernel/domainname")
	secKeepHostFile(t, "/proc/self/oom_score_adj")

	noProc := func(s *specs.Spec) {
		var keep []specs.Mount
		for _, m := range s.Mounts {
			if m.Type != "proc" {
				keep = append(keep, m)
			}
		}
		s.Mounts = keep
	}
	tests := []struct {
		name      string
		link      string // rootfs/proc becomes a symlink to this
		noProc    bool   // drop the proc mount from the config
		mountOver string // bind a host fake procfs tree over this path after the proc mount
		sub       string // the fake tree's subdirectory that is bound there
	}{
		{name: "proc-symlink-to-dir", link: "/fakeproc"},
		{name: "proc-symlink-to-tmp", link: "/tmp"},
		{name: "proc-symlink-dotdot", link: "../../../../fakeproc"},
		{name: "proc-symlink-no-proc-mount", link: "/fakeproc", noProc: true},
		{name: "bind-over-proc-sys", mountOver: "/proc/sys", sub: "sys"},
		{name: "bind-over-proc-self", mountOver: "/proc/self", sub: "self"},
		{name: "bind-over-proc-1", mountOver: "/proc/1", sub: "1"},
		{name: "bind-over-proc", mountOver: "/proc", sub: ""},
		{name: "tmpfs-over-proc-sys", mountOver: "/proc/sys", sub: "-"},
		{name: "bind-over-proc-sys-via-symlink", mountOver: "/procalias/sys", sub: "sys"},
		{name: "bind-over-proc-self-via-symlink", mountOver: "/procalias/self", sub: "self"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			fake := filepath.Join(h.rootfs, "fakeproc")
			if tc.mountOver != "" {
				fake = t.TempDir() // a host directory
			}
			fakeBefore := secFakeProc(t, fake)
			tmpBefore := hulltest.Tree(t, filepath.Join(h.rootfs, "tmp"))
			// An image symlink to /proc, so the destination names /proc only
			// once resolved.
			secPlant(t, h.rootfs, "procalias", "/proc")
			if tc.link != "" {
				if err := os.Remove(filepath.Join(h.rootfs, "proc")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(tc.link, filepath.Join(h.rootfs, "proc")); err != nil {
					t.Fatal(err)
				}
			}
			s := baseSpec("sleep", "1001")
			s.Domainname = domain
			s.Linux.Sysctl = map[string]string{"net.core.somaxconn": somaxconn, "kernel.domainname": domain}
			v := oom
			s.Process.OOMScoreAdj = &v
			if tc.noProc {
				noProc(s)
				// Without a procfs there is nothing to mask or make read-only.
				s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
			}
			switch {
			case tc.sub == "-":
				s.Mounts = append(s.Mounts, specs.Mount{Destination: tc.mountOver, Type: "tmpfs", Source: "tmpfs"})
			case tc.mountOver != "":
				s.Mounts = append(s.Mounts, specs.Mount{Destination: tc.mountOver, Type: "bind", Source: filepath.Join(fake, tc.sub), Options: []string{"rbind", "rw"}})
			}
			cr := h.create(s)
			defer func() {
				if got := hulltest.Tree(t, fake); got != fakeBefore {
					t.Errorf("ATTACK SUCCEEDED: the runtime wrote to the container's fake procfs files:\nbefore:\n%s\nafter:\n%s", fakeBefore, got)
				}
				if got := hulltest.Tree(t, filepath.Join(h.rootfs, "tmp")); tc.link == "/tmp" && got != tmpBefore {
					t.Errorf("ATTACK SUCCEEDED: the runtime wrote into the image's /tmp:\n%s", got)
				}
			}()
			if cr.exit != 0 {
				t.Logf("refused: %s", secErrLine(cr.stderr))
				return
			}
			pid := h.mustState(h.id).Pid
			if got := secNetnsRead(t, pid, "/proc/sys/net/core/somaxconn"); got != somaxconn {
				t.Errorf("the container's net.core.somaxconn is %q, want %s", got, somaxconn)
			}
			if got := secNetnsRead(t, pid, "/proc/sys/kernel/domainname"); got != domain {
				t.Errorf("the container's domainname is %q, want %s", got, domain)
			}
			if got := strings.TrimSpace(readFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid))); got != strconv.Itoa(oom) {
				t.Errorf("init's oom_score_adj is %q, want %d", got, oom)
			}
		})
	}
}

// TestSecurityBadIDs passes ids that are not single safe path components to
// every command that takes one. Each must be refused, nothing may appear in
// or next to the state root, and a directory next to the root that "../victim"
// names (with a state.json in it) must be left alone.
func TestSecurityBadIDs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.writeSpec(baseSpec("true"))
	// The state root one level down, so "../x" has a parent to land in.
	base := h.root
	h.root = filepath.Join(base, "state")
	if err := os.Mkdir(h.root, 0o700); err != nil {
		t.Fatal(err)
	}
	// "../victim" names a directory holding a forged state whose init is a
	// decoy process of the test's: a runtime that followed the id there
	// would signal, freeze or exec into the decoy, which is all harmless.
	decoy := exec.Command("sleep", "600")
	if err := decoy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = decoy.Process.Kill()
		_ = decoy.Wait()
	})
	stat := readFile(fmt.Sprintf("/proc/%d/stat", decoy.Process.Pid))
	fields := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(fields) < 20 {
		t.Fatalf("cannot parse /proc/%d/stat: %q", decoy.Process.Pid, stat)
	}
	victim := filepath.Join(base, "victim")
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	forged := fmt.Sprintf(`{"id":"victim","bundle":%q,"rootfs":%q,"init_pid":%d,"init_start_time":%s,`+
		`"created":"2020-01-01T00:00:00Z","config":{"ociVersion":"1.0.2","process":{"args":["true"],"cwd":"/"},"linux":{}}}`,
		h.bundle, h.rootfs, decoy.Process.Pid, fields[19])
	if err := os.WriteFile(filepath.Join(victim, "state.json"), []byte(forged), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(victim) })
	baseBefore := hulltest.DirNames(t, base)
	victimBefore := hulltest.Tree(t, victim)

	// Ids of 256 to 1024 bytes passed the id rule but cannot name the state
	// directory (NAME_MAX is 255).
	ids := []string{"../victim", "..", ".", "../x", "a/b", "/abs", ".hidden", "-", "_lead", "a b", " a", "a\tb", "a\nb", "a*", "ä",
		strings.Repeat("a", 256), strings.Repeat("a", 1024), strings.Repeat("a", 1025)}
	commands := [][]string{
		{"create", "--bundle", h.bundle}, {"run", "--bundle", h.bundle}, {"start"}, {"state"},
		{"kill"}, {"delete"}, {"delete", "--force"}, {"exec"}, {"pause"}, {"resume"}, {"ps"}, {"events", "--stats"},
		{"update", "--pids-limit", "10"},
	}
	for _, id := range ids {
		for _, cmd := range commands {
			args := append(append([]string{}, cmd...), id)
			switch cmd[0] {
			case "kill":
				args = append(args, "KILL")
			case "exec":
				args = append(args, "true")
			}
			r := h.do(args...)
			if r.exit == 0 {
				t.Errorf("ATTACK SUCCEEDED: `hull %s` accepted the id %q: %s", strings.Join(cmd, " "), id, r)
			}
		}
		if got := hulltest.DirNames(t, h.root); len(got) != 0 {
			t.Errorf("ATTACK SUCCEEDED: id %q left %v in the state root", id, got)
		}
		if got := hulltest.DirNames(t, base); strings.Join(got, "/") != strings.Join(baseBefore, "/") {
			t.Errorf("ATTACK SUCCEEDED: id %q changed the state root's parent: %v, was %v", id, got, baseBefore)
		}
		if st := readFile(fmt.Sprintf("/proc/%d/stat", decoy.Process.Pid)); !pidAlive(decoy.Process.Pid) || strings.Contains(st, ") T ") {
			t.Errorf("ATTACK SUCCEEDED: id %q made hull signal the forged state's process %d", id, decoy.Process.Pid)
		}
		if _, err := os.Stat(victim); err != nil {
			t.Fatalf("ATTACK SUCCEEDED: id %q removed %s", id, victim)
		}
		if got := hulltest.Tree(t, victim); got != victimBefore {
			t.Errorf("ATTACK SUCCEEDED: id %q changed %s:\n%s", id, victim, got)
		}
	}
	// The create refusals name the id rule.
	for _, id := range ids {
		r := h.do("create", "--bundle", h.bundle, id)
		if !strings.Contains(strings.ToLower(r.stderr), "container id") {
			t.Errorf("create %q: the error does not explain the id rule: %s", id, r)
		}
	}
	// A NUL byte cannot even be passed in argv: execve takes C strings.
	if _, err := secHull(h, hullBinary, cmdOpts{}, "create", "--bundle", h.bundle, "a\x00b"); err == nil {
		t.Errorf("an argument with a NUL byte reached hull")
	}
	// The longest id allowed does name a state directory: create, state and
	// delete work.
	longest := strings.Repeat("a", 255)
	mustExit(t, h.do("create", "--bundle", h.bundle, longest), 0)
	if r := h.do("state", longest); r.exit != 0 || !strings.Contains(r.stdout, `"created"`) {
		t.Errorf("state of the container with a 255-byte id: %s", r)
	}
	mustExit(t, h.do("delete", "--force", longest), 0)
	h.root = base
	if got := slices.DeleteFunc(hulltest.DirNames(t, filepath.Join(base, "state")), func(n string) bool { return n == stageDir }); len(got) != 0 {
		t.Errorf("state root not empty: %v", got)
	}
	os.RemoveAll(filepath.Join(base, "state", stageDir))
	os.Remove(filepath.Join(base, "state"))
}

// TestSecurityStateDir checks the state directory of a created container is
// private (0700, like every directory on the path to the state root that hull
// creates), and that a symlink planted at --root/<id> is not followed: create
// fails with "exists", the link's target is untouched, and delete does not
// remove or change the target.
func TestSecurityStateDir(t *testing.T) {
	t.Parallel()
	t.Run("mode", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		// A state root hull has to create itself.
		parent := h.root
		h.root = filepath.Join(parent, "new", "root")
		t.Cleanup(func() {
			if r := h.do("delete", "--force", h.id); r.exit != 0 {
				t.Errorf("delete: %s", r)
			}
			h.root = parent
			os.RemoveAll(filepath.Join(parent, "new"))
		})
		mustExit(t, h.create(baseSpec("sleep", "1001")), 0)
		for _, dir := range []string{h.root, filepath.Join(h.root, h.id)} {
			fi, err := os.Lstat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v, want a directory with 0700", dir, fi.Mode())
			}
		}
		entries, err := os.ReadDir(filepath.Join(h.root, h.id))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %v", e.Name(), fi.Mode())
		}
	})
	t.Run("planted-symlink", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		target := t.TempDir()
		if err := os.Chmod(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(target, "marker"), []byte("target"), 0o644); err != nil {
			t.Fatal(err)
		}
		before := hulltest.Tree(t, target)
		link := filepath.Join(h.root, h.id)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		// Runs before the harness's cleanup, which wants an empty root.
		t.Cleanup(func() { os.Remove(link) })
		r := h.create(baseSpec("sleep", "1001"))
		if r.exit == 0 {
			t.Errorf("ATTACK SUCCEEDED: create over a planted symlink succeeded: %s", r)
		} else if !strings.Contains(strings.ToLower(r.stderr), "exist") {
			t.Errorf("create over a planted symlink failed without saying the id exists: %s", r)
		}
		for _, args := range [][]string{{"state", h.id}, {"start", h.id}, {"kill", h.id, "KILL"}, {"delete", h.id}, {"delete", "--force", h.id}} {
			r := h.do(args...)
			t.Logf("hull %s over the planted symlink: exit %d: %s", args[0], r.exit, strings.TrimSpace(r.stdout+" "+secErrLine(r.stderr+"\n")))
		}
		if after := hulltest.Tree(t, target); after != before {
			t.Errorf("ATTACK SUCCEEDED: the symlink's target changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("ATTACK SUCCEEDED: the symlink's target mode changed: %v %v", fi.Mode(), err)
		}
	})
}

// TestSecurityConfigSize feeds create a config.json over the 16 MiB limit (a
// valid JSON document, so only the size can refuse it), one that is a
// symlink to an endless device, and one that is a FIFO nobody writes: each
// is refused promptly with a clear error and nothing left behind.
func TestSecurityConfigSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		plant func(t *testing.T, path string)
		want  string
	}{
		{"over-16MiB", func(t *testing.T, path string) {
			var b bytes.Buffer
			b.WriteString(`{"ociVersion": "1.0.2", "annotations": {"pad": "`)
			b.Write(bytes.Repeat([]byte("a"), 16<<20))
			b.WriteString(`"}}`)
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "16 MiB"},
		{"symlink-to-dev-zero", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"fifo", func(t *testing.T, path string) {
			if err := unix.Mkfifo(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tc.plant(t, filepath.Join(h.bundle, "config.json"))
			start := time.Now()
			r := h.do("create", "--bundle", h.bundle, h.id)
			if r.exit == 0 {
				t.Fatalf("create accepted the config: %s", r)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("the error does not say %q: %s", tc.want, secErrLine(r.stderr))
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("refusing took %s", d)
			}
			t.Logf("refused: %s", secErrLine(r.stderr))
		})
	}
}

// TestSecurityFuzzConfig runs the config package's fuzz targets (config.json
// decoding and validation, mount option parsing) for a bounded time. Not with
// -short. The package is fuzzed in a private copy of the module, so a failing
// input the fuzzer saves (in testdata/fuzz) does not land in the source tree,
// where it would fail everyone's `go test` until removed; the test prints it.
func TestSecurityFuzzConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("fuzzing takes a while; not with -short")
	}
	goTool := hulltest.RequireTool(t, "go", "golang, or the toolchain that runs the tests")
	const pkg = "libruntime/config"
	mod := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum"} {
		secCopyFile(t, filepath.Join(repoRoot, f), filepath.Join(mod, f))
	}
	// The package and the packages of this module it and its tests import, as go
	// list finds them (a list written here went stale when the tests gained one).
	const module = "github.com/hull-runtime/hull/"
	list := exec.Command(goTool, "list", "-deps", "-test", "-f", "{{.ImportPath}}", "./"+pkg)
	list.Dir = repoRoot
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list -deps ./%s: %v", pkg, err)
	}
	dirs := []string{pkg}
	for _, ip := range strings.Fields(string(out)) {
		if rel, ok := strings.CutPrefix(ip, module); ok && rel != pkg && !strings.ContainsAny(rel, " [.") {
			dirs = append(dirs, rel)
		}
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(filepath.Join(repoRoot, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".go") {
				secCopyFile(t, filepath.Join(repoRoot, dir, e.Name()), filepath.Join(mod, dir, e.Name()))
			}
		}
	}
	// Inputs found by this suite, added to the copy's corpus so that they are
	// tried first, every time (go test fuzz v1 corpus files).
	seeds := map[string][]string{
		"FuzzParseMountOptions": {`string("x-")`, `string("x-mount.mkdir\nrbind\nro")`},
		"FuzzValidate":          {`[]byte("{\"mounts\": [{\"destination\": \"/x\", \"type\": \"tmpfs\", \"options\": [\"x-foo\", \"defaults\"]}]}")`},
	}
	for target, list := range seeds {
		for i, seed := range list {
			p := filepath.Join(mod, pkg, "testdata", "fuzz", target, fmt.Sprintf("security-seed-%d", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("go test fuzz v1\n"+seed+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, target := range []string{"FuzzValidate", "FuzzParseMountOptions"} {
		t.Run(target, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			// Minimizing a new interesting input may take the engine tens of seconds
			// (60 by default) during which it runs nothing else; past -fuzztime it
			// then ends with "context deadline exceeded", a failure of its own.
			cmd := exec.CommandContext(ctx, goTool, "test", "-run", "^$", "-fuzz", "^"+target+"$", "-fuzztime", "10s", "-fuzzminimizetime", "1s", "-parallel", "2", "./"+pkg)
			cmd.Dir = mod
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
			out, err := cmd.CombinedOutput()
			if err != nil {
				var inputs []string
				dir := filepath.Join(mod, pkg, "testdata", "fuzz", target)
				files, _ := os.ReadDir(dir)
				for _, f := range files {
					if !strings.HasPrefix(f.Name(), "security-seed-") || strings.Contains(string(out), f.Name()) {
						inputs = append(inputs, fmt.Sprintf("%s:\n%s", f.Name(), readFile(filepath.Join(dir, f.Name()))))
					}
				}
				t.Fatalf("FUZZ FAILURE in %s (%s): %v\nfailing inputs (save under %s/testdata/fuzz/%s/ to reproduce):\n%s\n%s",
					target, pkg, err, pkg, target, strings.Join(inputs, "\n"), out)
			}
			t.Logf("%s", hulltest.LastLines(string(out), 3))
		})
	}
}

// secCopyFile copies src to dst, creating dst's directory.
func secCopyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityMaskedDuplicates: linux.maskedPaths may name one path more than
// once, spelled differently. As with runc, each path is masked once, in the
// order of its first entry: a second mask stacked on the first hid nothing more
// and cost a mount (and, for a directory, a superblock) per repeat.
func TestSecurityMaskedDuplicates(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/timer_list"); err != nil {
		hulltest.HostLimit(t, "this kernel has no /proc/timer_list; runs on Debian's kernels")
	}
	h := newHarness(t)
	for _, d := range []string{"ma", "mb"} {
		if err := os.MkdirAll(filepath.Join(h.rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(h.rootfs, d, "secret"), []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := baseSpec(shell(`cat /proc/self/mountinfo; echo @@
echo "timer_list=$(stat -c '%t:%T %F' /proc/timer_list)"
for d in /ma /mb; do echo "$d=$(ls -A $d)"; done`)...)
	s.Linux.MaskedPaths = []string{
		"/mb", "/proc/timer_list", "/ma",
		"/mb/", "/proc/../proc/timer_list", "/ma/.", "//mb", "/proc/timer_list",
	}
	r := h.run(s)
	mustExit(t, r, 0)
	secs := sections(r.stdout)
	if len(secs) != 2 {
		t.Fatalf("unexpected output: %s", r)
	}
	var order []string
	count := map[string]int{}
	for _, m := range parseMountinfo(secs[0]) {
		switch m.point {
		case "/ma", "/mb", "/proc/timer_list":
			if count[m.point] == 0 {
				order = append(order, m.point)
			}
			count[m.point]++
		}
	}
	for p, n := range count {
		if n != 1 {
			t.Errorf("%s is mounted %d times, want once", p, n)
		}
	}
	if got, want := strings.Join(order, " "), "/mb /proc/timer_list /ma"; got != want {
		t.Errorf("masks were mounted in the order %q, want the first entries' %q", got, want)
	}
	res := secResults(secs[1])
	if res["timer_list"] != "1:3 character special file" {
		t.Errorf("masked /proc/timer_list is %q, want the null device 1:3", res["timer_list"])
	}
	for _, d := range []string{"/ma", "/mb"} {
		if res[d] != "" {
			t.Errorf("masked %s lists %q, want nothing", d, res[d])
		}
	}
}

// TestSecurityMaskedDirsShareTmpfs: like runc 1.5, every masked directory is
// covered by a bind of one empty read-only tmpfs (source "tmpfs", one page,
// one inode), not by a tmpfs each: a container masking many directories
// (Kubernetes masks per-CPU sysfs ones) then holds one superblock for them,
// not one per directory for the kernel to tear down at exit. Checked from the
// host while the container waits for start, then from inside: the masks share
// one device, are read-only at the mount and the superblock, hide what is
// under them, and cannot be written.
func TestSecurityMaskedDirsShareTmpfs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dirs := []string{"/m1", "/m2", "/m3"}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(h.rootfs, d, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(h.rootfs, d, "secret"), []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Masked by baseSpec too: directories of procfs and sysfs, where they exist.
	for _, d := range []string{"/proc/acpi", "/sys/firmware"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	s := baseSpec(shell(`cat /proc/self/mountinfo; echo @@
for d in ` + strings.Join(dirs, " ") + `; do
	echo "$d.ls=$(ls -A $d 2>&1)"
	echo "$d.touch=$(touch $d/x 2>&1 && echo SUCCEEDED)"
	echo "$d.mkdir=$(mkdir $d/y 2>&1 && echo SUCCEEDED)"
done
echo "done=1"`)...)
	s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/m1", "/m2", "/m3")

	check := func(where, mountinfo string) {
		t.Helper()
		byPoint := map[string]mountEntry{}
		for _, m := range parseMountinfo(mountinfo) {
			byPoint[m.point] = m // the last one is on top
		}
		dev := ""
		for _, d := range dirs {
			m, ok := byPoint[d]
			if !ok {
				t.Errorf("%s: masked %s is not a mount point", where, d)
				continue
			}
			if m.fstype != "tmpfs" || m.source != "tmpfs" || m.root != "/" {
				t.Errorf("%s: masked %s is %s %s (root %s), want the root of a tmpfs named tmpfs", where, d, m.fstype, m.source, m.root)
			}
			if !strings.Contains(","+m.opts+",", ",ro,") || !strings.Contains(","+m.super+",", ",ro,") {
				t.Errorf("%s: masked %s: mount options %q, superblock options %q; want both read-only", where, d, m.opts, m.super)
			}
			for _, o := range []string{fmt.Sprintf("size=%dk", os.Getpagesize()/1024), "nr_inodes=1"} {
				if !strings.Contains(","+m.super+",", ","+o+",") {
					t.Errorf("%s: masked %s: superblock options %q lack %s", where, d, m.super, o)
				}
			}
			if dev == "" {
				dev = m.dev
			} else if m.dev != dev {
				t.Errorf("%s: masked %s is on superblock %s, %s on %s; want one shared tmpfs", where, d, m.dev, dirs[0], dev)
			}
		}
		for p, m := range byPoint {
			if m.dev == dev && !slices.Contains(dirs, p) {
				t.Errorf("%s: the masks' tmpfs %s is also mounted on %s", where, dev, p)
			}
		}
	}

	cr := h.create(s)
	mustExit(t, cr, 0)
	st := h.mustState(h.id)
	check("host", readFile(fmt.Sprintf("/proc/%d/mountinfo", st.Pid)))
	mustExit(t, h.do("start", h.id), 0)
	out := waitOutput(t, cr.stdoutPath, "done=1", 10*time.Second)
	secs := sections(out)
	if len(secs) != 2 {
		t.Fatalf("unexpected output: %q", out)
	}
	check("inside", secs[0])
	res := secResults(secs[1])
	for _, d := range dirs {
		if res[d+".ls"] != "" {
			t.Errorf("masked %s lists %q, want nothing", d, res[d+".ls"])
		}
		for _, op := range []string{"touch", "mkdir"} {
			if got := res[d+"."+op]; !strings.Contains(got, "Read-only file system") {
				t.Errorf("%s in masked %s: %q, want it refused as read-only", op, d, got)
			}
		}
	}
	for _, d := range []string{"/m1", "/m2", "/m3"} {
		if b, err := os.ReadFile(filepath.Join(h.rootfs, d, "secret")); err != nil || string(b) != "secret" {
			t.Errorf("host %s/secret now reads %q, %v", d, b, err)
		}
	}
}
