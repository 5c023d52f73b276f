//go:build linux

package tests

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// Controllers at work: limits configured in linux.resources hold in the
// container's cgroup (read from the host and, through a cgroup2 mount in a
// cgroup namespace, from inside) and are enforced, and `hull update` changes
// them live. They need a pure cgroup v2 hierarchy with the controllers
// enabled, which the hybrid host lacks: they run in the VM (`make vm-test`,
// HULL_IN_VM=1) or on a host whose cgroup2 root enables them for its
// children, and skip elsewhere.

// needControllers skips the test unless it runs in the VM or the cgroup2
// root's cgroup.subtree_control enables every one of ctrls (the container's
// cgroup /hulltest-<id> is a child of the root). In the VM a missing
// controller is a failure.
func needControllers(t *testing.T, ctrls ...string) {
	t.Helper()
	mnt := needCgMount(t)
	on := strings.Fields(readFile(filepath.Join(mnt, "cgroup.subtree_control")))
	var missing []string
	for _, c := range ctrls {
		if !slices.Contains(on, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("HULL_IN_VM") != "1" {
		hulltest.HostLimit(t, "needs the %s controller(s) enabled below %s (its cgroup.subtree_control has %q); runs in the cgroup v2 VM: make vm-test",
			strings.Join(missing, ", "), mnt, on)
	}
	t.Fatalf("in the VM, but %s/cgroup.subtree_control lacks %s: %q", mnt, strings.Join(missing, ", "), on)
}

// vmDisk returns MAJ:MIN of the VM's virtio disk (HULL_VM_DISK_DEV, else
// /sys/block/vda/dev); outside the VM the test skips.
func vmDisk(t *testing.T) (string, int64, int64) {
	t.Helper()
	if os.Getenv("HULL_IN_VM") != "1" {
		hulltest.HostLimit(t, "needs the VM's scratch disk /dev/vda; runs in the cgroup v2 VM: make vm-test")
	}
	dev := os.Getenv("HULL_VM_DISK_DEV")
	if dev == "" {
		dev = strings.TrimSpace(readFile("/sys/block/vda/dev"))
	}
	var maj, min int64
	if _, err := fmt.Sscanf(dev, "%d:%d", &maj, &min); err != nil {
		t.Fatalf("the VM's disk: HULL_VM_DISK_DEV or /sys/block/vda/dev holds %q, want MAJ:MIN", dev)
	}
	return dev, maj, min
}

// cpuWeightFor is the cpu.shares to cpu.weight conversion runc uses since
// 1.3.2 (opencontainers/runc#4785): 2 -> 1, 1024 -> 100, 262144 -> 10000,
// quadratic in log2(shares) between.
func cpuWeightFor(shares uint64) uint64 {
	if shares <= 2 {
		return 1
	}
	if shares >= 262144 {
		return 10000
	}
	l := math.Log2(float64(shares))
	return uint64(math.Ceil(math.Pow(10, (l*l+125*l)/612.0-7.0/34.0)))
}

// cgInsideValues parses "name=value" lines the container printed.
func cgInsideValues(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

// cgCatScript prints each cgroup file as name=value, read inside through the
// cgroup2 mount of withCgroupNS.
func cgCatScript(files ...string) string {
	return fmt.Sprintf(`for f in %s; do echo "$f=$(cat /sys/fs/cgroup/$f)"; done`, strings.Join(files, " "))
}

// cgCheckFiles compares cgroup files on the host and as the container printed
// them with want.
func cgCheckFiles(t *testing.T, dir, inside string, want map[string]string) {
	t.Helper()
	in := cgInsideValues(inside)
	for _, f := range cgSortedNames(want) {
		if got := cgRead(t, dir, f); got != want[f] {
			t.Errorf("host %s/%s = %q, want %q", dir, f, got, want[f])
		}
		if got, ok := in[f]; !ok || got != want[f] {
			t.Errorf("inside /sys/fs/cgroup/%s = %q, want %q (the container printed %q)", f, got, want[f], inside)
		}
	}
}

func cgSortedNames(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestCgroupMemoryOOM: memory.limit 32M becomes memory.max (swap equal to
// the limit: memory.swap.max 0); a dd whose 64M buffer outgrows it is
// OOM-killed while init survives, memory.events counts the kill and a
// running `hull events` reports {"type":"oom"}.
func TestCgroupMemoryOOM(t *testing.T) {
	t.Parallel()
	needControllers(t, "memory")
	h := newHarness(t)
	dir := cgDir(t, h)
	limit := int64(32 << 20)
	s := sleeperSpec()
	withCgroupNS(s)
	s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &limit}}
	st := h.startContainer(s)
	if got := cgRead(t, dir, "memory.max"); got != "33554432" {
		t.Errorf("memory.max = %q, want 33554432", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
		if got := cgRead(t, dir, "memory.swap.max"); got != "0" {
			t.Errorf("memory.swap.max = %q, want 0 (swap = limit: memory+swap may not exceed the limit)", got)
		}
	}

	// events reads the OOM count it starts from before its first output.
	ev := h.startHull(cmdOpts{}, "events", "--interval", "1s", h.id)
	waitOutput(t, ev.stdout, "\n", 20*time.Second)

	r := h.do("exec", h.id, "sh", "-c", `cat /sys/fs/cgroup/memory.max; dd if=/dev/zero of=/dev/null bs=64M count=1; echo "dd-exit=$?"`)
	mustExit(t, r, 0)
	if !strings.HasPrefix(r.stdout, "33554432\n") {
		t.Errorf("inside, memory.max reads %q, want 33554432", r.stdout)
	}
	if !strings.Contains(r.stdout, "dd-exit=137") {
		t.Errorf("dd with a 64M buffer under memory.max 32M: want it SIGKILLed (exit 137), got %s", r)
	}
	if n := cgKey(t, dir, "memory.events", "oom_kill"); n != 1 {
		t.Errorf("memory.events oom_kill = %d, want 1\n%s", n, cgRead(t, dir, "memory.events"))
	}
	if !pidAlive(st.Pid) || h.mustState(h.id).Status != "running" {
		t.Errorf("the OOM kill took init %d too; only the hog should die", st.Pid)
	}
	waitOutput(t, ev.stdout, `"type":"oom"`, 15*time.Second)

	mustExit(t, h.do("kill", h.id, "KILL"), 0)
	er := ev.wait(15 * time.Second)
	if er.exit != 0 {
		t.Errorf("events after the container stopped: %s", er)
	}
	ooms := 0
	for _, e := range parseEvents(t, er.stdout) {
		switch e.Type {
		case "oom":
			ooms++
			if e.ID != h.id || len(e.Data) != 0 {
				t.Errorf("oom event %+v, want {\"type\":\"oom\",\"id\":%q}", e, h.id)
			}
		case "stats":
			var d statsData
			if err := json.Unmarshal(e.Data, &d); err != nil {
				t.Fatalf("stats event: %v", err)
			}
			if d.Memory.Usage.Limit != 32<<20 {
				t.Errorf("stats memory.usage.limit = %d, want %d", d.Memory.Usage.Limit, 32<<20)
			}
		default:
			t.Errorf("unexpected event %+v", e)
		}
	}
	if ooms != 1 {
		t.Errorf("events reported %d oom events, want 1:\n%s", ooms, er.stdout)
	}
}

// TestCgroupPidsMax: pids.limit 10 becomes pids.max; a shell starting
// background sleeps fails to fork the one that would exceed it ("can't
// fork"), pids.events counts the refusal, and the container keeps running.
func TestCgroupPidsMax(t *testing.T) {
	t.Parallel()
	needControllers(t, "pids")
	h := newHarness(t)
	dir := cgDir(t, h)
	limit := int64(10)
	// init (1) + the looping shell (1) + 8 sleeps reach 10: the 9th fork fails
	// and ends the loop's shell with an error.
	s := baseSpec(shell(`sh -c 'i=0; while [ $i -lt 20 ]; do sleep 1000 & i=$((i+1)); echo "started $i"; done; echo all-forked' 2>&1
echo "loop-exit=$?"; exec sleep 1001`)...)
	s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
	cr := h.create(s)
	mustExit(t, cr, 0)
	initPid := h.mustState(h.id).Pid
	if got := cgRead(t, dir, "pids.max"); got != "10" {
		t.Errorf("pids.max = %q, want 10", got)
	}
	mustExit(t, h.do("start", h.id), 0)
	out := waitOutput(t, cr.stdoutPath, "loop-exit=", cmdTimeout)
	if !strings.Contains(out, "can't fork") && !strings.Contains(out, "Resource temporarily unavailable") {
		t.Errorf("no fork failure reported; output:\n%s", out)
	}
	if strings.Contains(out, "all-forked") || !strings.Contains(out, "started 8\n") || strings.Contains(out, "started 9\n") {
		t.Errorf("want exactly 8 sleeps started under pids.max 10 (init and the loop's shell count), output:\n%s", out)
	}
	if strings.Contains(out, "loop-exit=0") {
		t.Errorf("the loop's shell exited 0 after a failed fork:\n%s", out)
	}
	if n := cgKey(t, dir, "pids.events", "max"); n < 1 {
		t.Errorf("pids.events max = %d, want at least 1", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cmdlineOf(initPid) != "sleep 1001" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if cur := cgRead(t, dir, "pids.current"); cur != "9" {
		t.Errorf("pids.current = %s, want 9 (init's sleep and 8 sleeps)", cur)
	}
	if st := h.mustState(h.id); st.Status != "running" || st.Pid != initPid {
		t.Errorf("state %+v, want init %d running", st, initPid)
	}
	// One task of room left: exec's helper (a Go program, with threads) may or may not
	// fit, depending on when its threads start; if it does not, the error must say why
	// and how to fix it, not only show the runtime's abort.
	if r := h.do("exec", h.id, "echo", "exec-ok"); r.exit != 0 {
		t.Logf("exec at the pids limit failed (exit %d): %s", r.exit, lastLine(r.stderr))
		if !strings.Contains(r.stderr, "pids limit (pids.max 10)") || !strings.Contains(r.stderr, "linux.resources.pids.limit") {
			t.Errorf("exec into a container at its pids limit failed without naming the limit: %s", r)
		}
	} else if !strings.Contains(r.stdout, "exec-ok") {
		t.Errorf("exec at the pids limit exited 0 without its output: %s", r)
	}
}

// TestCgroupCPUAndIO: cpu.quota/period, cpu.shares (converted), cpu.cpus,
// cpu.mems and blockIO throttles hold in cpu.max, cpu.weight, cpuset.* and
// io.max, seen from the host and inside; the cpuset pins the container and
// the quota throttles a busy loop, which `events --stats` reports with its
// CPU usage.
func TestCgroupCPUAndIO(t *testing.T) {
	t.Parallel()
	needControllers(t, "cpu", "cpuset", "io")
	dev, maj, min := vmDisk(t)
	h := newHarness(t)
	dir := cgDir(t, h)
	cpus := "0"
	if n := strings.TrimSpace(readFile("/sys/devices/system/cpu/online")); n != "0" {
		cpus = "1"
	}
	shares, quota, period := uint64(512), int64(5000), uint64(10000)
	s := baseSpec(shell(cgCatScript("cpu.max", "cpu.weight", "cpuset.cpus", "cpuset.mems", "io.max") + `
grep Cpus_allowed_list /proc/self/status | tr -d '\t' | tr : =
echo "before=$(grep usage_usec /sys/fs/cgroup/cpu.stat)"
timeout 1 sh -c 'while :; do :; done'
echo "after=$(grep usage_usec /sys/fs/cgroup/cpu.stat)"
echo worked; exec sleep 1000`)...)
	withCgroupNS(s)
	s.Linux.Resources = &specs.LinuxResources{
		CPU: &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period, Cpus: cpus, Mems: "0"},
		BlockIO: &specs.LinuxBlockIO{
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: maj, Minor: min}, Rate: 1 << 20}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: maj, Minor: min}, Rate: 100}},
		},
	}
	cr := h.create(s)
	mustExit(t, cr, 0)
	mustExit(t, h.do("start", h.id), 0)
	out := waitOutput(t, cr.stdoutPath, "worked\n", cmdTimeout)
	cgCheckFiles(t, dir, out, map[string]string{
		"cpu.max":     "5000 10000",
		"cpu.weight":  strconv.FormatUint(cpuWeightFor(shares), 10),
		"cpuset.cpus": cpus,
		"cpuset.mems": "0",
		"io.max":      dev + " rbps=1048576 wbps=max riops=max wiops=100",
	})
	in := cgInsideValues(out)
	if got := in["Cpus_allowed_list"]; got != cpus {
		t.Errorf("inside, Cpus_allowed_list = %q, want %q (cpuset.cpus)", got, cpus)
	}
	// One second of a busy loop on one CPU with half a CPU of quota, in 10ms
	// periods: the quota runs out in most of them. The kernel's throttling
	// counters are the witness; the CPU time used is only logged, because an
	// emulated guest charges a task for the time its vCPU was descheduled
	// on a busy host, which can exceed the quota for a while.
	var before, after int64
	if _, err := fmt.Sscanf(in["before"]+" "+in["after"], "usage_usec %d usage_usec %d", &before, &after); err != nil {
		t.Fatalf("cpu.stat usage_usec before and after the loop: %q, %q: %v", in["before"], in["after"], err)
	}
	t.Logf("the 1s busy loop under cpu.max 5000 10000 used %dus of CPU", after-before)
	if after <= before {
		t.Errorf("cpu.stat usage_usec did not grow over a 1s busy loop: %d then %d", before, after)
	}
	if thr, tus := cgKey(t, dir, "cpu.stat", "nr_throttled"), cgKey(t, dir, "cpu.stat", "throttled_usec"); thr < 1 || tus < 1 {
		t.Errorf("cpu.stat nr_throttled = %d, throttled_usec = %d after a 1s busy loop under cpu.max 5000 10000, want both > 0\n%s",
			thr, tus, cgRead(t, dir, "cpu.stat"))
	}
	usec := cgKey(t, dir, "cpu.stat", "usage_usec")
	d := statsOnce(t, h)
	if d.CPU.Usage.Total == 0 || d.CPU.Usage.Total < uint64(usec)*1000 {
		t.Errorf("events --stats cpu.usage.total = %d ns, want > 0 and at least cpu.stat's earlier usage_usec %d", d.CPU.Usage.Total, usec)
	}
	if d.CPU.Throttling.ThrottledPeriods == 0 || d.CPU.Throttling.Periods < d.CPU.Throttling.ThrottledPeriods {
		t.Errorf("events --stats cpu.throttling %+v, want throttled periods > 0", d.CPU.Throttling)
	}
}

