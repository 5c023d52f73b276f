package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestParseSystemdPath: runc's reading of a systemd cgroupsPath, the scope's
// name, and the forms refused before systemd is asked.
func TestParseSystemdPath(t *testing.T) {
	const form = `: with --systemd-cgroup it must have the form slice:prefix:name (e.g. system.slice:hull:<id>); drop --systemd-cgroup to use a cgroupfs path`
	tests := []struct {
		path       string
		slice, cur string // want: the slice and the unit, or cur is the error
		ok         bool
	}{
		{"", "system.slice", "hull-ctr.scope", true},
		{"system.slice:docker:abc", "system.slice", "docker-abc.scope", true},
		{":docker:abc", "system.slice", "docker-abc.scope", true},
		{"machine.slice:libpod:abc", "machine.slice", "libpod-abc.scope", true},
		{"a-b-c.slice:p:n", "a-b-c.slice", "p-n.scope", true},
		{"-.slice:p:n", "-.slice", "p-n.scope", true},
		{"system.slice::abc", "system.slice", "abc.scope", true},
		{`system.slice:p\x2d:n_1.2`, "system.slice", `p\x2d-n_1.2.scope`, true},
		{"/hull/x", "", `linux.cgroupsPath "/hull/x"` + form, false},
		{"a:b", "", `linux.cgroupsPath "a:b"` + form, false},
		{"a:b:c:d", "", `linux.cgroupsPath "a:b:c:d"` + form, false},
		{"system:p:n", "", `linux.cgroupsPath "system:p:n": slice "system" does not end in .slice; name a systemd slice such as system.slice or machine-pods.slice`, false},
		{".slice:p:n", "", `does not end in .slice`, false},
		{"a--b.slice:p:n", "", `slice "a--b.slice" has an empty part between dashes`, false},
		{"-a.slice:p:n", "", `has an empty part between dashes`, false},
		{"a-.slice:p:n", "", `has an empty part between dashes`, false},
		{"a/b.slice:p:n", "", `slice "a/b.slice" has '/', which systemd refuses in a unit name`, false},
		{"system.slice:p:", "", `the name part "" is empty`, false},
		{"system.slice:p:x.slice", "", `ends in .slice: a slice cannot hold the container's processes`, false},
		{"system.slice:p:a/b", "", `the name part "a/b" has '/', which systemd refuses`, false},
		{"system.slice:p p:n", "", `the prefix part "p p" has ' '`, false},
		{"system.slice:p:" + strings.Repeat("n", 250), "", `longer than systemd's 255 bytes`, false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			u, err := parseSystemdPath(tc.path, "ctr")
			switch {
			case tc.ok && (err != nil || u.slice != tc.slice || u.name != tc.cur):
				t.Fatalf("parseSystemdPath(%q) = %+v, %v; want %s in %s", tc.path, u, err, tc.cur, tc.slice)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.cur)):
				t.Fatalf("parseSystemdPath(%q) = %+v, %v; want an error with %q", tc.path, u, err, tc.cur)
			}
		})
	}
}

