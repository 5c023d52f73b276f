//go:build guest

package cri

import (
	"context"
	"encoding/json"
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

const (
	// containerd's CRI plugin loads this profile itself and gives it to every
	// container that asks for no other (kubernetes#51746): RuntimeDefault.
	criAppArmorProfile = "cri-containerd.apparmor.d (enforce)"
	// containerd's default capabilities (oci.WithDefaultSpec, what the CRI
	// plugin starts from): CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID,
	// SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD,
	// AUDIT_WRITE and SETFCAP.
	criCapEff = "00000000a80425fb"
)

// guestCRICase is one cgroup driver as kubelet and containerd pair it: the
// pod's CgroupParent kubelet hands over, and the runtime handler whose
// SystemdCgroup option matches it.
type guestCRICase struct {
	name    string
	handler string
	systemd bool
	// parent is the pod's CgroupParent; podDir its cgroup under /sys/fs/cgroup.
	parent, podDir string
	// cgroup is where a container of the pod lands, by its id.
	cgroup func(id string) string
}

// TestGuestCRI runs in the Debian guest of hack/vm (systemd PID 1, cgroup v2,
// AppArmor), built with the tag "guest" (see hack/vm/cri-guest.sh): the
// system's containerd, its CRI plugin configured as a kubelet needs it, once
// with the systemd cgroup driver (SystemdCgroup = true, a pod slice) and once
// with cgroupfs (SystemdCgroup = false, a /kubepods path), each through a
// runtime handler whose BinaryName is hull, and nothing else changed
// (AppArmor, seccomp and capabilities at containerd's defaults). Each runs a
// pod sandbox and a container with kubelet-style resources; the host side
// (the cgroup files, and the scopes' units under systemd) shows the limits,
// the container runs under containerd's AppArmor profile, RuntimeDefault
// seccomp and the default capabilities; exec, stats, stop and remove work
// and leave nothing behind.
func TestGuestCRI(t *testing.T) {
	if os.Getenv("HULL_GUEST") != "debian" {
		t.Skip("runs only in the Debian guest: hack/vm/cri-guest.sh")
	}
	hull := os.Getenv("HULL_BINARY")
	if hull == "" {
		t.Fatal("HULL_BINARY is not set")
	}
	const systemdPod = "kubepods-burstable-podhullguest.slice"
	cases := []guestCRICase{{
		name: "systemd", handler: "hull", systemd: true,
		parent: systemdPod,
		podDir: "/kubepods.slice/kubepods-burstable.slice/" + systemdPod,
		cgroup: func(id string) string {
			return "/kubepods.slice/kubepods-burstable.slice/" + systemdPod + "/cri-containerd-" + id + ".scope"
		},
	}, {
		name: "cgroupfs", handler: "hull-cgroupfs",
		parent: "/kubepods/burstable/podhullguestfs",
		podDir: "/kubepods/burstable/podhullguestfs",
		cgroup: func(id string) string { return "/kubepods/burstable/podhullguestfs/" + id },
	}}

	// One configuration holds both drivers' handlers: a runtime handler's
	// SystemdCgroup goes to its shim (--systemd-cgroup to hull), and the CRI
	// plugin picks the cgroupsPath form from the CgroupParent, so one
	// containerd start serves both cases.
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
`, pauseImage)
	for _, c := range cases {
		config += fmt.Sprintf(`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%[1]s]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%[1]s.options]
        BinaryName = %[2]q
        SystemdCgroup = %[3]t