// cgAddCap gives the container's process capability c.
func cgAddCap(s *specs.Spec, c string) {
	p := s.Process.Capabilities
	p.Bounding = append(p.Bounding, c)
	p.Effective = append(p.Effective, c)
	p.Permitted = append(p.Permitted, c)
}

// TestCgroupDevicesUpdate: the device filter lets the container use
// /dev/null and make device nodes, but not open a disk it made a node for
// (EPERM) or /dev/kmsg's node; `hull update --resources` with an allow rule
// for the disk makes it readable at once, and only it.
func TestCgroupDevicesUpdate(t *testing.T) {
	t.Parallel()
	_, maj, min := vmDisk(t)
	h := newHarness(t)
	cgDir(t, h)
	s := baseSpec(shell(fmt.Sprintf(`exec 2>&1
mknod /dev/disk b %d %d && echo mknod-disk-ok
mknod /dev/kmsg2 c 1 11 && echo mknod-kmsg-ok
echo x > /dev/null && echo null-ok
head -c 512 /dev/disk | wc -c
head -c 1 /dev/kmsg2 | wc -c
echo done; exec sleep 1000`, maj, min))...)
	cgAddCap(s, "CAP_MKNOD")
	s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	cr := h.create(s)
	mustExit(t, cr, 0)
	mustExit(t, h.do("start", h.id), 0)
	out := waitOutput(t, cr.stdoutPath, "done\n", cmdTimeout)
	for _, w := range []string{"mknod-disk-ok", "mknod-kmsg-ok", "null-ok"} {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("before the update: no %q; output:\n%s", w, out)
		}
	}
	// Both reads fail: wc counts 0 bytes, and head says why.
	if strings.Count(out, "\n0\n") != 2 || strings.Count(out, "Operation not permitted") != 2 {
		t.Errorf("before the update, opening the disk %d:%d and kmsg must fail with EPERM; output:\n%s", maj, min, out)
	}

	majp, minp := maj, min
	res, err := json.Marshal(specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "b", Major: &majp, Minor: &minp, Access: "r"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	resFile := filepath.Join(h.outDir, "resources.json")
	if err := os.WriteFile(resFile, res, 0o644); err != nil {
		t.Fatal(err)
	}
	mustExit(t, h.do("update", "--resources", resFile, h.id), 0)
	r := h.do("exec", h.id, "sh", "-c", `echo "disk=$(head -c 512 /dev/disk | wc -c)"; echo "kmsg=$(head -c 1 /dev/kmsg2 | wc -c)"; echo x > /dev/null && echo null-ok`)
	mustExit(t, r, 0)
	got := cgInsideValues(r.stdout)
	if got["disk"] != "512" {
		t.Errorf("after update --resources allowing b %d:%d r, reading it gave %q bytes, want 512\n%s", maj, min, got["disk"], r)
	}
	if got["kmsg"] != "0" || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("after the update, kmsg (not allowed) must still fail with EPERM: %s", r)
	}
	if !strings.Contains(r.stdout, "null-ok") {
		t.Errorf("after the update, /dev/null (a default device) is unusable: %s", r)
	}
}