// TestExpandSlice: systemd nests a slice below the slices its dashes name.
func TestExpandSlice(t *testing.T) {
	for in, want := range map[string]string{
		"system.slice":    "/system.slice",
		"a-b.slice":       "/a.slice/a-b.slice",
		"a-b-c.slice":     "/a.slice/a-b.slice/a-b-c.slice",
		"machine-x.slice": "/machine.slice/machine-x.slice",
		"-.slice":         "/",
		"x.y-z.slice":     "/x.y.slice/x.y-z.slice",
	} {
		got, err := expandSlice(in)
		if err != nil || got != want {
			t.Errorf("expandSlice(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".slice", "a", "a.scope", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice", "a b.slice"} {
		if got, err := expandSlice(in); err == nil {
			t.Errorf("expandSlice(%q) = %q, want an error", in, got)
		}
	}
	// The scope's directory: the expanded slice and the unit, below the mount.
	got, err := unitPath("/sys/fs/cgroup", unit{slice: "a-b.slice", name: "p-n.scope"})
	if want := "/sys/fs/cgroup/a.slice/a-b.slice/p-n.scope"; err != nil || got != want {
		t.Errorf("unitPath = %q, %v; want %q", got, err, want)
	}
	got, err = unitPath("/sys/fs/cgroup", unit{slice: "-.slice", name: "p-n.scope"})
	if want := "/sys/fs/cgroup/p-n.scope"; err != nil || got != want {
		t.Errorf("unitPath in the root slice = %q, %v; want %q", got, err, want)
	}
}

// propText renders properties as Name=<GVariant text>, in order.
func propText(props []sdbus.Property) string {
	var b strings.Builder
	for i, p := range props {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Name + "=" + p.Value.String())
	}
	return b.String()
}

// TestAnnotationProperties: org.systemd.property.* annotations are read as runc
// reads them, and what runc refuses is refused, naming the annotation.
func TestAnnotationProperties(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want string // the properties, or a part of the error
		ok   bool
	}{
		{"none", map[string]string{"other": "x"}, "", true},
		{"typed", map[string]string{"org.systemd.property.TimeoutStopUSec": "uint64 123456789"}, "TimeoutStopUSec=@t 123456789", true},
		{"string", map[string]string{"org.systemd.property.CollectMode": "'inactive-or-failed'"}, `CollectMode="inactive-or-failed"`, true},
		{"bool", map[string]string{"org.systemd.property.SendSIGHUP": "true"}, "SendSIGHUP=true", true},
		{"Sec to USec", map[string]string{"org.systemd.property.TimeoutStopSec": "2"}, "TimeoutStopUSec=@t 2000000", true},
		{"Sec double", map[string]string{"org.systemd.property.RuntimeMaxSec": "1.5"}, "RuntimeMaxUSec=@t 1500000", true},
		{"USec stays", map[string]string{"org.systemd.property.RuntimeMaxUSec": "uint64 7"}, "RuntimeMaxUSec=@t 7", true},
		// An uppercase letter before Sec is not the seconds form.
		{"CSec stays", map[string]string{"org.systemd.property.FooCSec": "uint64 7"}, "FooCSec=@t 7", true},
		{"sorted", map[string]string{"org.systemd.property.Bbb": "true", "org.systemd.property.Aaa": "false"}, "Aaa=false; Bbb=true", true},
		{"short name", map[string]string{"org.systemd.property.Ab": "true"}, `annotations["org.systemd.property.Ab"]: the systemd property name "Ab" is shorter than 3 letters`, false},
		{"non-letter", map[string]string{"org.systemd.property.Foo_Bar": "true"}, `has '_', not a letter`, false},
		{"empty name", map[string]string{"org.systemd.property.": "true"}, `is shorter than 3 letters`, false},
		{"bad value", map[string]string{"org.systemd.property.CollectMode": "inactive"}, `annotations["org.systemd.property.CollectMode"]: value "inactive" is not a D-Bus variant`, false},
		{"unterminated", map[string]string{"org.systemd.property.CollectMode": "'x"}, `is not a D-Bus variant`, false},
		{"Sec not a number", map[string]string{"org.systemd.property.TimeoutStopSec": "'x'"}, `s is not a number, and a ...Sec property takes a number of seconds`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			props, err := annotationProperties(tc.in)
			switch {
			case tc.ok && (err != nil || propText(props) != tc.want):
				t.Fatalf("got %q, %v; want %q", propText(props), err, tc.want)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %q, %v; want an error with %q", propText(props), err, tc.want)
			}
			if cerr := CheckSystemd(tc.in); (cerr == nil) != tc.ok {
				t.Fatalf("CheckSystemd = %v, want ok=%v", cerr, tc.ok)
			}
		})
	}
}

