package devices_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/libruntime/cgroups"
	"github.com/hull-runtime/hull/libruntime/cgroups/devices"
)

// The test binary doubles as the process that tries devices from inside a
// filtered cgroup.
const helperEnv = "HULL_DEVICES_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(hulltest.RunDeviceProbes(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func ptr(v int64) *int64 { return &v }

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		rule specs.LinuxDeviceCgroup
		// field is what the error names, "" when the rule is valid.
		field string
	}{
		{"deny all", specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}, ""},
		{"char", specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(1), Minor: ptr(3), Access: "rw"}, ""},
		{"block wildcard minus one", specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: ptr(-1), Minor: ptr(-1), Access: "m"}, ""},
		{"type a", specs.LinuxDeviceCgroup{Type: "a", Access: "r"}, ""},
		// runc refuses an unset access too; read as "rwm" it would allow every device.
		{"access unset on allow", specs.LinuxDeviceCgroup{Allow: true}, "access"},
		{"access unset on deny", specs.LinuxDeviceCgroup{Allow: false, Type: "c"}, "access"},
		{"bad type", specs.LinuxDeviceCgroup{Type: "u", Access: "r"}, "type"},
		{"bad access", specs.LinuxDeviceCgroup{Type: "c", Access: "rx"}, "access"},
		{"negative major", specs.LinuxDeviceCgroup{Type: "c", Major: ptr(-2), Access: "r"}, "major"},
		{"negative minor", specs.LinuxDeviceCgroup{Type: "c", Minor: ptr(-7), Access: "r"}, "minor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules := []specs.LinuxDeviceCgroup{{Allow: true, Access: "r"}, tc.rule}
			ok := tc.field == ""
			err := devices.Validate(rules)
			if (err == nil) != ok {
				t.Fatalf("Validate = %v, want ok %v", err, ok)
			}
			if want := "linux.resources.devices[1]." + tc.field + ": "; err != nil && !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
			if _, perr := devices.Program(rules); (perr == nil) != ok {
				t.Errorf("Program = %v, want ok %v", perr, ok)
			}
		})
	}
}

// TestLoad loads programs into the kernel: the verifier must accept every
// shape the compiler makes.
func TestLoad(t *testing.T) {
	hulltest.RequireRoot(t) // loading BPF programs
	many := make([]specs.LinuxDeviceCgroup, 0, 600)
	for i := int64(0); i < 600; i++ {
		many = append(many, specs.LinuxDeviceCgroup{Allow: i%2 == 0, Type: "c", Major: ptr(i), Minor: ptr(i), Access: "rw"})
	}
	// Compiled rule by rule: a tree would have every major times every minor.
	var cross []specs.LinuxDeviceCgroup
	for i := int64(0); i < 100; i++ {
		cross = append(cross,
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(i), Access: "r"},
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Minor: ptr(i), Access: "w"})
	}
	tests := []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
	}{
		{"empty", nil},
		{"defaults", devices.DefaultRules()},
		{"600 rules", many},
		{"majors times wildcard-major minors", cross},
		{"numbers beyond 32 bits", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr(1 << 40), Access: "r"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := devices.Load(tc.rules)
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			if prog.Type() != ebpf.CGroupDevice {
				t.Errorf("program type %v", prog.Type())
			}
		})
	}
}

// probe is one attempt of the helper: open a device node with access, or
// mknod one (access "m").
type probe struct {
	typ          string // "c" or "b"
	major, minor int64
	access       string // "r", "w", "rw", "m", or "" for access(2) with F_OK
	allowed      bool
}

func (p probe) String() string {
	return fmt.Sprintf("%s %d:%d %s", p.typ, p.major, p.minor, p.access)
}

