//go:build linux

package cri

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/tests/internal/hosttest"
)

// criNamespace is the containerd namespace the CRI plugin works in.
const criNamespace = "k8s.io"

// env is one run's world: hull behind the argv-logging wrapper, the sandbox,
// and a containerd with the CRI plugin and a runtime handler "hull".
type env struct {
	tmp      string
	hull     string // the hull under test
	wrapper  string // <tmp>/bin/hull: hack/e2e/hull-argv.sh, the handler's BinaryName
	argvLog  string
	logDir   string // the pod's log directory
	sb       *sandbox
	sysEnv   []string // environment of the commands run in the sandbox
	cgroups  bool     // false: the CRI plugin runs with disable_cgroup (see startContainerd)
	ctdPID   int
	ctdDone  chan struct{}
	ctdLog   string
	sock     string
	conn     *grpc.ClientConn
	rt       runtimeapi.RuntimeServiceClient
	img      runtimeapi.ImageServiceClient
	deadline time.Time // every CRI call ends before it
}

// newEnv sets everything up or fails t (skips it only for HULL_E2E_NO_INSTALL); t's cleanups take it all down again,
// whatever happened.
func newEnv(t *testing.T) *env {
	t.Helper()
	hulltest.RequireRoot(t) // it starts containerd
	hulltest.RequireBusybox(t)
	if why := ensureContainerd(); why != "" {
		hosttest.EngineMissing(t, why)
	}
	e := &env{deadline: time.Now().Add(3 * time.Minute)}
	if d, ok := t.Deadline(); ok && d.Add(-20*time.Second).Before(e.deadline) {
		e.deadline = d.Add(-20 * time.Second)
	}
	var err error
	if e.tmp, err = os.MkdirTemp("", "hull-cri-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("HULL_E2E_KEEP") != "" {
			t.Logf("kept %s", e.tmp)
		} else if err := os.RemoveAll(e.tmp); err != nil {
			t.Errorf("removing %s: %v", e.tmp, err)
		}
	})

	repoRoot, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if b := os.Getenv("HULL_BINARY"); b != "" {
		if e.hull, err = filepath.Abs(b); err != nil {
			t.Fatal(err)
		}
	} else {
		e.hull = filepath.Join(e.tmp, "hull")
		cmd := exec.Command("make", "-s", "hull", "BIN="+e.hull)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building hull: %v\n%s", err, out)
		}
	}
	binDir := filepath.Join(e.tmp, "bin")
	e.wrapper, e.argvLog = filepath.Join(binDir, "hull"), filepath.Join(binDir, "argv.log")
	script, err := os.ReadFile(filepath.Join(repoRoot, "hack/e2e/hull-argv.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.wrapper, script, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(e.hull, filepath.Join(binDir, "hull.real")); err != nil {
		t.Fatal(err)
	}
	images := filepath.Join(e.tmp, "images.tar")
	if err := writeImages(images); err != nil {
		t.Fatalf("building the images: %v", err)
	}
	e.logDir = filepath.Join(e.tmp, "pod-logs")
	home := filepath.Join(e.tmp, "home")
	for _, d := range []string{e.logDir, home, filepath.Join(e.tmp, "cni/bin"), filepath.Join(e.tmp, "cni/conf")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e.sysEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + home, "LANG=C"}

	if e.sb, err = newSandbox(); err != nil {
		hulltest.Require(t, "the sandbox containerd runs in (root, a cgroup2 mount, util-linux)", err)
	}
	t.Cleanup(func() {
		if err := e.sb.Close(); err != nil {
			t.Errorf("sandbox: %v", err)
		}
	})
	// The engines must see a pure cgroup v2 machine: no v1 hierarchy.
	for _, m := range e.sb.Mounts() {
		if m.FSType == "cgroup" {
			t.Fatalf("a cgroup v1 hierarchy is visible in the sandbox at %s", m.Point)
		}
	}

	e.startContainerd(t)
	t.Cleanup(func() {
		if err := e.stopContainerd(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("containerd's log (last 40 lines):\n%s", hulltest.LastLines(hulltest.ReadFile(e.ctdLog), 40))
			t.Logf("argv.log:\n%s", hulltest.ReadFile(e.argvLog))
		}
	})
	if out, err := e.ctr("images", "import", images); err != nil {
		t.Fatalf("importing the images: %v", err)
	} else {
		t.Logf("ctr -n %s images import: %s", criNamespace, strings.TrimSpace(out))
	}
	return e
}

// ensureContainerd installs Debian's containerd when it is missing (unless
// HULL_E2E_NO_INSTALL is set); it returns why it is still missing, or "".
func ensureContainerd() string {
	return hosttest.EnsurePackages(map[string][]string{"containerd": {"containerd", "ctr", "containerd-shim-runc-v2"}})["containerd"]
}

