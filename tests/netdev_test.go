//go:build linux

package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// hostLink is a veth pair the test makes in the host's network namespace (this kernel
// has no dummy driver): name is moved into containers, its peer stays. Both go at the
// end of the test, wherever they are; a pair in a namespace that ended is gone already.
func hostLink(t *testing.T, tag string) (name string) {
	t.Helper()
	hulltest.RequireTool(t, "ip", "iproute2")
	name = fmt.Sprintf("hn%s%d", tag, os.Getpid()%100000)
	peer := name + "p"
	ip(t, "link", "add", name, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() {
		// Deleting either end deletes the pair: only names this test made.
		_ = exec.Command("ip", "link", "del", peer).Run()
		_ = exec.Command("ip", "link", "del", name).Run()
	})
	ip(t, "address", "add", "10.213.7.1/24", "dev", name)
	ip(t, "address", "add", "2001:db8:7::1/64", "dev", name, "nodad")
	ip(t, "link", "set", name, "up")
	return name
}

func ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func hostHasLink(name string) bool {
	return exec.Command("ip", "link", "show", "dev", name).Run() == nil
}

// testNetns makes a named network namespace (/run/netns/<name>) removed at the end.
func testNetns(t *testing.T, tag string) (name, path string) {
	t.Helper()
	name = fmt.Sprintf("hulltest-%s-%d", tag, os.Getpid())
	ip(t, "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return name, filepath.Join("/run/netns", name)
}

// TestNetDevices moves a host device into a new network namespace under a new name:
// inside it is there, up, with its addresses; on the host it is gone. The container's
// end takes the namespace's virtual devices with it (the spec: no move back at delete).
func TestNetDevices(t *testing.T) {
	h := newHarness(t)
	dev := hostLink(t, "a")
	s := baseSpec(shell(`ip -o link show dev ctr7; ip -o address show dev ctr7; ls /sys/class/net`)...)
	s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "ctr7"}}
	r := h.create(s)
	mustExit(t, r, 0)
	if hostHasLink(dev) {
		t.Errorf("%s is still in the host's network namespace after create", dev)
	}
	mustExit(t, h.do("start", h.id), 0)
	h.waitStatus(h.id, "stopped", 10*time.Second)
	out := r.readStdout()
	for _, want := range []string{"ctr7", "UP", "10.213.7.1/24", "2001:db8:7::1/64"} {
		if !strings.Contains(out, want) {
			t.Errorf("inside the container: no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, dev) {
		t.Errorf("the host name %s shows inside the container:\n%s", dev, out)
	}
	mustExit(t, h.do("delete", h.id), 0)
	// The kernel tears a dead network namespace down from a workqueue, after its last
	// process is gone: the pair goes shortly after delete, not by the time it returns.
	deadline := time.Now().Add(10 * time.Second)
	for (hostHasLink(dev) || hostHasLink(dev+"p")) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if hostHasLink(dev) || hostHasLink(dev+"p") {
		t.Errorf("a veth moved into a container's own network namespace outlived it by 10s")
	}
	h.assertNothingLeft(true)
}

// TestNetDevicesJoinedNetns moves a device into a network namespace the test made and
// the container joins: after delete it stays there, under the container's name for it
// (the spec forbids moving it out; runc 1.5 leaves it too).
func TestNetDevicesJoinedNetns(t *testing.T) {
	h := newHarness(t)
	dev := hostLink(t, "b")
	ns, nsPath := testNetns(t, "nd")
	s := baseSpec("true")
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = nsPath
		}
	}
	s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "ctr8"}}
	// run deletes the container when its process ends.
	mustExit(t, h.run(s), 0)
	if hostHasLink(dev) {
		t.Errorf("%s came back to the host", dev)
	}
	out := ip(t, "-n", ns, "address", "show", "dev", "ctr8")
	if !strings.Contains(out, "10.213.7.1/24") || !strings.Contains(out, "UP") {
		t.Errorf("ctr8 in the joined namespace after delete:\n%s", out)
	}
	h.assertNothingLeft(true)
}

