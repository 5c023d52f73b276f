//go:build guest

package guest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv("HULL_GUEST") != "debian" {
		fmt.Fprintln(os.Stderr, "tests/guest: runs only in the Debian guest (make guest-test, or "+
			"GOFLAGS=-tags=guest HULL_VM_FLAGS='--guest debian' hack/vm/gotest.sh ./tests/guest -v)")
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// run runs a command with a deadline and fails the test with its output if it fails.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := try(timeout, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func try(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestSystemdIsPID1(t *testing.T) {
	if comm := readFile(t, "/proc/1/comm"); comm != "systemd" {
		t.Fatalf("PID 1 is %q, want systemd", comm)
	}
	// The state the launcher saw when the boot finished, before the command ran.
	state := os.Getenv("HULL_VM_SYSTEM_STATE")
	if state != "running" && state != "degraded" {
		t.Fatalf("the system was %q when the command started, want running (or degraded)", state)
	}
	if state == "degraded" {
		out, _ := try(30*time.Second, "systemctl", "--failed", "--no-legend", "--plain")
		t.Logf("the system is degraded; failed units:\n%s", out)
	}
}

// TestCommandInOwnUnit: the command runs in a service of its own under
// system.slice, as a test on a host does, not in PID 1's cgroup.
func TestCommandInOwnUnit(t *testing.T) {
	if cg := readFile(t, "/proc/self/cgroup"); cg != "0::/system.slice/hull-vm-cmd.service" {
		t.Fatalf("/proc/self/cgroup is %q, want 0::/system.slice/hull-vm-cmd.service", cg)
	}
}

