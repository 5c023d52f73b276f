//go:build linux

package cri

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/tests/internal/hosttest"
)

const (
	handler  = "hull"
	greeting = "hello-from-hull-cri"
	// The container's command: a greeting, then it runs until SIGTERM, on
	// which it exits 0.
	containerScript = "echo " + greeting + "; trap 'exit 0' TERM; while :; do sleep 1; done"
)

// verboseInfo is what the CRI plugin puts in the "info" of a verbose status.
type verboseInfo struct {
	Pid            int             `json:"pid"`
	RuntimeHandler string          `json:"runtimeHandler"`
	RuntimeType    string          `json:"runtimeType"`
	RuntimeOptions json.RawMessage `json:"runtimeOptions"`
}

func parseInfo(t *testing.T, info map[string]string) verboseInfo {
	t.Helper()
	var v verboseInfo
	if err := json.Unmarshal([]byte(info["info"]), &v); err != nil {
		t.Fatalf("verbose status info: %v: %q", err, info["info"])
	}
	return v
}

// hullState is `hull state` of id in the shim's root, run in the sandbox.
type hullState struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

func (e *env) hullState(root, id string) (hullState, error) {
	var st hullState
	out, err := e.sb.run(e.sysEnv, e.hull, "--root", root, "state", id)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("hull state %s: %v: %q", id, err, out)
	}
	return st, nil
}

