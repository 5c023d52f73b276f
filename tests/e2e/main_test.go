//go:build linux

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/tests/internal/hosttest"
)

// cmdTimeout bounds every engine command, so a hang fails one test instead of
// the whole run.
const cmdTimeout = 60 * time.Second

// imageName is the image every test runs, built by hack/e2e/mkimage.sh.
const imageName = "localhost/hull-e2e:latest"

var (
	repoRoot string
	tmpRoot  string
	hullReal string   // the runtime under test
	binDir   string   // hack/e2e/hull-argv.sh as hull, hull.real, argv.log, configs/
	wrapper  string   // binDir/hull: what the engines are told to run
	imageTar string   // the OCI archive
	sb       *sandbox // where the engines run
	baseEnv  []string // environment of every engine command
	idSeq    atomic.Int64

	ctd     *containerd
	ctdSkip string // why containerd is missing (EngineMissing)
	ctdErr  error  // why they fail: containerd is there but would not start

	pod     *podman
	podSkip string
	podErr  error
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		// A precondition CI always has: failing, not skipping (internal/hulltest).
		fmt.Fprintln(os.Stderr, "e2e: missing precondition: the e2e tests need root (they start containerd and podman); run them as root")
		return 1
	}
	var err error
	if tmpRoot, err = os.MkdirTemp("", "hull-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	code := 0
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: setup:", err)
		code = 1
	}
	if code == 0 {
		code = m.Run()
	}
	if err := teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: teardown:", err)
		code = 1
	}
	if os.Getenv("HULL_E2E_KEEP") != "" {
		fmt.Fprintln(os.Stderr, "e2e: kept", tmpRoot)
	} else {
		_ = os.RemoveAll(tmpRoot)
	}
	return code
}

func setup() error {
	var err error
	if repoRoot, err = filepath.Abs("../.."); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "go.mod")); err != nil {
		return fmt.Errorf("cannot find the repository root above tests/e2e: %w", err)
	}
	if err := hulltest.StaticBusybox(); err != nil {
		return err
	}
	ensurePackages()

	if b := os.Getenv("HULL_BINARY"); b != "" {
		if hullReal, err = filepath.Abs(b); err != nil {
			return err
		}
	} else {
		hullReal = filepath.Join(tmpRoot, "hull")
		cmd := exec.Command("make", "-s", "hull", "BIN="+hullReal)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building hull: %v\n%s", err, out)
		}
	}
	binDir = filepath.Join(tmpRoot, "bin")
	wrapper = filepath.Join(binDir, "hull")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	script, err := os.ReadFile(filepath.Join(repoRoot, "hack/e2e/hull-argv.sh"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(wrapper, script, 0o755); err != nil {
		return err
	}
	if err := os.Symlink(hullReal, filepath.Join(binDir, "hull.real")); err != nil {
		return err
	}

	imageTar = filepath.Join(tmpRoot, "image.tar")
	if out, err := exec.Command(filepath.Join(repoRoot, "hack/e2e/mkimage.sh"), imageTar, imageName).CombinedOutput(); err != nil {
		return fmt.Errorf("hack/e2e/mkimage.sh: %v\n%s", err, out)
	}
	home := filepath.Join(tmpRoot, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	baseEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "LANG=C"}

	if sb, err = newSandbox(); err != nil {
		return fmt.Errorf("cannot make the sandbox the engines run in: %w", err)
	}

	if ctdSkip == "" {
		ctd, ctdErr = startContainerd(filepath.Join(tmpRoot, "containerd"))
	}
	if podSkip == "" {
		pod, podErr = newPodman(filepath.Join(tmpRoot, "podman"))
	}
	return nil
}

func teardown() error {
	var errs []error
	if ctd != nil {
		errs = append(errs, ctd.stop())
	}
	if pod != nil {
		errs = append(errs, pod.close())
	}
	if sb != nil {
		for _, l := range sb.leftovers() {
			errs = append(errs, errors.New("left behind in the sandbox: "+l))
		}
		errs = append(errs, sb.Close())
		for _, c := range sb.v1.changes() {
			errs = append(errs, errors.New(c))
		}
	}
	return errors.Join(errs...)
}

// ensurePackages installs containerd and podman when their programs are
// missing, and sets ctdSkip/podSkip when they still are.
func ensurePackages() {
	why := hosttest.EnsurePackages(map[string][]string{
		"containerd": {"containerd", "ctr", "containerd-shim-runc-v2"},
		"podman":     {"podman", "conmon"},
	})
	ctdSkip, podSkip = why["containerd"], why["podman"]
}

// result is what one engine command did.
type result struct {
	argv   []string
	stdout string
	stderr string
	exit   int // -1: did not run or was killed
	err    error
}

func (r result) String() string {
	s := fmt.Sprintf("`%s`: exit %d\nstdout: %q\nstderr: %q", hosttest.ShellJoin(r.argv), r.exit, r.stdout, r.stderr)
	if r.err != nil {
		s += "\nerror: " + r.err.Error()
	}
	return s
}

// runSandboxed runs name in the sandbox (cgroup cmds) and waits for it.
func runSandboxed(env []string, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := sb.Command(ctx, sb.Cmds, env, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	res := result{argv: append([]string{name}, args...), exit: -1}
	err := cmd.Run()
	res.stdout, res.stderr = stdout.String(), stderr.String()
	res.setExit(ctx, err)
	return res
}

// setExit records how the command ended: its exit code, or why it has none.
func (res *result) setExit(ctx context.Context, err error) {
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.err = fmt.Errorf("timed out after %s", cmdTimeout)
	case err == nil:
		res.exit = 0
	case errors.As(err, &ee):
		res.exit = ee.ExitCode()
	default:
		res.err = err
	}
}

// runPTY runs name in the sandbox with a new pseudo-terminal as its
// controlling terminal and stdio, and returns what it wrote there.
func runPTY(env []string, name string, args ...string) result {
	res := result{argv: append([]string{name}, args...), exit: -1}
	master, slave, err := openPTY()
	if err != nil {
		res.err = err
		return res
	}
	defer master.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := sb.Command(ctx, sb.Cmds, env, name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	if err := cmd.Start(); err != nil {
		slave.Close()
		res.err = err
		return res
	}
	slave.Close()
	var (
		mu  sync.Mutex
		out bytes.Buffer
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil { // EIO once every holder of the slave has closed it
				return
			}
		}
	}()
	err = cmd.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // something else still holds the terminal
	}
	mu.Lock()
	res.stdout = out.String()
	mu.Unlock()
	res.setExit(ctx, err)
	return res
}

