//go:build guest

package guest

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The limits every caller asks for here, and what cgroup v2 files and systemd
// unit properties must then hold.
const (
	limMemory   = "67108864"     // --memory 64m
	limMemory2  = "134217728"    // docker update --memory 128m
	limCPU      = "50000 100000" // --cpus 0.5: quota 50ms in the default 100ms period
	limPids     = "50"           // --pids-limit 50
	callerSleep = "600"

	podmanProfilePrefix = "containers-default-"

	// The engines' default capability sets, as CapEff: docker's CHOWN,
	// DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP,
	// NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP;
	// podman's (containers.conf since 4.0) the same less NET_RAW, MKNOD and
	// AUDIT_WRITE.
	dockerCapEff = "00000000a80425fb"
	podmanCapEff = "00000000800405fb"
)

// TestCallers: docker and podman run hull with their defaults (no seccomp,
// capability or AppArmor option given: each engine's defaults apply), once
// with the systemd cgroup driver, the default of both under systemd, and once
// with the cgroupfs one. Each caller's container gets kubelet/docker-style
// limits; the host side (the container's cgroup files, and the scope's unit
// under systemd) shows them; exec, stats, update (docker), stop and rm work;
// nothing is left behind.
func TestCallers(t *testing.T) {
	hull := hullBinary(t)
	tarball := busyboxImageTar(t)
	t.Run("docker", func(t *testing.T) {
		dockerWithHull(t, hull, "")
		run(t, 2*time.Minute, "docker", "load", "-i", tarball)
		t.Cleanup(func() { _, _ = try(time.Minute, "docker", "rmi", "-f", imageRef) })
		t.Run("systemd", func(t *testing.T) { dockerLifecycle(t, true) })
		t.Run("cgroupfs", func(t *testing.T) {
			dockerWithHull(t, hull, "cgroupfs")
			// The default back in daemon.json, without the restart (~15 s): the
			// tests after this one that need dockerd's configuration set it with
			// dockerWithHull or a restart of their own, and the guest is thrown
			// away after the run.
			t.Cleanup(func() { writeDaemonJSON(t, hull, "") })
			dockerLifecycle(t, false)
		})
	})
	t.Run("podman", func(t *testing.T) {
		loaded := run(t, 2*time.Minute, "podman", "load", "-q", "-i", tarball)
		_, ref, ok := strings.Cut(strings.TrimSpace(loaded), ": ")
		if !ok || ref == "" {
			t.Fatalf("podman load printed no image name: %q", loaded)
		}
		t.Cleanup(func() { _, _ = try(time.Minute, "podman", "rmi", "-f", ref) })
		if m := run(t, time.Minute, "podman", "info", "--format", "{{.Host.CgroupManager}}"); strings.TrimSpace(m) != "systemd" {
			t.Fatalf("podman's default cgroup manager is %q, want systemd", strings.TrimSpace(m))
		}
		t.Run("systemd", func(t *testing.T) { podmanLifecycle(t, hull, ref, true) })
		t.Run("cgroupfs", func(t *testing.T) { podmanLifecycle(t, hull, ref, false) })
	})
}

// dockerWithHull makes dockerd run with hull as the runtime "hull" and the
// cgroup driver given ("" is docker's default: systemd when systemd is PID 1);
// it restarts dockerd only when its running configuration differs.
func dockerWithHull(t *testing.T, hull, driver string) {
	t.Helper()
	b := daemonJSON(t, hull, driver)
	want := driver
	if want == "" {
		want = "systemd"
	}
	old, _ := os.ReadFile("/etc/docker/daemon.json")
	active, _ := try(time.Minute, "systemctl", "is-active", "docker.service")
	if string(old) == string(b) && strings.TrimSpace(active) == "active" {
		info, _ := try(time.Minute, "docker", "info", "--format", "{{.CgroupDriver}} {{json .Runtimes}}")
		if strings.HasPrefix(info, want+" ") && strings.Contains(info, `"hull"`) {
			return
		}
	}
	writeDaemonJSON(t, hull, driver)
	start := time.Now()
	run(t, 3*time.Minute, "systemctl", "restart", "docker.service")
	t.Logf("dockerd (re)started with cgroup driver %s in %v", want, time.Since(start).Round(time.Second))
	if info := run(t, time.Minute, "docker", "info", "--format", "{{.CgroupDriver}} {{json .Runtimes}}"); !strings.HasPrefix(info, want+" ") || !strings.Contains(info, `"hull"`) {
		t.Fatalf("docker info: %s; want cgroup driver %s and the runtime hull", info, want)
	}
}