// TestCRIPodLifecycle drives a pod through containerd's CRI plugin (kubelet's
// path) with the runtime handler "hull", whose BinaryName is hull behind the
// argv-logging wrapper: a host-network pod sandbox from our own pause image,
// one busybox container in it, ExecSync, status, stop and removal. Every
// runtime call the shim made must have gone to hull and succeeded, `hull
// state` must see what the CRI reports, and nothing may be left behind.
func TestCRIPodLifecycle(t *testing.T) {
	e := newEnv(t)

	ctx, cancel := e.ctx()
	ver, err := e.rt.Version(ctx, &runtimeapi.VersionRequest{})
	cancel()
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	t.Logf("CRI: %s %s, API %s", ver.RuntimeName, ver.RuntimeVersion, ver.RuntimeApiVersion)
	if ver.RuntimeApiVersion != "v1" {
		t.Errorf("runtime.v1 Version says API %q, want v1", ver.RuntimeApiVersion)
	}

	// The images came in with ctr; the CRI plugin must know them, so that
	// it never tries to pull (there is no registry).
	for _, ref := range []string{pauseImage, busyboxImage} {
		var st *runtimeapi.ImageStatusResponse
		ok := hulltest.WaitFor(10*time.Second, func() bool {
			ctx, cancel := e.ctx()
			defer cancel()
			st, err = e.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
			return err == nil && st.GetImage() != nil
		})
		if !ok {
			t.Fatalf("ImageStatus %s: the CRI plugin does not see the imported image (err %v)", ref, err)
		}
	}

	podConfig := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "hull-cri", Namespace: "default", Uid: fmt.Sprintf("hull-cri-%d", os.Getpid())},
		LogDirectory: e.logDir,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER},
			},
		},
	}
	if e.cgroups {
		podConfig.Linux.CgroupParent = "/hull-cri"
	}

	// A handler the plugin does not know is refused: the handler is what
	// picks the runtime.
	ctx, cancel = e.ctx()
	_, err = e.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig, RuntimeHandler: "no-such-handler"})
	cancel()
	if err == nil || !strings.Contains(err.Error(), "no-such-handler") {
		t.Errorf("RunPodSandbox with an unknown runtime handler: %v; want an error naming it", err)
	}

	var podID, ctrID string
	podRemoved, ctrRemoved := false, false
	t.Cleanup(func() {
		// Whatever the test left: the CRI's own removal first (force).
		if ctrID != "" && !ctrRemoved {
			ctx, cancel := e.ctx()
			if _, err := e.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: ctrID}); err != nil {
				t.Logf("cleanup: RemoveContainer: %v", err)
			}
			cancel()
		}
		if podID != "" && !podRemoved {
			ctx, cancel := e.ctx()
			if _, err := e.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID}); err != nil {
				t.Logf("cleanup: StopPodSandbox: %v", err)
			}
			if _, err := e.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID}); err != nil {
				t.Logf("cleanup: RemovePodSandbox: %v", err)
			}
			cancel()
		}
	})

	ctx, cancel = e.ctx()
	pod, err := e.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig, RuntimeHandler: handler})
	cancel()
	if err != nil {
		t.Fatalf("RunPodSandbox (handler %q): %v", handler, err)
	}
	podID = pod.PodSandboxId
	t.Logf("pod sandbox %s", podID)

	ctx, cancel = e.ctx()
	pst, err := e.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID, Verbose: true})
	cancel()
	if err != nil {
		t.Fatalf("PodSandboxStatus: %v", err)
	}
	if s := pst.GetStatus().GetState(); s != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("pod sandbox state %s, want SANDBOX_READY", s)
	}
	podInfo := parseInfo(t, pst.Info)
	if podInfo.RuntimeHandler != handler || podInfo.RuntimeType != "io.containerd.runc.v2" {
		t.Errorf("pod sandbox runs with handler %q, type %q; want %q, io.containerd.runc.v2", podInfo.RuntimeHandler, podInfo.RuntimeType, handler)
	}
	if !strings.Contains(string(podInfo.RuntimeOptions), e.wrapper) {
		t.Errorf("the pod's runtime options do not name %s as the binary: %s", e.wrapper, podInfo.RuntimeOptions)
	}

	ctrConfig := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "hello"},
		Image:    &runtimeapi.ImageSpec{Image: busyboxImage},
		Command:  []string{"sh", "-c", containerScript},
		LogPath:  "hello.log",
		Linux: &runtimeapi.LinuxContainerConfig{
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE, Pid: runtimeapi.NamespaceMode_CONTAINER},
			},
		},
	}
	ctx, cancel = e.ctx()
	cc, err := e.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: podID, Config: ctrConfig, SandboxConfig: podConfig})
	cancel()
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	ctrID = cc.ContainerId
	t.Logf("container %s", ctrID)

	ctx, cancel = e.ctx()
	_, err = e.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ctrID})
	cancel()
	if err != nil {
		t.Fatalf("StartContainer: %v", err)
	}

	// The container's stdout reaches its CRI log: "<time> stdout F <line>".
	logPath := filepath.Join(e.logDir, "hello.log")
	if !hulltest.WaitFor(10*time.Second, func() bool { return strings.Contains(hulltest.ReadFile(logPath), " stdout F "+greeting+"\n") }) {
		t.Errorf("the container's output did not reach its CRI log %s: %q", logPath, hulltest.ReadFile(logPath))
	}

	ctx, cancel = e.ctx()
	cst, err := e.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ctrID, Verbose: true})
	cancel()
	if err != nil {
		t.Fatalf("ContainerStatus: %v", err)
	}
	if s := cst.GetStatus().GetState(); s != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("container state %s, want CONTAINER_RUNNING", s)
	}
	ctrInfo := parseInfo(t, cst.Info)

	// hull's view, in the root the shim gave it: both running, with the
	// pids the CRI reports.
	root := ""
	for _, c := range readCalls(e.argvLog) {
		if c.Sub == "create" && c.Has(podID) {
			root = c.Root
		}
	}
	if root == "" {
		t.Fatalf("no `hull create` of the pod sandbox %s with a --root in the argv log:\n%s", podID, hulltest.ReadFile(e.argvLog))
	}
	for _, want := range []struct {
		what, id string
		pid      int
	}{{"pod sandbox", podID, podInfo.Pid}, {"container", ctrID, ctrInfo.Pid}} {
		st, err := e.hullState(root, want.id)
		switch {
		case err != nil:
			t.Errorf("%s: %v", want.what, err)
		case st.Status != "running" || st.ID != want.id:
			t.Errorf("hull --root %s state %s: %+v; want running", root, want.id, st)
		case st.Pid != want.pid || want.pid <= 0:
			t.Errorf("hull state of the %s says pid %d, the CRI says %d", want.what, st.Pid, want.pid)
		}
	}
	if cmdline := hulltest.ReadFile(fmt.Sprintf("/proc/%d/cmdline", podInfo.Pid)); !strings.Contains(cmdline, "sleep 86400") {
		t.Errorf("the pod sandbox's process %d is not the pause image's entrypoint: %q", podInfo.Pid, cmdline)
	}

	t.Run("ExecSync", func(t *testing.T) {
		ctx, cancel := e.ctx()
		r, err := e.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: ctrID, Cmd: []string{"echo", "hi"}, Timeout: 10})
		cancel()
		if err != nil {
			t.Fatalf("ExecSync echo hi: %v", err)
		}
		if string(r.Stdout) != "hi\n" || len(r.Stderr) != 0 || r.ExitCode != 0 {
			t.Errorf("ExecSync echo hi: stdout %q, stderr %q, exit %d; want \"hi\\n\", \"\", 0", r.Stdout, r.Stderr, r.ExitCode)
		}
		// An exec that fails: its stderr and exit code come back; it runs
		// in the container's pid namespace, where sh is pid 1.
		ctx, cancel = e.ctx()
		r, err = e.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: ctrID, Cmd: []string{"sh", "-c", "echo oops >&2; tr '\\0' ' ' < /proc/1/cmdline; exit 3"}, Timeout: 10})
		cancel()
		if err != nil {
			t.Fatalf("ExecSync exit 3: %v", err)
		}
		if string(r.Stderr) != "oops\n" || r.ExitCode != 3 || !strings.Contains(string(r.Stdout), "trap") {
			t.Errorf("ExecSync exit 3: stdout %q, stderr %q, exit %d; want the container's command as pid 1, \"oops\\n\", 3", r.Stdout, r.Stderr, r.ExitCode)
		}
	})

	ctx, cancel = e.ctx()
	_, err = e.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: ctrID, Timeout: 10})
	cancel()
	if err != nil {
		t.Fatalf("StopContainer: %v", err)
	}
	ctx, cancel = e.ctx()
	cst, err = e.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ctrID})
	cancel()
	if err != nil {
		t.Fatalf("ContainerStatus after stop: %v", err)
	}
	if s := cst.GetStatus(); s.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED || s.GetExitCode() != 0 {
		t.Errorf("after StopContainer: state %s, exit code %d (%s); want CONTAINER_EXITED, 0 (the TERM trap)", s.GetState(), s.GetExitCode(), s.GetReason())
	}
	ctx, cancel = e.ctx()
	_, err = e.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: ctrID})
	cancel()
	if err != nil {
		t.Fatalf("RemoveContainer: %v", err)
	}
	ctrRemoved = true

	ctx, cancel = e.ctx()
	_, err = e.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podID})
	cancel()
	if err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	ctx, cancel = e.ctx()
	pst, err = e.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podID})
	cancel()
	if err != nil {
		t.Fatalf("PodSandboxStatus after stop: %v", err)
	}
	if s := pst.GetStatus().GetState(); s != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("after StopPodSandbox: state %s, want SANDBOX_NOTREADY", s)
	}
	ctx, cancel = e.ctx()
	_, err = e.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podID})
	cancel()
	if err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	podRemoved = true

	e.checkCalls(t, root, podID, ctrID)
	e.checkSpecs(t, podID, ctrID)
	e.checkGone(t, root, podID, ctrID)
}