// TestCgroupUpdateMemoryPids: `hull update --memory 64M --pids-limit 20`
// changes memory.max and pids.max of a running container at once; the
// values are recorded, so a second update that names only the swap and the
// CPU quota keeps them (a shell cannot fork past 20 afterwards) and
// computes the swap from the recorded memory limit.
func TestCgroupUpdateMemoryPids(t *testing.T) {
	t.Parallel()
	needControllers(t, "memory", "pids", "cpu")
	h := newHarness(t)
	dir := cgDir(t, h)
	mem, pids := int64(128<<20), int64(50)
	s := sleeperSpec()
	withCgroupNS(s)
	s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}, Pids: &specs.LinuxPids{Limit: &pids}}
	st := h.startContainer(s)
	if got := cgRead(t, dir, "memory.max"); got != "134217728" {
		t.Errorf("before the update, memory.max = %q, want 134217728", got)
	}
	if got := cgRead(t, dir, "pids.max"); got != "50" {
		t.Errorf("before the update, pids.max = %q, want 50", got)
	}

	mustExit(t, h.do("update", "--memory", "64M", "--pids-limit", "20", h.id), 0)
	r := h.do("exec", h.id, "sh", "-c", cgCatScript("memory.max", "pids.max"))
	mustExit(t, r, 0)
	cgCheckFiles(t, dir, r.stdout, map[string]string{"memory.max": "67108864", "pids.max": "20"})
	if got := h.mustState(h.id); got.Status != "running" || got.Pid != st.Pid {
		t.Errorf("state after update: %+v, want init %d running", got, st.Pid)
	}

	mustExit(t, h.do("update", "--memory-swap", "96M", "--cpu-quota", "80000", h.id), 0)
	want := map[string]string{"memory.max": "67108864", "pids.max": "20", "cpu.max": "80000 100000"}
	// runc 1.2's --cpu-burst and --cpu-idle, where the kernel has the files.
	var extra []string
	if _, err := os.Stat(filepath.Join(dir, "cpu.max.burst")); err == nil {
		extra = append(extra, "--cpu-burst", "20000")
		want["cpu.max.burst"] = "20000"
	}
	if _, err := os.Stat(filepath.Join(dir, "cpu.idle")); err == nil {
		extra = append(extra, "--cpu-idle", "1")
		want["cpu.idle"] = "1"
	}
	if len(extra) > 0 {
		mustExit(t, h.do(append(append([]string{"update"}, extra...), h.id)...), 0)
	}
	if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
		want["memory.swap.max"] = "33554432" // 96M of memory+swap with 64M of memory
	}
	// Then 25 background sleeps stop at the limit in force: init and this
	// shell count, so 18 start.
	r = h.do("exec", h.id, "sh", "-c", cgCatScript(cgSortedNames(want)...)+`
i=0; while [ $i -lt 25 ]; do sleep 999 & i=$((i+1)); echo "started=$i"; done; echo all-forked`)
	cgCheckFiles(t, dir, r.stdout, want)
	started := regexp.MustCompile(`started=([0-9]+)\n`).FindAllStringSubmatch(r.stdout, -1)
	if strings.Contains(r.stdout, "all-forked") || len(started) != 18 || r.exit == 0 {
		t.Errorf("under the updated pids.max 20: want 18 sleeps started, then a failed fork ending the shell; got %d: %s", len(started), r)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
