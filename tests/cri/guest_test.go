//go:build guest

package cri

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestGuestCRI runs in the Debian guest of hack/vm (systemd PID 1, cgroup v2,
// AppArmor), built with the tag "guest" (see hack/vm/cri-guest.sh): the
// system's containerd, its CRI plugin configured as a kubelet with the
// systemd cgroup driver needs it (SystemdCgroup = true, a runtime handler
// "hull" whose BinaryName is hull) and nothing else changed (AppArmor and
// cgroups on), runs a pod sandbox in a pod slice and a container with
// kubelet-style resources and the runtime's default seccomp profile; the
// host side (the scopes' cgroup files and units) shows the limits; exec,
// stats, stop and remove work and leave no scope.
func TestGuestCRI(t *testing.T) {
	if os.Getenv("HULL_GUEST") != "debian" {
		t.Skip("runs only in the Debian guest: hack/vm/cri-guest.sh")
	}
	hull := os.Getenv("HULL_BINARY")
	if hull == "" {
		t.Fatal("HULL_BINARY is not set")
	}
	run := func(name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	const conf = "/etc/containerd/config.toml"
	old, oldErr := os.ReadFile(conf)
	t.Cleanup(func() {
		if oldErr == nil {
			_ = os.WriteFile(conf, old, 0o644)
		} else {
			_ = os.Remove(conf)
		}
	})
	config := fmt.Sprintf(`version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull.options]
        BinaryName = %q
        SystemdCgroup = true
`, pauseImage, hull)
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	run("systemctl", "restart", "containerd.service")
	t.Logf("containerd (re)started in %v", time.Since(start).Round(time.Second))
	tarball := filepath.Join(t.TempDir(), "images.tar")
	if err := writeImages(tarball); err != nil {
		t.Fatal(err)
	}
	run("ctr", "-n", criNamespace, "images", "import", tarball)
	t.Cleanup(func() { _ = exec.Command("ctr", "-n", criNamespace, "images", "rm", pauseImage, busyboxImage).Run() })

	conn, err := grpc.NewClient("unix:///run/containerd/containerd.sock",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", strings.TrimPrefix(addr, "unix://"))
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		t.Cleanup(cancel)
		return c
	}

	// What kubelet's systemd driver asks for: a pod slice below kubepods.slice.
	const podSlice = "kubepods-burstable-podhullguest.slice"
	podDir := "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/" + podSlice
	t.Cleanup(func() { _ = exec.Command("systemctl", "stop", "kubepods.slice").Run() })
	podCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "hull-guest", Namespace: "default", Uid: "hullguest"},
		LogDirectory: t.TempDir(),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: podSlice,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
				Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
			},
		},
	}
	pod, err := rt.RunPodSandbox(ctx(), &runtimeapi.RunPodSandboxRequest{Config: podCfg, RuntimeHandler: "hull"})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	podID := pod.PodSandboxId
	t.Cleanup(func() {
		_, _ = rt.StopPodSandbox(context.Background(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID})
		_, _ = rt.RemovePodSandbox(context.Background(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID})
	})
	podScope := podDir + "/cri-containerd-" + podID + ".scope"
	if _, err := os.Stat(podScope); err != nil {
		t.Fatalf("the pod sandbox's scope: %v", err)
	}

	// kubelet's resources for requests cpu 500m, limits cpu 500m and memory 64Mi.
	mem := int64(64 << 20)
	c, err := rt.CreateContainer(ctx(), &runtimeapi.CreateContainerRequest{
		PodSandboxId:  podID,
		SandboxConfig: podCfg,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "sleeper"},
			Image:    &runtimeapi.ImageSpec{Image: busyboxImage},
			Command:  []string{"sleep", "600"},
			LogPath:  "sleeper.log",
			Linux: &runtimeapi.LinuxContainerConfig{
				Resources: &runtimeapi.LinuxContainerResources{
					CpuShares: 512, CpuQuota: 50000, CpuPeriod: 100000, MemoryLimitInBytes: mem,
				},
				SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
					Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
				},
			},
		},
	})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	ctrID := c.ContainerId
	t.Cleanup(func() {
		_, _ = rt.StopContainer(context.Background(), &runtimeapi.StopContainerRequest{ContainerId: ctrID, Timeout: 1})
		_, _ = rt.RemoveContainer(context.Background(), &runtimeapi.RemoveContainerRequest{ContainerId: ctrID})
	})
	if _, err := rt.StartContainer(ctx(), &runtimeapi.StartContainerRequest{ContainerId: ctrID}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	unit := "cri-containerd-" + ctrID + ".scope"
	scope := podDir + "/" + unit
	for file, want := range map[string]string{"memory.max": "67108864", "cpu.max": "50000 100000"} {
		b, err := os.ReadFile(filepath.Join(scope, file))
		if err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s/%s: %q (%v), want %q", scope, file, b, err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(scope, "cpu.weight")); strings.TrimSpace(string(b)) == "100" {
		t.Errorf("cpu.weight is the default 100: cpu shares 512 were not applied")
	}
	show := run("systemctl", "show", unit, "-p", "ActiveState", "-p", "Delegate", "-p", "MemoryMax", "-p", "CPUQuotaPerSecUSec", "-p", "Slice")
	for _, want := range []string{"ActiveState=active", "Delegate=yes", "MemoryMax=67108864", "CPUQuotaPerSecUSec=500ms", "Slice=" + podSlice} {
		if !strings.Contains(show, want+"\n") {
			t.Errorf("systemctl show %s lacks %s:\n%s", unit, want, show)
		}
	}
	// hull made it: its state is where the shim keeps the runtime's (--root).
	for _, id := range []string{podID, ctrID} {
		if st := run(hull, "--root", "/run/containerd/runc/"+criNamespace, "state", id); !strings.Contains(st, `"status": "running"`) {
			t.Errorf("hull state %s: %s", id, st)
		}
	}
	if b, err := os.ReadFile(filepath.Join(scope, "cpu.weight")); err == nil {
		t.Logf("cpu.weight for cpu shares 512: %s", strings.TrimSpace(string(b)))
	}
	status, err := rt.ContainerStatus(ctx(), &runtimeapi.ContainerStatusRequest{ContainerId: ctrID})
	if err != nil || status.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("ContainerStatus: %v, %v", status, err)
	}

	ex, err := rt.ExecSync(ctx(), &runtimeapi.ExecSyncRequest{ContainerId: ctrID,
		Cmd: []string{"cat", "/sys/fs/cgroup/memory.max", "/proc/self/cgroup", "/proc/self/status"}, Timeout: 30})
	if err != nil || ex.ExitCode != 0 {
		t.Fatalf("ExecSync: %v %v\n%s%s", err, ex.GetExitCode(), ex.GetStdout(), ex.GetStderr())
	}
	out := string(ex.Stdout)
	if !strings.HasPrefix(out, "67108864\n0::/\n") {
		t.Errorf("ExecSync cat memory.max /proc/self/cgroup: want 67108864 and 0::/ first:\n%s", out)
	}
	// The runtime's default seccomp profile: filter mode.
	if !strings.Contains(out, "Seccomp:\t2\n") {
		t.Errorf("the exec'd process is not under a seccomp filter:\n%s", out)
	}

	st, err := rt.ContainerStats(ctx(), &runtimeapi.ContainerStatsRequest{ContainerId: ctrID})
	if err != nil || st.Stats.GetMemory().GetWorkingSetBytes() == nil || st.Stats.GetCpu().GetUsageCoreNanoSeconds() == nil {
		t.Errorf("ContainerStats: %v, %v", st, err)
	}

	if _, err := rt.StopContainer(ctx(), &runtimeapi.StopContainerRequest{ContainerId: ctrID, Timeout: 1}); err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	if _, err := rt.RemoveContainer(ctx(), &runtimeapi.RemoveContainerRequest{ContainerId: ctrID}); err != nil {
		t.Fatalf("RemoveContainer: %v", err)
	}
	if _, err := rt.StopPodSandbox(ctx(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if _, err := rt.RemovePodSandbox(ctx(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, dir := range []string{scope, podScope} {
		for {
			_, err := os.Stat(dir)
			if os.IsNotExist(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("left behind: %s (stat: %v)", dir, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