// checkSpecs looks at the config.json files the CRI plugin handed hull (the
// wrapper saved them): the pod is on the host's network, the restricted
// oom_score_adj is not negative, and the container joined the sandbox's
// namespaces but has a pid namespace of its own.
func (e *env) checkSpecs(t *testing.T, podID, ctrID string) {
	t.Helper()
	type spec struct {
		Process struct {
			OOMScoreAdj *int `json:"oomScoreAdj"`
		} `json:"process"`
		Linux struct {
			CgroupsPath string `json:"cgroupsPath"`
			Namespaces  []struct {
				Type string `json:"type"`
				Path string `json:"path"`
			} `json:"namespaces"`
		} `json:"linux"`
	}
	load := func(id string) (spec, map[string]string) {
		var s spec
		b, err := os.ReadFile(filepath.Join(filepath.Dir(e.wrapper), "configs", id+".json"))
		if err == nil {
			err = json.Unmarshal(b, &s)
		}
		if err != nil {
			t.Errorf("the config.json of %s: %v", id, err)
		}
		ns := map[string]string{}
		for _, n := range s.Linux.Namespaces {
			ns[n.Type] = n.Path
		}
		return s, ns
	}
	pod, podNS := load(podID)
	if _, ok := podNS["network"]; ok {
		t.Errorf("the host-network pod sandbox has a network namespace: %v", podNS)
	}
	if a := pod.Process.OOMScoreAdj; a == nil || *a < 0 {
		t.Errorf("the pod sandbox's oomScoreAdj is %v; restrict_oom_score_adj should keep it at or above ours", a)
	}
	ctr, ctrNS := load(ctrID)
	if p, ok := ctrNS["pid"]; !ok || p != "" {
		t.Errorf("the container should have a new pid namespace: %v", ctrNS)
	}
	if p := ctrNS["ipc"]; !strings.HasSuffix(p, "/ns/ipc") {
		t.Errorf("the container should join the sandbox's ipc namespace: %v", ctrNS)
	}
	if e.cgroups {
		for _, c := range []struct{ id, path string }{{podID, pod.Linux.CgroupsPath}, {ctrID, ctr.Linux.CgroupsPath}} {
			if want := "/hull-cri/" + c.id; c.path != want {
				t.Errorf("cgroupsPath %q, want %q", c.path, want)
			}
		}
	}
}