// TestFilter attaches programs to a cgroup and checks, from a process in it,
// which opens and mknods of device nodes get through: the outcome of the
// rules as the spec orders them, last match winning per access bit.
func TestFilter(t *testing.T) {
	mount := requireCgroup(t)
	A, B := hulltest.UnusedCharMajor(t), int64(0)
	for B = A + 1; B < A+100; B++ {
		if _, err := os.Stat(fmt.Sprintf("/sys/dev/char/%d:0", B)); err != nil {
			break
		}
	}
	rule := func(allow bool, typ string, major, minor *int64, access string) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: major, Minor: minor, Access: access}
	}
	denyAll := rule(false, "a", nil, nil, "rwm")
	tests := []struct {
		name   string
		rules  []specs.LinuxDeviceCgroup
		probes []probe
	}{
		{"no rules deny everything", nil, []probe{
			{"c", 1, 3, "r", false}, {"c", A, 0, "m", false}, {"b", A, 0, "r", false},
		}},
		{"defaults", devices.DefaultRules(), []probe{
			{"c", 1, 3, "rw", true}, {"c", 1, 5, "r", true}, {"c", 136, 7, "rw", true}, {"c", 5, 2, "rw", true},
			{"c", 5, 1, "r", false}, {"c", 10, 237, "r", false}, {"c", A, 0, "r", false}, {"b", A, 0, "w", false},
			{"c", A, 0, "m", true}, {"b", A, 1, "m", true},
		}},
		{"deny all then one allowed", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", ptr(A), ptr(1), "rw")}, []probe{
			{"c", A, 1, "rw", true}, {"c", A, 1, "m", false}, {"c", A, 2, "r", false}, {"b", A, 1, "r", false},
		}},
		{"later deny of one bit wins", []specs.LinuxDeviceCgroup{rule(true, "c", ptr(A), ptr(0), "rw"), rule(false, "c", ptr(A), ptr(0), "w")}, []probe{
			{"c", A, 0, "r", true}, {"c", A, 0, "w", false}, {"c", A, 0, "rw", false},
		}},
		{"later allow wins over earlier deny", []specs.LinuxDeviceCgroup{rule(false, "c", ptr(A), ptr(0), "w"), rule(true, "c", ptr(A), ptr(0), "rw")}, []probe{
			{"c", A, 0, "w", true}, {"c", A, 0, "rw", true},
		}},
		{"bits allowed by separate rules add up", []specs.LinuxDeviceCgroup{rule(true, "c", ptr(A), ptr(0), "r"), rule(true, "c", ptr(A), ptr(0), "w")}, []probe{
			{"c", A, 0, "rw", true}, {"c", A, 0, "m", false},
		}},
		{"allow all but a major", []specs.LinuxDeviceCgroup{rule(true, "a", nil, nil, "rwm"), rule(false, "c", ptr(A), nil, "rwm")}, []probe{
			{"c", A, 0, "r", false}, {"c", A, 9, "m", false}, {"c", B, 0, "r", true}, {"b", A, 0, "r", true},
		}},
		{"minor wildcard as -1", []specs.LinuxDeviceCgroup{rule(true, "c", ptr(A), ptr(-1), "r")}, []probe{
			{"c", A, 0, "r", true}, {"c", A, 77, "r", true}, {"c", A, 77, "w", false}, {"c", B, 0, "r", false},
		}},
		{"type a with numbers covers both types", []specs.LinuxDeviceCgroup{rule(true, "a", ptr(A), ptr(0), "r")}, []probe{
			{"c", A, 0, "r", true}, {"b", A, 0, "r", true}, {"c", A, 1, "r", false},
		}},
		{"block only", []specs.LinuxDeviceCgroup{rule(true, "b", nil, nil, "rwm")}, []probe{
			{"b", A, 0, "rw", true}, {"b", A, 3, "m", true}, {"c", A, 0, "r", false}, {"c", 1, 3, "r", false},
		}},
		{"mknod only", []specs.LinuxDeviceCgroup{rule(true, "c", ptr(A), nil, "m")}, []probe{
			{"c", A, 4, "m", true}, {"c", A, 4, "r", false},
		}},
		// access(F_OK) asks for no bit: allowed where the last matching rule allows.
		{"access F_OK", []specs.LinuxDeviceCgroup{denyAll, rule(true, "c", ptr(A), ptr(1), "rw"), rule(false, "c", ptr(A), ptr(2), "r")}, []probe{
			{"c", A, 1, "", true}, {"c", A, 2, "", false}, {"c", A, 3, "", false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			results := runInFilteredCgroup(t, mount, tc.rules, tc.probes)
			for i, p := range tc.probes {
				denied := results[i] == "EPERM"
				if denied == p.allowed {
					t.Errorf("%v: got %s, want allowed=%v", p, results[i], p.allowed)
				}
			}
		})
	}
}