// startContainerd starts containerd in the sandbox with the CRI plugin on,
// configured for this machine, and connects the CRI client.
func (e *env) startContainerd(t *testing.T) {
	t.Helper()
	dir := filepath.Join(e.tmp, "containerd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e.sock, e.ctdLog = filepath.Join(dir, "containerd.sock"), filepath.Join(dir, "containerd.log")
	// A CRI pod sandbox always asks for cpu.shares 2, which needs the cpu
	// controller (runc fails without it, as hull does). Where the sandbox's
	// cgroup2 has none (the cpu controller of a hybrid host is bound to v1),
	// the CRI plugin runs with disable_cgroup: no cgroupsPath and no sandbox
	// shares in the specs.
	e.cgroups = e.sb.HasController("cpu")
	if !e.cgroups {
		t.Logf("no cpu controller in the sandbox's cgroup2 (controllers: %v): the CRI plugin runs with disable_cgroup = true", e.sb.Controllers())
	}
	// restrict_oom_score_adj: the sandbox container asks for oom_score_adj
	// -998, which needs CAP_SYS_RESOURCE; restricted, it gets ours. No CNI:
	// the pod uses the host's network, and the plugin's CNI directories are
	// empty ones of ours. opt would create /opt/containerd; the snapshotters
	// that are not used only cost start-up time.
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = %[3]q

[debug]
  level = "debug"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[4]q
  restrict_oom_score_adj = true
  disable_cgroup = %[5]t
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull.options]
        BinaryName = %[6]q
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), e.sock, pauseImage, !e.cgroups, e.wrapper,
		filepath.Join(e.tmp, "cni/bin"), filepath.Join(e.tmp, "cni/conf"))
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(e.ctdLog)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := e.sb.Command(nil, e.sb.Daemons, e.sysEnv, "containerd", "--config", cfg) //nolint:staticcheck // nil: no context, the daemon lives until stopped
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	e.ctdPID, e.ctdDone = cmd.Process.Pid, make(chan struct{})
	go func() { _ = cmd.Wait(); close(e.ctdDone) }()

	if e.conn, err = grpc.NewClient("unix://"+e.sock, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		t.Fatal(err)
	}
	e.rt, e.img = runtimeapi.NewRuntimeServiceClient(e.conn), runtimeapi.NewImageServiceClient(e.conn)

	// Up when the CRI plugin answers Status with the runtime ready.
	var last error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		select {
		case <-e.ctdDone:
			t.Fatalf("containerd exited at start; its log:\n%s", hulltest.LastLines(hulltest.ReadFile(e.ctdLog), 30))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := e.rt.Status(ctx, &runtimeapi.StatusRequest{})
		cancel()
		if err == nil {
			var conds []string
			ready := false
			for _, c := range st.GetStatus().GetConditions() {
				conds = append(conds, fmt.Sprintf("%s=%t (%s %s)", c.Type, c.Status, c.Reason, c.Message))
				if c.Type == runtimeapi.RuntimeReady && c.Status {
					ready = true
				}
			}
			if ready {
				t.Logf("CRI status: %s", strings.Join(conds, "; "))
				return
			}
			err = fmt.Errorf("runtime not ready: %s", strings.Join(conds, "; "))
		}
		last = err
		if refused := grepLines(hulltest.ReadFile(e.ctdLog), "failed to load plugin io.containerd.grpc.v1.cri"); refused != "" {
			t.Fatalf("containerd refused to load the CRI plugin with this configuration:\n%s", refused)
		}
		if time.Now().After(deadline) {
			break
		}
	}
	t.Fatalf("the CRI plugin did not become ready within 30s on %s: %v\ncontainerd's log:\n%s", e.sock, last, hulltest.LastLines(grepLines(hulltest.ReadFile(e.ctdLog), "cri", "error", "level=fatal"), 30))
}

// stopContainerd ends containerd by its pid: SIGTERM, then SIGKILL after 10s.
func (e *env) stopContainerd() error {
	if e.conn != nil {
		e.conn.Close()
	}
	if e.ctdDone == nil {
		return nil
	}
	return hosttest.StopDaemon("containerd", e.ctdPID, e.ctdDone)
}

// ctr runs ctr against our containerd, in the CRI plugin's namespace.
func (e *env) ctr(args ...string) (string, error) {
	return e.sb.run(e.sysEnv, "ctr", append([]string{"--address", e.sock, "--namespace", criNamespace}, args...)...)
}

// ctx is a context for one CRI call.
func (e *env) ctx() (context.Context, context.CancelFunc) {
	d := time.Now().Add(30 * time.Second)
	if e.deadline.Before(d) {
		d = e.deadline
	}
	return context.WithDeadline(context.Background(), d)
}

// grepLines keeps the lines of s that contain any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