// TestResourceProperties: linux.resources as unit properties, with runc's
// conversions (and hull's cgroupfs ones, so both write the same values).
func TestResourceProperties(t *testing.T) {
	tests := []struct {
		name    string
		r       *specs.LinuxResources
		version int
		want    string
	}{
		{"nil", nil, 0, ""},
		{"memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20), Reservation: i64(1 << 19), Swap: i64(3 << 20)}}, 0,
			"MemoryMax=@t 1048576; MemoryLow=@t 524288; MemorySwapMax=@t 2097152"},
		{"memory unlimited", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}}, 0,
			"MemoryMax=@t 18446744073709551615; MemorySwapMax=@t 18446744073709551615"},
		{"swap equal to the limit: none", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20), Swap: i64(1 << 20)}}, 0,
			"MemoryMax=@t 1048576; MemorySwapMax=@t 0"},
		{"shares", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1024)}}, 0, "CPUWeight=@t 100"},
		{"shares min and max", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(2)}}, 0, "CPUWeight=@t 1"},
		{"idle", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1024), Idle: i64(1)}}, 252, "CPUWeight=@t 0"},
		{"idle, old systemd", &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(1)}}, 251, ""},
		{"quota and period", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000)}}, 0,
			"CPUQuotaPeriodUSec=@t 100000; CPUQuotaPerSecUSec=@t 500000"},
		{"quota rounded up to 10ms", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(12345)}}, 0,
			"CPUQuotaPerSecUSec=@t 130000"},
		{"unlimited quota", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(-1)}}, 0,
			"CPUQuotaPerSecUSec=@t 18446744073709551615"},
		{"period, old systemd", &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(20000), Period: u64(50000)}}, 241,
			"CPUQuotaPerSecUSec=@t 400000"},
		{"cpuset", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-2,9", Mems: "1"}}, 0,
			"AllowedCPUs=@ay [0x7, 0x2]; AllowedMemoryNodes=@ay [0x2]"},
		{"cpuset, old systemd", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}, 243, ""},
		{"pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(42)}}, 0, "TasksMax=@t 42"},
		{"pids unlimited", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}, 0, "TasksMax=@t 18446744073709551615"},
		{"pids 0: the file only", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}}, 0, ""},
		{"io", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight:                u16(500),
			WeightDevice:          []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: u16(10)}},
			ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1000}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{
				{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 0},
			},
		}}, 0, `IOWeight=@t 4950; IODeviceWeight=@a(st) [("/dev/block/8:0", 1,)]; IOReadBandwidthMax=@a(st) [("/dev/block/8:0", 1000,)]; IOWriteIOPSMax=@a(st) [("/dev/block/8:16", 18446744073709551615,)]`},
		{"unified", &specs.LinuxResources{Unified: map[string]string{
			"memory.high": "1000", "memory.min": "max", "pids.max": "7", "cpu.weight": "50", "cpu.max": "max 20000",
			"cpuset.cpus": "1", "io.max": "ignored", "memory.oom.group": "1",
		}}, 0, "CPUQuotaPeriodUSec=@t 20000; CPUQuotaPerSecUSec=@t 18446744073709551615; CPUWeight=@t 50; AllowedCPUs=@ay [0x2]; MemoryHigh=@t 1000; MemoryMin=@t 18446744073709551615; TasksMax=@t 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			props, err := resourceProperties(tc.r, tc.version, false)
			if err != nil || propText(props) != tc.want {
				t.Fatalf("got %q, %v\nwant %q", propText(props), err, tc.want)
			}
		})
	}
	// A bad unified value is refused, naming the key.
	if _, err := resourceProperties(&specs.LinuxResources{Unified: map[string]string{"memory.high": "lots"}}, 0, false); err == nil || !strings.Contains(err.Error(), `unified["memory.high"]`) {
		t.Fatalf("bad unified value: %v", err)
	}
	if got := propText(oomPolicy(map[string]string{"memory.oom.group": "1"})); got != `OOMPolicy="kill"` {
		t.Fatalf("oomPolicy = %q", got)
	}
}