// daemonJSON is dockerd's configuration with hull as the runtime "hull" and
// the cgroup driver given ("": docker's default).
func daemonJSON(t *testing.T, hull, driver string) []byte {
	t.Helper()
	conf := map[string]any{"runtimes": map[string]any{"hull": map[string]any{"path": hull}}}
	if driver != "" {
		conf["exec-opts"] = []string{"native.cgroupdriver=" + driver}
	}
	b, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeDaemonJSON(t *testing.T, hull, driver string) {
	t.Helper()
	if err := os.MkdirAll("/etc/docker", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/etc/docker/daemon.json", daemonJSON(t, hull, driver), 0o644); err != nil {
		t.Fatal(err)
	}
}

// placed checks that the container whose init is pid is where its engine's
// driver puts it: in unit under slice with systemd, else at path (why names the
// driver's rule). It returns the cgroup and the unit ("" without systemd).
func placed(t *testing.T, pid int, systemd bool, slice, unit, sdWhy, path, fsWhy string) (string, string) {
	t.Helper()
	cg := cgroupOf(t, pid)
	want, why := path, fsWhy
	if systemd {
		want, why = slice+"/"+unit, sdWhy
	} else {
		unit = ""
	}
	if cg != want {
		t.Fatalf("the container's cgroup is %s, want %s (%s)", cg, want, why)
	}
	return cg, unit
}

// dockerLifecycle: run with limits, exec, stats, update, stop, rm.
func dockerLifecycle(t *testing.T, systemd bool) {
	name := "hull-guest-callers"
	t.Cleanup(func() { _, _ = try(time.Minute, "docker", "rm", "-f", name) })
	id := strings.TrimSpace(run(t, 2*time.Minute, "docker", "run", "-d", "--name", name, "--runtime", "hull",
		"--pull=never", "--network", "none", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50",
		imageRef, "sleep", callerSleep))
	pid := enginePid(t, "docker", name)
	cg, unit := placed(t, pid, systemd,
		"/system.slice", "docker-"+id+".scope", "docker's systemd driver: system.slice:docker:ID",
		"/docker/"+id, "docker's cgroupfs driver: cgroup parent /docker")
	checkLimits(t, cg, unit, limMemory)
	checkSecurityDefaults(t, pid, dockerCapEff)

	// exec: the process is in the container's cgroup namespace, whose root is the
	// container's cgroup (with the systemd driver, init is moved into its scope
	// after the clone: the namespace must still be rooted there, not at the shim's).
	if out := run(t, time.Minute, "docker", "exec", name, "cat", "/sys/fs/cgroup/memory.max", "/proc/self/cgroup"); out != limMemory+"\n0::/\n" {
		t.Errorf("docker exec cat memory.max /proc/self/cgroup: %q, want %s and 0::/ (the container's cgroup namespace, rooted at its cgroup)", out, limMemory)
	}
	stats := run(t, time.Minute, "docker", "stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}", name)
	if mem, pids, _ := strings.Cut(strings.TrimSpace(stats), "|"); !strings.HasSuffix(mem, "/ 64MiB") || pids != "1" {
		t.Errorf("docker stats: %q, want a usage of 64MiB and 1 pid", stats)
	}
	// The swap limit moves with the memory one: docker's default was twice 64m.
	run(t, time.Minute, "docker", "update", "--memory", "128m", "--memory-swap", "256m", name)
	checkLimits(t, cg, unit, limMemory2)
	if stats := run(t, time.Minute, "docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", name); !strings.HasSuffix(strings.TrimSpace(stats), "/ 128MiB") {
		t.Errorf("docker stats after update: %q, want a limit of 128MiB", stats)
	}
	// sleep as pid 1 ignores SIGTERM: docker kills it after -t.
	run(t, time.Minute, "docker", "stop", "-t", "1", name)
	if st := run(t, time.Minute, "docker", "inspect", "--format", "{{.State.Status}}", name); strings.TrimSpace(st) != "exited" {
		t.Errorf("after docker stop the container is %q, want exited", st)
	}
	run(t, time.Minute, "docker", "rm", name)
	checkGone(t, cg, unit)
}

// podmanLifecycle: run with limits, exec, stats, stop, rm; podman's runtime
// is hull's binary given by path (podman run --runtime PATH).
func podmanLifecycle(t *testing.T, hull, ref string, systemd bool) {
	name := "hull-guest-callers"
	pm := []string{"--runtime", hull}
	if !systemd {
		pm = append(pm, "--cgroup-manager", "cgroupfs")
	}
	podman := func(args ...string) string {
		t.Helper()
		return run(t, 2*time.Minute, "podman", append(append([]string{}, pm...), args...)...)
	}
	t.Cleanup(func() { _, _ = try(time.Minute, "podman", append(append([]string{}, pm...), "rm", "-f", name)...) })
	id := strings.TrimSpace(podman("run", "-d", "--name", name, "--pull=never", "--network", "none",
		"--memory", "64m", "--cpus", "0.5", "--pids-limit", "50", ref, "sleep", callerSleep))
	if rt := podman("inspect", "--format", "{{.OCIRuntime}}", name); strings.TrimSpace(rt) != hull {
		t.Errorf("podman inspect: OCIRuntime %q, want %s", strings.TrimSpace(rt), hull)
	}
	pid := enginePid(t, "podman", name)
	cg, unit := placed(t, pid, systemd,
		"/machine.slice", "libpod-"+id+".scope", "podman's systemd manager: machine.slice:libpod:ID",
		"/libpod_parent/libpod-"+id, "podman's cgroupfs manager")
	checkLimits(t, cg, unit, limMemory)
	checkSecurityDefaults(t, pid, podmanCapEff)
	// podman's default AppArmor profile, which it loads itself, is named for
	// the version of containers/common it was built with.
	profile := strings.TrimSpace(readFile(t, fmt.Sprintf("/proc/%d/attr/current", pid)))
	if !strings.HasPrefix(profile, podmanProfilePrefix) || !strings.HasSuffix(profile, " (enforce)") {
		t.Errorf("the container's init runs under %q, want podman's default profile %s* (enforce)", profile, podmanProfilePrefix)
	}
	want := limMemory + "\n0::/\n" + profile + "\n"
	if out := podman("exec", name, "cat", "/sys/fs/cgroup/memory.max", "/proc/self/cgroup", "/proc/self/attr/current"); out != want {
		t.Errorf("podman exec cat memory.max /proc/self/cgroup /proc/self/attr/current: %q, want %q (its limit, the container's cgroup namespace rooted at its cgroup, init's profile)", out, want)
	}
	stats := podman("stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}", name)
	if mem, pids, _ := strings.Cut(strings.TrimSpace(stats), "|"); !strings.Contains(mem, "/ 67.11MB") || pids != "1" {
		t.Errorf("podman stats: %q, want a limit of 67.11MB and 1 pid", stats)
	}
	podman("stop", "-t", "1", name)
	if st := podman("inspect", "--format", "{{.State.Status}}", name); strings.TrimSpace(st) != "exited" {
		t.Errorf("after podman stop the container is %q, want exited", st)
	}
	podman("rm", name)
	checkGone(t, cg, unit)
}

func enginePid(t *testing.T, engine, name string) int {
	t.Helper()
	out := run(t, time.Minute, engine, "inspect", "--format", "{{.State.Pid}}", name)
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || pid <= 0 {
		t.Fatalf("%s inspect: pid %q", engine, out)
	}
	return pid
}

// cgroupOf is the cgroup v2 path of pid, as the host sees it.
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	cg := readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	p, ok := strings.CutPrefix(cg, "0::")
	if !ok || strings.Contains(p, "\n") {
		t.Fatalf("/proc/%d/cgroup: %q, want one cgroup v2 line", pid, cg)
	}
	return p
}