// checkCalls: every runtime call for the pod and the container went through
// the wrapper, from the shim, into the same root, and succeeded; each had its
// create, start, kill and delete, and the container its exec.
func (e *env) checkCalls(t *testing.T, root, podID, ctrID string) {
	t.Helper()
	calls := readCalls(e.argvLog)
	var b strings.Builder
	for _, c := range calls {
		b.WriteString("  " + c.String() + "\n")
	}
	t.Logf("hull calls:\n%s", b.String())
	for _, want := range []struct {
		what, id string
		subs     []string
	}{
		{"pod sandbox", podID, []string{"create", "start", "kill", "delete"}},
		{"container", ctrID, []string{"create", "start", "exec", "kill", "delete"}},
	} {
		seen := map[string]bool{}
		for _, c := range calls {
			if !c.Has(want.id) {
				continue
			}
			seen[c.Sub] = true
			if !strings.HasPrefix(c.Caller, "containerd-shim") {
				t.Errorf("%s: not called by the shim", c)
			}
			if c.Root != root {
				t.Errorf("%s: --root %q, the create's was %q", c, c.Root, root)
			}
			if !c.Ended || c.Exit != 0 {
				t.Errorf("%s; every call must succeed", c)
			}
		}
		for _, s := range want.subs {
			if !seen[s] {
				t.Errorf("the shim never ran `hull %s` for the %s %s", s, want.what, want.id)
			}
		}
	}
	for _, c := range calls {
		if !c.Has(podID) && !c.Has(ctrID) && c.Sub != "features" {
			t.Errorf("a call for neither the pod nor the container: %s", c)
		}
	}
}

// checkGone: after RemovePodSandbox nothing of the pod is left: no hull
// state, no cgroup, no mount, no process but containerd in its cgroup.
func (e *env) checkGone(t *testing.T, root, podID, ctrID string) {
	t.Helper()
	for _, id := range []string{podID, ctrID} {
		if _, err := os.Lstat(e.sb.Path(filepath.Join(root, id))); err == nil {
			t.Errorf("left behind: hull state %s/%s (in the sandbox)", root, id)
		}
		if st, err := e.hullState(root, id); err == nil {
			t.Errorf("hull state %s still answers after removal: %+v", id, st)
		}
		for _, m := range e.sb.Mounts() {
			if strings.Contains(m.Point, id) {
				t.Errorf("left behind: mount %s (%s) in the sandbox", m.Point, m.FSType)
			}
		}
	}
	if !hulltest.WaitFor(10*time.Second, func() bool { return len(e.sb.cgroups()) == 0 }) {
		t.Errorf("left behind: cgroups %v", e.sb.cgroups())
	}
	var others []string
	hulltest.WaitFor(10*time.Second, func() bool {
		others = nil
		for _, pid := range e.sb.CgroupProcs("daemons") {
			if pid != e.ctdPID {
				others = append(others, fmt.Sprintf("%d (%s)", pid, hosttest.Comm(pid)))
			}
		}
		return len(others) == 0
	})
	if len(others) > 0 {
		t.Errorf("left behind: processes besides containerd in its cgroup: %v", others)
	}
}