`, c.handler, hull, c.systemd)
	}
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	guestRun(t, "systemctl", "restart", "containerd.service")
	t.Logf("containerd (re)started in %v", time.Since(start).Round(time.Second))
	tarball := filepath.Join(t.TempDir(), "images.tar")
	if err := writeImages(tarball); err != nil {
		t.Fatal(err)
	}
	guestRun(t, "ctr", "-n", criNamespace, "images", "import", tarball)
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
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { guestPod(t, rt, hull, c) })
	}
}

// guestRun runs a command of the guest and returns its output; it fails the
// test on an error.
func guestRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// guestPod: a pod sandbox and one container with kubelet's resources, through
// the handler of c; the checks of TestGuestCRI.
func guestPod(t *testing.T, rt runtimeapi.RuntimeServiceClient, hull string, c guestCRICase) {
	ctx := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		t.Cleanup(cancel)
		return ctx
	}
	const fs = "/sys/fs/cgroup"
	if c.systemd {
		// systemd makes the pod slice and its parents with the first scope in
		// it; kubelet would stop them with the pod.
		t.Cleanup(func() { _ = exec.Command("systemctl", "stop", "kubepods.slice").Run() })
	} else {
		// kubelet's cgroupfs driver makes the pod's cgroup before the sandbox,
		// with the controllers enabled down to it but not in it: the runtime
		// enables them there for the containers' cgroups. It removes it after.
		dirs := []string{"/kubepods", "/kubepods/burstable", c.podDir}
		for i, d := range dirs {
			if err := os.Mkdir(fs+d, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Remove(fs + d) })
			if i < len(dirs)-1 {
				if err := os.WriteFile(fs+d+"/cgroup.subtree_control", []byte("+cpu +memory +pids"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	podCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "hull-guest-" + c.name, Namespace: "default", Uid: "hullguest" + c.name},
		LogDirectory: t.TempDir(),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: c.parent,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
				Seccomp:          &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
			},
		},
	}
	pod, err := rt.RunPodSandbox(ctx(), &runtimeapi.RunPodSandboxRequest{Config: podCfg, RuntimeHandler: c.handler})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	podID := pod.PodSandboxId
	t.Cleanup(func() {
		_, _ = rt.StopPodSandbox(context.Background(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID})
		_, _ = rt.RemovePodSandbox(context.Background(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID})
	})
	podCg := c.cgroup(podID)
	if _, err := os.Stat(fs + podCg); err != nil {
		t.Fatalf("the pod sandbox's cgroup: %v", err)
	}

	// kubelet's resources for requests cpu 500m, limits cpu 500m and memory 64Mi.
	mem := int64(64 << 20)
	cr, err := rt.CreateContainer(ctx(), &runtimeapi.CreateContainerRequest{
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
	ctrID := cr.ContainerId
	t.Cleanup(func() {
		_, _ = rt.StopContainer(context.Background(), &runtimeapi.StopContainerRequest{ContainerId: ctrID, Timeout: 1})
		_, _ = rt.RemoveContainer(context.Background(), &runtimeapi.RemoveContainerRequest{ContainerId: ctrID})
	})
	if _, err := rt.StartContainer(ctx(), &runtimeapi.StartContainerRequest{ContainerId: ctrID}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	ctrCg := c.cgroup(ctrID)
	for file, want := range map[string]string{"memory.max": "67108864", "cpu.max": "50000 100000"} {
		b, err := os.ReadFile(fs + ctrCg + "/" + file)
		if err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s/%s: %q (%v), want %q", ctrCg, file, b, err, want)
		}
	}
	if b, err := os.ReadFile(fs + ctrCg + "/cpu.weight"); err != nil || strings.TrimSpace(string(b)) == "100" {
		t.Errorf("cpu.weight %q (%v): cpu shares 512 were not applied (100 is the default)", b, err)
	} else {
		t.Logf("cpu.weight for cpu shares 512: %s", strings.TrimSpace(string(b)))
	}
	unit := "cri-containerd-" + ctrID + ".scope"
	if c.systemd {
		show := guestRun(t, "systemctl", "show", unit, "-p", "ActiveState", "-p", "Delegate", "-p", "MemoryMax", "-p", "CPUQuotaPerSecUSec", "-p", "Slice")
		for _, want := range []string{"ActiveState=active", "Delegate=yes", "MemoryMax=67108864", "CPUQuotaPerSecUSec=500ms", "Slice=" + c.parent} {
			if !strings.Contains(show, want+"\n") {
				t.Errorf("systemctl show %s lacks %s:\n%s", unit, want, show)
			}
		}
	}
	// hull made both: their state is where the shim keeps the runtime's (--root).
	var initPid int
	for _, id := range []string{podID, ctrID} {
		out := guestRun(t, hull, "--root", "/run/containerd/runc/"+criNamespace, "state", id)
		var st hullState
		if err := json.Unmarshal([]byte(out), &st); err != nil || st.Status != "running" {
			t.Fatalf("hull state %s: %v\n%s", id, err, out)
		}
		initPid = st.Pid
	}
	if got := procCgroup(t, initPid); got != ctrCg {
		t.Errorf("the container's init is in %s, want %s", got, ctrCg)
	}
	status, err := rt.ContainerStatus(ctx(), &runtimeapi.ContainerStatusRequest{ContainerId: ctrID})
	if err != nil || status.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("ContainerStatus: %v, %v", status, err)
	}

	// containerd's defaults, as the host sees the container's init and as its
	// exec'd process sees itself.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/attr/current", initPid)); err != nil || strings.TrimSpace(string(b)) != criAppArmorProfile {
		t.Errorf("the container's init runs under %q (%v), want %q", strings.TrimSpace(string(b)), err, criAppArmorProfile)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", initPid)); err != nil {
		t.Error(err)
	} else {
		checkDefaults(t, "the container's init", string(b))
	}
	ex, err := rt.ExecSync(ctx(), &runtimeapi.ExecSyncRequest{ContainerId: ctrID,
		Cmd: []string{"cat", "/sys/fs/cgroup/memory.max", "/proc/self/cgroup", "/proc/self/attr/current", "/proc/self/status"}, Timeout: 30})
	if err != nil || ex.ExitCode != 0 {
		t.Fatalf("ExecSync: %v %v\n%s%s", err, ex.GetExitCode(), ex.GetStdout(), ex.GetStderr())
	}
	out := string(ex.Stdout)
	if want := "67108864\n0::/\n" + criAppArmorProfile + "\n"; !strings.HasPrefix(out, want) {
		t.Errorf("ExecSync cat memory.max /proc/self/cgroup /proc/self/attr/current: want %q first (its limit, the container's cgroup namespace, containerd's profile):\n%s", want, out)
	}
	checkDefaults(t, "the exec'd process", out)

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
	for _, dir := range []string{ctrCg, podCg} {
		for {
			_, err := os.Stat(fs + dir)
			if os.IsNotExist(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("left behind: %s (stat: %v)", dir, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if c.systemd {
		for _, u := range []string{unit, "cri-containerd-" + podID + ".scope"} {
			if show := guestRun(t, "systemctl", "show", u, "-p", "LoadState"); !strings.Contains(show, "LoadState=not-found") {
				t.Errorf("after removal the unit %s is still loaded: %s", u, strings.TrimSpace(show))
			}
		}
	} else if entries, err := os.ReadDir(fs + c.podDir); err != nil {
		t.Error(err)
	} else {
		for _, e := range entries {
			if e.IsDir() {
				t.Errorf("left behind in the pod's cgroup: %s", e.Name())
			}
		}
	}
}

// procCgroup is pid's cgroup v2 path as the guest sees it.
func procCgroup(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(b)), "0::")
}

// checkDefaults: a /proc/PID/status shows the RuntimeDefault seccomp profile
// (filter mode) and containerd's default capabilities.
func checkDefaults(t *testing.T, who, status string) {
	t.Helper()
	for _, want := range []string{"Seccomp:\t2\n", "CapEff:\t" + criCapEff + "\n", "CapBnd:\t" + criCapEff + "\n"} {
		if !strings.Contains(status, want) {
			t.Errorf("%s: /proc/PID/status lacks %q:\n%s", who, strings.TrimSpace(want), status)
		}
	}
}