// TestDeviceProperties: systemd's device list allows at least what hull's own
// filter does (both must allow an access), widened where systemd has no exact
// form, and "auto" for a rule that allows everything.
func TestDeviceProperties(t *testing.T) {
	dir := t.TempDir()
	old := procDevices
	procDevices = filepath.Join(dir, "devices")
	t.Cleanup(func() { procDevices = old })
	err := os.WriteFile(procDevices, []byte("Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n 10 misc\n 10 other\n\nBlock devices:\n  7 loop\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	dev := func(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
		if major >= 0 {
			r.Major = &major
		}
		if minor >= 0 {
			r.Minor = &minor
		}
		return r
	}
	tests := []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{"deny all, then allow", []specs.LinuxDeviceCgroup{dev(false, "a", -1, -1, "rwm"), dev(true, "c", 1, 3, "rw"), dev(true, "c", 1, 3, "m")},
			`DevicePolicy="strict"; DeviceAllow=[("/dev/char/1:3", "rwm",)]`},
		{"a major's every minor: by driver name", []specs.LinuxDeviceCgroup{dev(true, "c", 136, -1, "rwm"), dev(true, "b", 7, -1, "r")},
			`DevicePolicy="strict"; DeviceAllow=[("char-pts", "rwm",), ("block-loop", "r",)]`},
		{"unknown or shared major: the whole type", []specs.LinuxDeviceCgroup{dev(true, "c", 99, -1, "r"), dev(true, "c", 10, -1, "w")},
			`DevicePolicy="strict"; DeviceAllow=[("char-*", "rw",)]`},
		{"wildcard major", []specs.LinuxDeviceCgroup{dev(true, "c", -1, -1, "m"), dev(true, "b", -1, 3, "m")},
			`DevicePolicy="strict"; DeviceAllow=[("char-*", "m",), ("block-*", "m",)]`},
		{"type a, some access", []specs.LinuxDeviceCgroup{dev(true, "a", -1, -1, "m")},
			`DevicePolicy="strict"; DeviceAllow=[("char-*", "m",), ("block-*", "m",)]`},
		{"deny rules are hull's filter's", []specs.LinuxDeviceCgroup{dev(true, "c", 1, 5, "rwm"), dev(false, "c", 1, 5, "w")},
			`DevicePolicy="strict"; DeviceAllow=[("/dev/char/1:5", "rwm",)]`},
		{"allow everything", []specs.LinuxDeviceCgroup{dev(true, "c", 1, 5, "r"), dev(true, "", -1, -1, "rwm")},
			`DevicePolicy="auto"; DeviceAllow=@a(ss) []`},
		{"nothing allowed", nil, `DevicePolicy="strict"; DeviceAllow=@a(ss) []`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := propText(deviceProperties(tc.rules)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// Limit's list ends with hull's default rules.
	props, err := resourceProperties(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{dev(false, "a", -1, -1, "rwm")}}, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	want := `DevicePolicy="strict"; DeviceAllow=[("char-*", "m",), ("block-*", "m",), ("/dev/char/1:3", "rwm",), ("/dev/char/1:8", "rwm",), ("/dev/char/1:7", "rwm",), ("/dev/char/5:0", "rwm",), ("/dev/char/1:5", "rwm",), ("/dev/char/1:9", "rwm",), ("char-pts", "rwm",), ("/dev/char/5:2", "rwm",)]`
	if got := propText(props); got != want {
		t.Fatalf("with the defaults:\ngot  %s\nwant %s", got, want)
	}
}

func TestRangeToBits(t *testing.T) {
	for in, want := range map[string][]byte{
		"0":       {0x1},
		"0-7":     {0xff},
		"8":       {0x0, 0x1},
		"1,3-4":   {0x1a},
		" 0 , 9 ": {0x1, 0x2}, //nolint:gocritic // the spaces are the case: the list parser trims them
	} {
		got, err := rangeToBits(in)
		if err != nil || string(got) != string(want) {
			t.Errorf("rangeToBits(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "a", "3-1", "1-", "-1", ","} {
		if got, err := rangeToBits(in); err == nil {
			t.Errorf("rangeToBits(%q) = %x, want an error", in, got)
		}
	}
}

func TestParseSystemdVersion(t *testing.T) {
	for in, want := range map[string]int{`"252.33-1~deb12u1"`: 252, `"v245.4-1.fc32"`: 245, "255": 255} {
		if got, err := parseSystemdVersion(in); err != nil || got != want {
			t.Errorf("parseSystemdVersion(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSystemdVersion(`"x"`); err == nil {
		t.Error("parseSystemdVersion(\"x\") did not fail")
	}
}