// TestNetDevicesFailedCreate: a create that fails after the move (a createRuntime hook
// fails; a rename to a name the namespace has) gives the device back to the host under
// its own name, with its addresses and up, and leaves nothing.
func TestNetDevicesFailedCreate(t *testing.T) {
	for _, tc := range []struct {
		name, rename, want string
		hook               bool
	}{
		{name: "hook", rename: "ctr9", hook: true, want: "createRuntime hook"},
		{name: "rename", rename: "lo", want: "lo\\\" exists in the container's network namespace already"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			dev := hostLink(t, tc.name[:1])
			s := baseSpec("true")
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: tc.rename}}
			if tc.hook {
				s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
			}
			r := h.create(s)
			if r.exit == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("create: %s; want a failure with %q", r, tc.want)
			}
			out := ip(t, "address", "show", "dev", dev)
			for _, want := range []string{"10.213.7.1/24", "2001:db8:7::1/64", "UP"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s after the failed create: no %q in\n%s", dev, want, out)
				}
			}
			h.assertNothingLeft(true)
		})
	}
}

// TestNetDevicesRefused: a device hull's namespace lacks, and a config without a
// network namespace, fail create with the field and leave nothing.
func TestNetDevicesRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{"missing device", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"hullnodev0": {}}
		}, "linux.netDevices.hullnodev0: no network device"},
		{"no network namespace", func(s *specs.Spec) {
			removeNamespace(s, specs.NetworkNamespace)
			s.Mounts = s.Mounts[:len(s.Mounts)-1] // sysfs needs the container's own
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"lo": {}}
		}, `linux.netDevices: no network namespace`},
		{"bad name", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"lo": {Name: "x/y"}}
		}, `linux.netDevices.lo.name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			s := baseSpec("true")
			tc.mutate(s)
			r := h.create(s)
			if r.exit == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("create: %s; want a failure with %q", r, tc.want)
			}
			h.writeSpec(s)
			c := h.do("check", "--bundle", h.bundle)
			if c.exit == 0 || !strings.Contains(c.stdout+c.stderr, tc.want) {
				t.Errorf("check: %s; want %q", c, tc.want)
			}
			h.assertNothingLeft(true)
		})
	}
}

// TestNetDevicesRefusedMoveLeavesHost: a device the kernel will not move out of its
// network namespace (the loopback, a bridge: netns-local) fails create and is left as
// it was. Before the fix create set it down first, as runc does, and up again after
// the refusal: the host lost every route through it and its IPv6 addresses (the kernel
// flushes both when a device goes down), and its loopback for a moment. hull runs in
// a network namespace of the test's own (unshare -n), never the host's.
func TestNetDevicesRefusedMoveLeavesHost(t *testing.T) {
	t.Parallel()
	unshare := hulltest.RequireTool(t, "unshare", "util-linux")
	hulltest.RequireTool(t, "ip", "iproute2")
	for _, tc := range []struct{ name, dev, setup string }{
		{"bridge", "hsbr0", `ip link add hsbr0 type bridge
ip addr add 10.213.9.1/24 dev hsbr0
ip addr add 2001:db8:9::1/64 dev hsbr0 nodad
ip link set hsbr0 up
ip route add 10.213.10.0/24 via 10.213.9.2 dev hsbr0 onlink`},
		{"loopback", "lo", `ip route add 10.213.11.0/24 dev lo`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := baseSpec("true")
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{tc.dev: {Name: "ctr0"}}
			h.writeSpec(s)
			show := fmt.Sprintf(`ip -o link show dev %s | grep -o '<[^>]*>'; ip -o addr show dev %s | awk '{print "addr", $4}'; ip route | sed 's/^/route /'`, tc.dev, tc.dev)
			script := fmt.Sprintf("set -e\nip link set lo up\n%s\n%s\necho ===\n%s --root %s create --bundle %s %s </dev/null >/dev/null 2>&1 && echo CREATED\n%s\n",
				tc.setup, show, hullBinary, h.root, h.bundle, h.id, show)
			out, err := exec.Command(unshare, "-n", "sh", "-c", script).CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			before, after, ok := strings.Cut(string(out), "===\n")
			if !ok || strings.Contains(after, "CREATED") {
				t.Fatalf("want create to fail (the kernel refuses to move %s):\n%s", tc.dev, out)
			}
			if before != after {
				t.Errorf("ATTACK SUCCEEDED: a refused move of %s changed hull's network namespace:\nbefore:\n%safter:\n%s", tc.dev, before, after)
			}
		})
	}
}