// checkLimits reads the container's cgroup files and, under systemd, its
// scope's properties: memory as given, 0.5 CPU, 50 pids.
func checkLimits(t *testing.T, cg, unit, memory string) {
	t.Helper()
	dir := "/sys/fs/cgroup" + cg
	for file, want := range map[string]string{"memory.max": memory, "cpu.max": limCPU, "pids.max": limPids} {
		if got := readFile(t, dir+"/"+file); got != want {
			t.Errorf("%s/%s is %q, want %q", dir, file, got, want)
		}
	}
	if unit == "" {
		return
	}
	show := run(t, time.Minute, "systemctl", "show", unit, "-p", "ActiveState", "-p", "Delegate",
		"-p", "MemoryMax", "-p", "CPUQuotaPerSecUSec", "-p", "TasksMax")
	for _, want := range []string{"ActiveState=active", "Delegate=yes", "MemoryMax=" + memory,
		"CPUQuotaPerSecUSec=500ms", "TasksMax=" + limPids} {
		if !strings.Contains(show, want+"\n") {
			t.Errorf("systemctl show %s lacks %s:\n%s", unit, want, show)
		}
	}
}

// checkSecurityDefaults: the container's init runs under a seccomp filter
// (the engine's default profile) with the engine's default capabilities,
// which no option of the test asked for.
func checkSecurityDefaults(t *testing.T, pid int, capEff string) {
	t.Helper()
	status := readFile(t, fmt.Sprintf("/proc/%d/status", pid))
	for _, want := range []string{"Seccomp:\t2\n", "CapEff:\t" + capEff + "\n", "CapBnd:\t" + capEff + "\n"} {
		if !strings.Contains(status+"\n", want) {
			t.Errorf("the container's init: /proc/%d/status lacks %q:\n%s", pid, strings.TrimSpace(want), status)
		}
	}
}

// checkGone waits for the container's cgroup, and its unit under systemd, to
// be gone.
func checkGone(t *testing.T, cg, unit string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := os.Stat("/sys/fs/cgroup" + cg)
		show := ""
		if unit != "" {
			show = run(t, time.Minute, "systemctl", "show", unit, "-p", "LoadState")
		}
		if os.IsNotExist(err) && (unit == "" || strings.Contains(show, "LoadState=not-found")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after rm: the cgroup %s is still there (stat: %v), unit %s: %s", cg, err, unit, strings.TrimSpace(show))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
