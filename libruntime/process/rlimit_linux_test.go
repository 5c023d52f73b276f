package process

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func TestRlimitFromName(t *testing.T) {
	tests := []struct {
		name    string
		want    int
		wantErr bool
	}{
		{"RLIMIT_CPU", unix.RLIMIT_CPU, false},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, false},
		{"RLIMIT_DATA", unix.RLIMIT_DATA, false},
		{"RLIMIT_STACK", unix.RLIMIT_STACK, false},
		{"RLIMIT_CORE", unix.RLIMIT_CORE, false},
		{"RLIMIT_RSS", unix.RLIMIT_RSS, false},
		{"RLIMIT_NPROC", unix.RLIMIT_NPROC, false},
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, false},
		{"RLIMIT_MEMLOCK", unix.RLIMIT_MEMLOCK, false},
		{"RLIMIT_AS", unix.RLIMIT_AS, false},
		{"RLIMIT_LOCKS", unix.RLIMIT_LOCKS, false},
		{"RLIMIT_SIGPENDING", unix.RLIMIT_SIGPENDING, false},
		{"RLIMIT_MSGQUEUE", unix.RLIMIT_MSGQUEUE, false},
		{"RLIMIT_NICE", unix.RLIMIT_NICE, false},
		{"RLIMIT_RTPRIO", unix.RLIMIT_RTPRIO, false},
		{"RLIMIT_RTTIME", unix.RLIMIT_RTTIME, false},
		{"RLIMIT_FOO", 0, true},
		{"rlimit_nofile", 0, true},
		{"NOFILE", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RlimitFromName(tt.name)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), strconv.Quote(tt.name)) {
					t.Fatalf("RlimitFromName(%q) = %d, %v; want an error naming it", tt.name, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("RlimitFromName(%q) = %d, %v; want %d", tt.name, got, err, tt.want)
			}
		})
	}
}

func init() {
	// rlimits applies the limits and then execs busybox cat
	// /proc/self/limits, so what the container would see is checked.
	scenarios["rlimits"] = func(b []byte) error {
		var rl []specs.POSIXRlimit
		if err := json.Unmarshal(b, &rl); err != nil {
			return err
		}
		if err := ApplyRlimits(rl); err != nil {
			return err
		}
		return execBusybox("cat", "/proc/self/limits")
	}
}

// parseLimits maps the rows of /proc/<pid>/limits ("Max open files") to
// "soft hard".
func parseLimits(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if len(line) < 26 || !strings.HasPrefix(line, "Max ") {
			continue
		}
		f := strings.Fields(line[25:])
		if len(f) >= 2 {
			m[strings.TrimSpace(line[:25])] = f[0] + " " + f[1]
		}
	}
	return m
}

func TestApplyRlimits(t *testing.T) {
	requireRoot(t)
	var host unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &host); err != nil {
		t.Fatal(err)
	}
	hostHard := host.Max
	tooHigh := hostHard + 10000

	tests := []struct {
		name    string
		rl      []specs.POSIXRlimit
		want    map[string]string
		wantErr string
	}{
		{
			name: "several limits",
			rl: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
				{Type: "RLIMIT_CORE", Soft: 0, Hard: 4096},
				{Type: "RLIMIT_NPROC", Soft: 1000, Hard: 2000},
				{Type: "RLIMIT_AS", Soft: unix.RLIM_INFINITY, Hard: unix.RLIM_INFINITY},
				{Type: "RLIMIT_MSGQUEUE", Soft: 1000, Hard: 2000},
			},
			want: map[string]string{
				"Max open files":     "100 200",
				"Max core file size": "0 4096",
				"Max processes":      "1000 2000",
				"Max address space":  "unlimited unlimited",
				"Max msgqueue size":  "1000 2000",
			},
		},
		{
			name: "hard nofile at the host's limit",
			rl:   []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: hostHard}},
			want: map[string]string{"Max open files": "1024 " + strconv.FormatUint(hostHard, 10)},
		},
		{
			name: "hard nofile above the host's limit",
			rl: []specs.POSIXRlimit{
				{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
				{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: tooHigh},
			},
			wantErr: "process.rlimits[1] (RLIMIT_NOFILE): hard limit " + strconv.FormatUint(tooHigh, 10) +
				" is above this host's " + strconv.FormatUint(hostHard, 10) +
				" and raising it needs CAP_SYS_RESOURCE; lower it to at most " + strconv.FormatUint(hostHard, 10),
		},
		{
			name:    "soft above hard",
			rl:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 300, Hard: 200}},
			wantErr: "process.rlimits[0] (RLIMIT_NOFILE): soft limit 300 is above hard limit 200",
		},
		{
			name: "duplicate type",
			rl: []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
				{Type: "RLIMIT_CORE", Soft: 0, Hard: 0},
				{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
			},
			wantErr: "process.rlimits[2] (RLIMIT_NOFILE): duplicates process.rlimits[0]",
		},
		{
			name:    "unknown type",
			rl:      []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS", Soft: 1, Hard: 1}},
			wantErr: `process.rlimits[0]: unknown rlimit type "RLIMIT_BOGUS"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.wantErr, "CAP_SYS_RESOURCE") && (hostCapEff(t).has(unix.CAP_SYS_RESOURCE) || hostHard == unix.RLIM_INFINITY) {
				hulltest.HostLimit(t, "root holds CAP_SYS_RESOURCE here and may raise hard limits; runs where it lacks it (the CI host)")
			}
			res := runChild(t, "rlimits", tt.rl)
			if tt.wantErr != "" {
				if got := res.childErr(); !strings.HasPrefix(got, tt.wantErr) {
					t.Fatalf("error = %q\nwant prefix %q\n(exit %d, stderr %s)", got, tt.wantErr, res.code, res.stderr)
				}
				return
			}
			res.mustSucceed(t)
			got := parseLimits(res.stdout)
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
		})
	}
}