// call is one run of hull by an engine, from the wrapper's argv.log.
type call = hosttest.Call

// readCalls parses binDir/argv.log.
func readCalls() []call { return hosttest.ReadCalls(filepath.Join(binDir, "argv.log")) }

// callsFor returns the calls that name container id.
func callsFor(id string) []call {
	var out []call
	for _, c := range readCalls() {
		for _, a := range c.SubArgs {
			if a == id {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// logCalls logs, if t failed, every hull call that named id.
func logCalls(t *testing.T, id string) {
	t.Helper()
	if !t.Failed() {
		return
	}
	var b strings.Builder
	for _, c := range callsFor(id) {
		b.WriteString("  " + c.String() + "\n")
	}
	t.Logf("hull calls for %s:\n%s", id, b.String())
	if cfg, err := os.ReadFile(filepath.Join(binDir, "configs", id+".json")); err == nil {
		t.Logf("config.json the engine wrote for %s: %s", id, cfg)
	}
}

// savedConfig is the config.json the engine wrote for id (saved by the wrapper).
func savedConfig(t *testing.T, id string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(binDir, "configs", id+".json"))
	if err != nil {
		t.Fatalf("no config.json saved for %s: %v", id, err)
	}
	return b
}

// checkDeletes fails t if any `hull delete` of id exited non-zero: the
// shims call `delete` and then `delete --force` on a container that may be
// gone, and both must succeed.
func checkDeletes(t *testing.T, id string) {
	t.Helper()
	for _, c := range callsFor(id) {
		if c.Sub == "delete" && c.Ended && c.Exit != 0 {
			t.Errorf("%s; delete must exit 0 (runc does, also for a container that is already gone with --force)", c)
		}
	}
}

var reportedV1 sync.Map

// checkV1 fails t if a v1 cgroup appeared or changed since the run started.
func checkV1(t *testing.T) {
	t.Helper()
	for _, c := range sb.v1.changes() {
		if _, dup := reportedV1.LoadOrStore(c, true); !dup {
			t.Errorf("an engine touched the host's v1 cgroups: %s", c)
		}
	}
}

// newID returns a container name unique within the run.
func newID(prefix string) string {
	return fmt.Sprintf("e2e-%s-%d", prefix, idSeq.Add(1))
}