// TestCgroup2Only: cgroup2 at /sys/fs/cgroup is the only hierarchy and holds
// every controller the kernel has.
func TestCgroup2Only(t *testing.T) {
	var cg []string
	for _, line := range strings.Split(readFile(t, "/proc/self/mountinfo"), "\n") {
		_, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f := strings.Fields(post)
		if len(f) > 0 && strings.HasPrefix(f[0], "cgroup") {
			cg = append(cg, line)
		}
	}
	if len(cg) != 1 || !strings.Contains(cg[0], " /sys/fs/cgroup ") || !strings.Contains(cg[0], " - cgroup2 ") {
		t.Fatalf("want exactly one cgroup mount, cgroup2 at /sys/fs/cgroup; have:\n%s", strings.Join(cg, "\n"))
	}
	// No controller is bound to a v1 hierarchy (column 2 of /proc/cgroups is
	// 0 for cgroup2 and unmounted v1-only ones), and the cgroup2 root has
	// every cgroup2 controller of this kernel (6.1).
	for _, line := range strings.Split(readFile(t, "/proc/cgroups"), "\n")[1:] {
		f := strings.Fields(line) // subsys_name hierarchy num_cgroups enabled
		if len(f) == 4 && f[1] != "0" {
			t.Errorf("controller %s is on cgroup v1 hierarchy %s", f[0], f[1])
		}
	}
	have := strings.Fields(readFile(t, "/sys/fs/cgroup/cgroup.controllers"))
	for _, c := range []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"} {
		if !contains(have, c) {
			t.Errorf("controller %s is not in the cgroup2 root's cgroup.controllers %v", c, have)
		}
	}
	// systemd hands these to its slices; hull's tests need them below the root.
	sub := strings.Fields(readFile(t, "/sys/fs/cgroup/cgroup.subtree_control"))
	for _, c := range []string{"cpu", "io", "memory", "pids"} {
		if !contains(sub, c) {
			t.Errorf("controller %s is not enabled in the root's cgroup.subtree_control %v", c, sub)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestAppArmorEnabled(t *testing.T) {
	needAppArmorBoot(t)
	if e := readFile(t, "/sys/module/apparmor/parameters/enabled"); e != "Y" {
		t.Fatalf("/sys/module/apparmor/parameters/enabled is %q, want Y", e)
	}
	if lsm := readFile(t, "/sys/kernel/security/lsm"); !strings.Contains(lsm, "apparmor") {
		t.Fatalf("/sys/kernel/security/lsm is %q: AppArmor is not an active LSM", lsm)
	}
	run(t, 30*time.Second, "aa-status", "--enabled")
	n, err := strconv.Atoi(strings.TrimSpace(run(t, 30*time.Second, "aa-status", "--profiled")))
	if err != nil || n == 0 {
		t.Fatalf("aa-status --profiled: %d profiles loaded (%v); apparmor.service should load /etc/apparmor.d", n, err)
	}
}

func TestDBusAnswers(t *testing.T) {
	names := run(t, 30*time.Second, "busctl", "list", "--no-legend")
	for _, n := range []string{"org.freedesktop.DBus", "org.freedesktop.systemd1"} {
		if !strings.Contains(names, n+" ") {
			t.Errorf("busctl list lacks %s:\n%s", n, names)
		}
	}
	v := run(t, 30*time.Second, "busctl", "get-property", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
		"org.freedesktop.systemd1.Manager", "Version")
	if !strings.HasPrefix(v, "s ") {
		t.Fatalf("systemd's Version over dbus: %q", v)
	}
}

// TestHullRunsBusybox: hull runs a busybox container with the cgroupfs
// driver and a cgroupsPath; its cgroup is below /sys/fs/cgroup while it
// lives and gone after delete.
func TestHullRunsBusybox(t *testing.T) {
	hull := hullBinary(t)
	bundle := busyboxBundle(t, hull)
	id := "guest-hull-run"
	cgPath := "/hull-guest/" + id
	editConfig(t, bundle, func(c map[string]any) {
		proc := c["process"].(map[string]any)
		proc["terminal"] = false
		proc["args"] = []string{"sh", "-c", "cat /proc/self/cgroup; echo hello from busybox"}
		linux := c["linux"].(map[string]any)
		linux["cgroupsPath"] = cgPath
		// Without a cgroup namespace the container sees its full cgroup path.
		var ns []any
		for _, n := range linux["namespaces"].([]any) {
			if n.(map[string]any)["type"] != "cgroup" {
				ns = append(ns, n)
			}
		}
		linux["namespaces"] = ns
	})
	root := t.TempDir()
	t.Cleanup(func() {
		_, _ = try(30*time.Second, hull, "--root", root, "delete", "--force", id)
		_ = os.Remove("/sys/fs/cgroup" + cgPath)
		_ = os.Remove("/sys/fs/cgroup/hull-guest")
	})
	// The container's stdout is a file: a pipe would be held open by init.
	outFile := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	create := exec.Command(hull, "--root", root, "create", "--bundle", bundle, id)
	create.Stdout, create.Stderr = f, f
	if err := create.Run(); err != nil {
		t.Fatalf("hull create: %v\n%s", err, readFile(t, outFile))
	}
	var st struct {
		Pid    int    `json:"pid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(run(t, 30*time.Second, hull, "--root", root, "state", id)), &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != "created" || st.Pid <= 0 {
		t.Fatalf("hull state after create: %+v", st)
	}
	if cg := readFile(t, fmt.Sprintf("/proc/%d/cgroup", st.Pid)); cg != "0::"+cgPath {
		t.Fatalf("init's cgroup is %q, want 0::%s", cg, cgPath)
	}
	if procs := readFile(t, "/sys/fs/cgroup"+cgPath+"/cgroup.procs"); procs != strconv.Itoa(st.Pid) {
		t.Fatalf("/sys/fs/cgroup%s/cgroup.procs is %q, want init's pid %d alone", cgPath, procs, st.Pid)
	}
	run(t, 30*time.Second, hull, "--root", root, "start", id)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := try(30*time.Second, hull, "--root", root, "state", id)
		if strings.Contains(out, `"stopped"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not stop in 30s: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	run(t, 30*time.Second, hull, "--root", root, "delete", id)
	if got, want := readFile(t, outFile), "0::"+cgPath+"\nhello from busybox"; got != want {
		t.Fatalf("the container printed %q, want %q", got, want)
	}
	if _, err := os.Stat("/sys/fs/cgroup" + cgPath); !os.IsNotExist(err) {
		t.Fatalf("hull delete left /sys/fs/cgroup%s (stat: %v)", cgPath, err)
	}
}

// TestEngines: containerd, dockerd and podman start and answer, and each
// loads an image from a tarball made here, with no network.
func TestEngines(t *testing.T) {
	tarball := busyboxImageTar(t)
	t.Run("containerd", func(t *testing.T) {
		run(t, 2*time.Minute, "systemctl", "start", "containerd.service")
		if v := run(t, time.Minute, "ctr", "version"); !strings.Contains(v, "Server:") {
			t.Fatalf("ctr version shows no server:\n%s", v)
		}
		run(t, 2*time.Minute, "ctr", "-n", "hull-guest", "images", "import", "--all-platforms", tarball)
		t.Cleanup(func() { _, _ = try(time.Minute, "ctr", "-n", "hull-guest", "images", "rm", imageRef) })
		if l := run(t, time.Minute, "ctr", "-n", "hull-guest", "images", "ls", "-q"); !strings.Contains(l, imageRef) {
			t.Fatalf("ctr images ls lacks %s:\n%s", imageRef, l)
		}
		t.Run("hull-systemd-cgroup", func(t *testing.T) { ctrCgroup(t, true) })
		t.Run("hull-cgroupfs", func(t *testing.T) { ctrCgroup(t, false) })
	})
	t.Run("docker", func(t *testing.T) {
		// docker.socket starts dockerd on the first request.
		v := run(t, 3*time.Minute, "docker", "version", "--format", "{{.Server.Version}}")
		if strings.TrimSpace(v) == "" {
			t.Fatal("docker version shows no server version")
		}
		run(t, 2*time.Minute, "docker", "load", "-i", tarball)
		t.Cleanup(func() { _, _ = try(time.Minute, "docker", "rmi", "-f", imageRef) })
		out := run(t, 2*time.Minute, "docker", "run", "--rm", "--pull=never", "--network", "none", imageRef, "echo", "hello from docker")
		if !strings.Contains(out, "hello from docker") {
			t.Fatalf("docker run printed %q", out)
		}
	})
	t.Run("podman", func(t *testing.T) {
		if info := run(t, 2*time.Minute, "podman", "info", "--format", "{{.Host.CgroupsVersion}}"); strings.TrimSpace(info) != "v2" {
			t.Fatalf("podman info: cgroups %q, want v2", info)
		}
		// podman names what it loads its own way (localhost/...): take the name it says.
		loaded := run(t, 2*time.Minute, "podman", "load", "-q", "-i", tarball)
		_, ref, ok := strings.Cut(strings.TrimSpace(loaded), ": ")
		if !ok || ref == "" {
			t.Fatalf("podman load printed no image name: %q", loaded)
		}
		t.Cleanup(func() { _, _ = try(time.Minute, "podman", "rmi", "-f", ref) })
		out := run(t, 2*time.Minute, "podman", "run", "--rm", "--pull=never", "--network", "none", ref, "echo", "hello from podman")
		if !strings.Contains(out, "hello from podman") {
			t.Fatalf("podman run printed %q", out)
		}
	})
}

const imageRef = "docker.io/hull-guest/busybox:latest"

// ctrCgroup: containerd's runc shim runs hull (ctr run --runc-binary) with
// a memory limit, under systemd (--runc-systemd-cgroup, the SystemdCgroup
// option of the runc.v2 runtime, and a slice:prefix:name cgroup: the task
// runs in the delegated scope) or with a plain cgroupfs path; an exec joins
// the task's cgroup, and removing the task removes its cgroup (and the unit
// under systemd, and under cgroupfs the parent hull made for it).
func ctrCgroup(t *testing.T, systemd bool) {
	id, cgArg, cg, unit, gone := "hullfs", "/hull-ctr/hullfs", "/hull-ctr/hullfs", "", "/hull-ctr"
	if systemd {
		id, unit = "hullsd", "ctr-hullsd.scope"
		cgArg, cg, gone = "system.slice:ctr:"+id, "/system.slice/"+unit, "/system.slice/"+unit
	}
	ctr := func(args ...string) (string, error) {
		return try(2*time.Minute, "ctr", append([]string{"-n", "hull-guest"}, args...)...)
	}
	t.Cleanup(func() {
		_, _ = ctr("task", "kill", "-s", "KILL", id)
		_, _ = ctr("task", "rm", "-f", id)
		_, _ = ctr("containers", "rm", id)
	})
	args := []string{"run", "-d", "--runtime", "io.containerd.runc.v2", "--runc-binary", hullBinary(t),
		"--memory-limit", limMemory, "--cgroup", cgArg}
	if systemd {
		args = append(args, "--runc-systemd-cgroup")
	}
	if out, err := ctr(append(args, imageRef, id, "busybox", "sleep", "600")...); err != nil {
		t.Fatalf("ctr run with hull, cgroup %s: %v\n%s", cgArg, err, out)
	}
	if systemd {
		show := run(t, time.Minute, "systemctl", "show", unit, "-p", "ActiveState", "-p", "Delegate", "-p", "ControlGroup", "-p", "MemoryMax")
		for _, want := range []string{"ActiveState=active", "Delegate=yes", "ControlGroup=" + cg, "MemoryMax=" + limMemory} {
			if !strings.Contains(show, want+"\n") {
				t.Errorf("systemctl show %s lacks %s:\n%s", unit, want, show)
			}
		}
	}
	if procs := readFile(t, "/sys/fs/cgroup"+cg+"/cgroup.procs"); procs == "" {
		t.Errorf("the cgroup %s has no process", cg)
	}
	if got := readFile(t, "/sys/fs/cgroup"+cg+"/memory.max"); got != limMemory {
		t.Errorf("%s/memory.max is %q, want %s", cg, got, limMemory)
	}
	// ctr's default spec has no cgroup namespace: the exec'd process sees
	// the task's cgroup by its full path.
	if out, err := ctr("task", "exec", "--exec-id", "probe", id, "cat", "/proc/self/cgroup"); err != nil || strings.TrimSpace(out) != "0::"+cg {
		t.Errorf("ctr task exec cat /proc/self/cgroup: %q (%v), want 0::%s", out, err, cg)
	}
	if out, err := ctr("task", "kill", "-s", "KILL", id); err != nil {
		t.Fatalf("ctr task kill: %v\n%s", err, out)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := ctr("task", "rm", id)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ctr task rm: %v\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		show := "LoadState=not-found"
		if systemd {
			show = run(t, time.Minute, "systemctl", "show", unit, "-p", "LoadState")
		}
		_, err := os.Stat("/sys/fs/cgroup" + gone)
		if strings.Contains(show, "LoadState=not-found") && os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after ctr task rm: unit %s (%s), cgroup %s (stat: %v)", unit, strings.TrimSpace(show), gone, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hullBinary(t *testing.T) string {
	t.Helper()
	h := os.Getenv("HULL_BINARY")
	if h == "" {
		t.Fatal("HULL_BINARY is not set (hack/vm/gotest.sh sets it to the shared hull)")
	}
	return h
}

// busyboxBundle makes a bundle with `hull spec` and a rootfs of the guest's
// static busybox (busybox-static is in the image).
func busyboxBundle(t *testing.T, hull string) string {
	t.Helper()
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run(t, 30*time.Second, "cp", "/bin/busybox", filepath.Join(rootfs, "bin", "busybox"))
	for _, a := range []string{"sh", "cat", "echo", "true"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	spec := exec.Command(hull, "spec")
	spec.Dir = bundle
	if out, err := spec.CombinedOutput(); err != nil {
		t.Fatalf("hull spec: %v\n%s", err, out)
	}
	return bundle
}

func editConfig(t *testing.T, bundle string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(bundle, "config.json")
	var c map[string]any
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	if b, err = json.Marshal(c); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// busyboxImageTar writes a one-layer image of the guest's busybox in the
// `docker save` layout (manifest.json, config, layer.tar), which docker load,
// podman load and ctr import all read, offline.
func busyboxImageTar(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	files := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))},
	}
	for _, a := range []string{"sh", "echo", "true", "cat", "sleep"} {
		files = append(files, &tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	for _, h := range files {
		h.ModTime = time.Unix(0, 0)
		if err := lw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := lw.Write(bb); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	layerSum := sha256.Sum256(layer.Bytes())
	layerID := hex.EncodeToString(layerSum[:])
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Cmd": []string{"/bin/sh"}, "Env": []string{"PATH=/bin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   configName,
		"RepoTags": []string{strings.TrimPrefix(imageRef, "docker.io/")},
		"Layers":   []string{layerID + "/layer.tar"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "busybox-image.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{{layerID + "/layer.tar", layer.Bytes()}, {configName, config}, {"manifest.json", manifest}} {
		if err := w.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644,
			Size: int64(len(e.data)), ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