func requireCgroup(t *testing.T) string {
	t.Helper()
	hulltest.RequireRoot(t)
	mount, err := cgroups.Mount()
	hulltest.Require(t, "a cgroup2 mount (the host's /sys/fs/cgroup/unified, the VM's /sys/fs/cgroup)", err)
	return mount
}

// testCgroup makes a cgroup of the test's own below mount and returns an O_RDONLY
// descriptor of it; both go when the test ends.
func testCgroup(t *testing.T, mount string) int {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	cg := filepath.Join(mount, "hull-test-devices-"+hex.EncodeToString(b))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(cg); err != nil {
			t.Errorf("remove test cgroup: %v", err)
		}
	})
	dir, err := unix.Open(cg, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(dir) })
	return dir
}

// runInFilteredCgroup makes a cgroup of its own, attaches the rules, runs
// the probes from a process started in it and returns their results.
func runInFilteredCgroup(t *testing.T, mount string, rules []specs.LinuxDeviceCgroup, probes []probe) []string {
	t.Helper()
	nodes := hulltest.DeviceNodeDir(t)
	dir := testCgroup(t, mount)
	prog, err := devices.Load(rules)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if err := devices.Replace(dir, prog); err != nil {
		t.Fatal(err)
	}

	var args []string
	for i, p := range probes {
		if p.access == "m" {
			args = append(args, fmt.Sprintf("mknod %s/mk%d %s %d %d", nodes, i, p.typ, p.major, p.minor))
			continue
		}
		node := filepath.Join(nodes, fmt.Sprintf("%s%d_%d", p.typ, p.major, p.minor))
		mode := uint32(unix.S_IFCHR)
		if p.typ == "b" {
			mode = unix.S_IFBLK
		}
		err := unix.Mknod(node, mode|0o600, int(unix.Mkdev(uint32(p.major), uint32(p.minor))))
		if err != nil && !errors.Is(err, unix.EEXIST) {
			t.Fatalf("mknod %s: %v", node, err)
		}
		if p.access == "" {
			args = append(args, "exists "+node)
			continue
		}
		args = append(args, fmt.Sprintf("open %s %s", node, p.access))
	}
	return runHelper(t, dir, args)
}

// runHelper runs the probes in a process started in the cgroup open at dir.
func runHelper(t *testing.T, dir int, args []string) []string {
	t.Helper()
	return hulltest.ProbeDevices(t, dir, helperEnv+"=1", args...)
}

// TestReplace: replacing the filter leaves exactly the new program attached,
// and the new rules are the ones enforced.
func TestReplace(t *testing.T) {
	mount := requireCgroup(t)
	A := hulltest.UnusedCharMajor(t)
	nodes := hulltest.DeviceNodeDir(t)
	node := filepath.Join(nodes, "a")
	if err := unix.Mknod(node, unix.S_IFCHR|0o600, int(unix.Mkdev(uint32(A), 0))); err != nil {
		t.Fatal(err)
	}
	dir := testCgroup(t, mount)

	steps := []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string // result of opening the node for reading
	}{
		{"deny", nil, "EPERM"},
		{"allow", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr(A), Access: "r"}}, "ENXIO"},
		{"deny again", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr(1), Access: "r"}}, "EPERM"},
	}
	for _, s := range steps {
		prog, err := devices.Load(s.rules)
		if err != nil {
			t.Fatal(err)
		}
		err = devices.Replace(dir, prog)
		info, _ := prog.Info()
		id, _ := info.ID()
		prog.Close()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		ids, err := devices.Attached(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0] != id {
			t.Fatalf("%s: attached programs %v, want only %d", s.name, ids, id)
		}
		if got := runHelper(t, dir, []string{"open " + node + " r"}); got[0] != s.want {
			t.Errorf("%s: open = %s, want %s", s.name, got[0], s.want)
		}
	}
}
