package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func TestCapFromName(t *testing.T) {
	// Numbers from <linux/capability.h>, written out so that a wrong
	// table entry cannot go unnoticed.
	known := []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
		"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
		"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
		"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
		"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
		"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
		"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
		"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
		"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
		"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
		"CAP_CHECKPOINT_RESTORE",
	}
	if len(capNames) != len(known) {
		t.Fatalf("want %d capabilities (CAP_CHOWN..CAP_CHECKPOINT_RESTORE), table has %d", len(known), len(capNames))
	}
	for want, name := range known {
		t.Run(name, func(t *testing.T) {
			got, err := CapFromName(name)
			if err != nil || got != want {
				t.Fatalf("CapFromName(%q) = %d, %v; want %d", name, got, err, want)
			}
			if capName(got) != name {
				t.Fatalf("capName(%d) = %q", got, capName(got))
			}
		})
	}
	for _, name := range []string{"", "CAP_FOO", "cap_chown", "CHOWN", " CAP_CHOWN", "CAP_CHOWN "} {
		t.Run("unknown "+strconv.Quote(name), func(t *testing.T) {
			_, err := CapFromName(name)
			if err == nil || !strings.Contains(err.Error(), strconv.Quote(name)) {
				t.Fatalf("CapFromName(%q) error = %v; want one naming it", name, err)
			}
		})
	}
}

func TestLastCap(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	hulltest.Require(t, "/proc/sys/kernel/cap_last_cap (Linux 3.2)", err)
	want, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if got := LastCap(); got != want {
		t.Errorf("LastCap() = %d, want %d", got, want)
	}
	if got := probeLastCap(); got != want {
		t.Errorf("probeLastCap() = %d, want %d", got, want)
	}
}

// credsArg drives the "creds" scenario: the steps init takes, in its order,
// then execve of busybox cat /proc/self/status.
type credsArg struct {
	Caps       *specs.LinuxCapabilities
	User       specs.User
	NoNewPrivs bool
}

const notGrantedPrefix = "notgranted: "

func init() {
	scenarios["creds"] = func(b []byte) error {
		var a credsArg
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		var missing []NotGranted
		collect := func(err error) error {
			var ng *NotGrantedError
			if errors.As(err, &ng) {
				missing = append(missing, ng.Caps...)
				return nil
			}
			return err
		}
		if err := collect(DropBounding(a.Caps)); err != nil {
			return err
		}
		if err := SetUser(a.User, false); err != nil {
			return err
		}
		if err := collect(ApplyCaps(a.Caps)); err != nil {
			return err
		}
		if a.NoNewPrivs {
			if err := SetNoNewPrivs(); err != nil {
				return err
			}
		}
		if missing != nil {
			j, _ := json.Marshal(missing)
			fmt.Fprintf(os.Stderr, "%s%s\n", notGrantedPrefix, j)
		}
		return execBusybox("cat", "/proc/self/status")
	}
}

func capsOf(names ...string) capSet {
	var s capSet
	for _, n := range names {
		c, err := CapFromName(n)
		if err != nil {
			panic(err)
		}
		s |= 1 << uint(c)
	}
	return s
}

func TestCredentials(t *testing.T) {
	requireRoot(t)
	host := hostCapEff(t)
	if !host.has(unix.CAP_SETUID) || !host.has(unix.CAP_SETGID) || !host.has(unix.CAP_SETPCAP) {
		hulltest.Require(t, "CAP_SETUID, CAP_SETGID and CAP_SETPCAP (root)", errors.New("not held"))
	}
	umask := uint32(0o027)
	nbs := []string{"CAP_NET_BIND_SERVICE"}

	tests := []struct {
		name string
		arg  credsArg
		// after execve
		inh, prm, eff, bnd, amb capSet
		uid, gid, groups        string
		umask                   string // "" to skip
		noNewPrivs              string
		notGranted              []NotGranted
		// lacksSysResource: the case relies on hull not holding CAP_SYS_RESOURCE.
		lacksSysResource bool
		wantErr          string
	}{
		{
			name: "user with ambient capability",
			arg: credsArg{
				Caps: &specs.LinuxCapabilities{
					Bounding:    []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"},
					Effective:   nbs,
					Permitted:   nbs,
					Inheritable: nbs,
					Ambient:     nbs,
				},
				User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: &umask},
			},
			inh: capsOf(nbs...), prm: capsOf(nbs...), eff: capsOf(nbs...), amb: capsOf(nbs...),
			bnd: capsOf("CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"),
			uid: "1000 1000 1000 1000", gid: "1000 1000 1000 1000", groups: "10 20",
			umask: "0027", noNewPrivs: "0",
		},
		{
			// Without ambient capabilities execve as a non-root user keeps
			// nothing, whatever was permitted before.
			name: "user without ambient loses capabilities at exec",
			arg: credsArg{
				Caps: &specs.LinuxCapabilities{
					Bounding:  []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"},
					Effective: nbs,
					Permitted: nbs,
				},
				User:       specs.User{UID: 1000, GID: 100},
				NoNewPrivs: true,
			},
			bnd: capsOf("CAP_CHOWN", "CAP_NET_BIND_SERVICE"),
			uid: "1000 1000 1000 1000", gid: "100 100 100 100", groups: "",
			noNewPrivs: "1",
		},
		{
			// For uid 0 the kernel makes the permitted set after execve
			// the bounding set, which is why DropBounding matters.
			name: "root gets its bounding set",
			arg: credsArg{
				Caps: &specs.LinuxCapabilities{
					Bounding:  []string{"CAP_CHOWN", "CAP_KILL"},
					Effective: []string{"CAP_CHOWN"},
					Permitted: []string{"CAP_CHOWN"},
				},
				User: specs.User{AdditionalGids: []uint32{5}},
			},
			prm: capsOf("CAP_CHOWN", "CAP_KILL"), eff: capsOf("CAP_CHOWN", "CAP_KILL"),
			bnd: capsOf("CAP_CHOWN", "CAP_KILL"),
			uid: "0 0 0 0", gid: "0 0 0 0", groups: "5", noNewPrivs: "0",
		},
		{
			name:       "nil capabilities drop everything",
			arg:        credsArg{User: specs.User{UID: 0, GID: 0}, NoNewPrivs: true},
			uid:        "0 0 0 0",
			gid:        "0 0 0 0",
			groups:     "",
			noNewPrivs: "1",
		},
		{
			name: "capabilities that cannot be granted are left out and reported",
			arg: credsArg{
				Caps: &specs.LinuxCapabilities{
					Bounding:  []string{"CAP_CHOWN", "CAP_SYS_RESOURCE"},
					Effective: []string{"CAP_CHOWN", "CAP_SYS_RESOURCE"},
					Permitted: []string{"CAP_CHOWN", "CAP_SYS_RESOURCE"},
					Ambient:   []string{"CAP_CHOWN"},
				},
			},
			prm: capsOf("CAP_CHOWN"), eff: capsOf("CAP_CHOWN"), bnd: capsOf("CAP_CHOWN"),
			uid: "0 0 0 0", gid: "0 0 0 0", groups: "", noNewPrivs: "0",
			notGranted: []NotGranted{
				{"process.capabilities.bounding", "CAP_SYS_RESOURCE", "hull's own bounding set does not have it"},
				{"process.capabilities.effective", "CAP_SYS_RESOURCE", "hull does not hold it"},
				{"process.capabilities.permitted", "CAP_SYS_RESOURCE", "hull does not hold it"},
				{"process.capabilities.ambient", "CAP_CHOWN", "an ambient capability must also be permitted and inheritable"},
			},
			lacksSysResource: true,
		},
		{
			// Left out and reported like any capability that cannot be
			// granted: config.md wants a warning, not a failure.
			name: "unknown capability",
			arg:  credsArg{Caps: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN", "CAP_FOO"}}},
			prm:  capsOf("CAP_CHOWN"), eff: capsOf("CAP_CHOWN"), bnd: capsOf("CAP_CHOWN"),
			uid: "0 0 0 0", gid: "0 0 0 0", groups: "", noNewPrivs: "0",
			notGranted: []NotGranted{{"process.capabilities.bounding", "CAP_FOO", unknownName}},
		},
		{
			name: "unknown ambient capability",
			arg:  credsArg{Caps: &specs.LinuxCapabilities{Ambient: []string{"NET_RAW", "NET_RAW"}}},
			uid:  "0 0 0 0", gid: "0 0 0 0", groups: "", noNewPrivs: "0",
			notGranted: []NotGranted{{"process.capabilities.ambient", "NET_RAW", unknownName}},
		},
		{
			name:    "uid -1",
			arg:     credsArg{User: specs.User{UID: ^uint32(0)}},
			wantErr: "process.user.uid 4294967295:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if host.has(unix.CAP_SYS_RESOURCE) && tt.lacksSysResource {
				hulltest.HostLimit(t, "root holds CAP_SYS_RESOURCE here, nothing is left out; runs where it lacks it (the CI host)")
			}
			res := runChild(t, "creds", tt.arg)
			if tt.wantErr != "" {
				if got := res.childErr(); !strings.HasPrefix(got, tt.wantErr) {
					t.Fatalf("error = %q, want prefix %q (exit %d, stderr %s)", got, tt.wantErr, res.code, res.stderr)
				}
				return
			}
			res.mustSucceed(t)

			var notGranted []NotGranted
			for _, line := range strings.Split(res.stderr, "\n") {
				if j, ok := strings.CutPrefix(line, notGrantedPrefix); ok {
					if err := json.Unmarshal([]byte(j), &notGranted); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !reflect.DeepEqual(notGranted, tt.notGranted) {
				t.Errorf("not granted:\n got %+v\nwant %+v", notGranted, tt.notGranted)
			}

			st := hulltest.ProcStatus(res.stdout)
			for _, m := range []struct {
				key  string
				want capSet
			}{
				{"CapInh", tt.inh}, {"CapPrm", tt.prm}, {"CapEff", tt.eff}, {"CapBnd", tt.bnd}, {"CapAmb", tt.amb},
			} {
				if got := statusMask(t, st, m.key); got != uint64(m.want) {
					t.Errorf("%s = %016x, want %016x", m.key, got, uint64(m.want))
				}
			}
			for _, f := range []struct{ key, want string }{
				{"Uid", tt.uid}, {"Gid", tt.gid}, {"Groups", tt.groups}, {"NoNewPrivs", tt.noNewPrivs}, {"Umask", tt.umask},
			} {
				if f.want == "" && f.key == "Umask" {
					continue
				}
				// Uid and Gid have four tab-separated values, compared as one spaced string.
				if got := strings.Join(strings.Fields(st[f.key]), " "); got != f.want {
					t.Errorf("%s = %q, want %q", f.key, got, f.want)
				}
			}
		})
	}
}

// threadCreds is one thread's view of its credentials.
type threadCreds struct {
	Tid, Uid, CapEff, NoNewPrivs string
}

func readThreadCreds(dir string) (threadCreds, error) {
	b, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return threadCreds{}, err
	}
	st := hulltest.ProcStatus(string(b))
	return threadCreds{Tid: st["Pid"], Uid: strings.Join(strings.Fields(st["Uid"]), " "), CapEff: st["CapEff"], NoNewPrivs: st["NoNewPrivs"]}, nil
}

func init() {
	// thread-only changes the calling thread and prints its credentials and
	// those of every other thread of the process as JSON.
	scenarios["thread-only"] = func([]byte) error {
		if err := DropBounding(&specs.LinuxCapabilities{Bounding: []string{"CAP_NET_BIND_SERVICE"}}); err != nil {
			return err
		}
		if err := SetUser(specs.User{UID: 1000, GID: 1000}, false); err != nil {
			return err
		}
		nbs := []string{"CAP_NET_BIND_SERVICE"}
		if err := ApplyCaps(&specs.LinuxCapabilities{Effective: nbs, Permitted: nbs}); err != nil {
			return err
		}
		if err := SetNoNewPrivs(); err != nil {
			return err
		}
		self, err := readThreadCreds("/proc/thread-self")
		if err != nil {
			return err
		}
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		var others []threadCreds
		for _, task := range tasks {
			if task.Name() == strconv.Itoa(unix.Gettid()) {
				continue
			}
			c, err := readThreadCreds(filepath.Join("/proc/self/task", task.Name()))
			if err != nil {
				return err
			}
			others = append(others, c)
		}
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"self": self, "others": others})
	}
}

// TestOnlyCallingThread checks that the credentials change on the calling
// thread only, leaving the Go runtime's other threads as they were.
func TestOnlyCallingThread(t *testing.T) {
	requireRoot(t)
	res := runChild(t, "thread-only", nil)
	res.mustSucceed(t)
	var out struct {
		Self   threadCreds
		Others []threadCreds
	}
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("%v: %q", err, res.stdout)
	}
	want := threadCreds{Tid: out.Self.Tid, Uid: "1000 1000 1000 1000", CapEff: fmt.Sprintf("%016x", uint64(capsOf("CAP_NET_BIND_SERVICE"))), NoNewPrivs: "1"}
	if out.Self != want {
		t.Errorf("calling thread = %+v, want %+v", out.Self, want)
	}
	if len(out.Others) == 0 {
		t.Fatal("child has no other threads to compare with")
	}
	hostEff := fmt.Sprintf("%016x", uint64(hostCapEff(t)))
	for _, o := range out.Others {
		if o.Uid != "0 0 0 0" || o.CapEff != hostEff || o.NoNewPrivs != "0" {
			t.Errorf("thread %s changed too: %+v (want uid 0, CapEff %s, NoNewPrivs 0)", o.Tid, o, hostEff)
		}
	}
}

func TestNotGrantedError(t *testing.T) {
	err := error(&NotGrantedError{Caps: []NotGranted{
		{"process.capabilities.permitted", "CAP_SYS_RESOURCE", "hull does not hold it"},
		{"process.capabilities.ambient", "CAP_KILL", "x"},
	}})
	want := "capabilities not granted, left out of the container: process.capabilities.permitted CAP_SYS_RESOURCE (hull does not hold it); process.capabilities.ambient CAP_KILL (x)"
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant %q", err.Error(), want)
	}
}

type setUserArg struct {
	Keep []string // the only capabilities left before SetUser
	User specs.User
}

func init() {
	// setuser-with drops to the Keep capabilities first, then calls SetUser.
	scenarios["setuser-with"] = func(b []byte) error {
		var a setUserArg
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		if err := ApplyCaps(&specs.LinuxCapabilities{Effective: a.Keep, Permitted: a.Keep}); err != nil {
			return err
		}
		return SetUser(a.User, false)
	}
}

func TestSetUserErrors(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name    string
		arg     setUserArg
		wantErr string
	}{
		{
			name:    "no CAP_SETUID",
			arg:     setUserArg{Keep: []string{"CAP_SETGID"}, User: specs.User{UID: 1000, GID: 1000}},
			wantErr: "process.user.uid 1000: setresuid: operation not permitted",
		},
		{
			name:    "no CAP_SETGID",
			arg:     setUserArg{Keep: []string{"CAP_SETUID"}, User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}},
			wantErr: "process.user.additionalGids [10 20]: setgroups: operation not permitted",
		},
		{
			name: "all it needs",
			arg:  setUserArg{Keep: []string{"CAP_SETUID", "CAP_SETGID"}, User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runChild(t, "setuser-with", tt.arg)
			if tt.wantErr == "" {
				res.mustSucceed(t)
				return
			}
			if got := res.childErr(); got != tt.wantErr {
				t.Fatalf("error = %q, want %q (exit %d)", got, tt.wantErr, res.code)
			}
		})
	}
}

// TestSetGroupsErrorIsBounded: the kernel refuses more than NGROUPS_MAX
// groups before it changes anything, so this runs in the test process; the
// error names the first few ids, not all 100,000 (which made a 589 KB line).
func TestSetGroupsErrorIsBounded(t *testing.T) {
	gids := make([]uint32, 100000)
	for i := range gids {
		gids[i] = uint32(i)
	}
	err := setGroups(gids, false)
	want := "process.user.additionalGids [0 1 2 3 4 5 6 7... (99992 more)]: setgroups: invalid argument"
	if err == nil || err.Error() != want {
		got := fmt.Sprint(err)
		if len(got) > 200 {
			got = fmt.Sprintf("%.200s... (%d bytes)", got, len(got))
		}
		t.Fatalf("setGroups(100000 ids) = %s, want %q", got, want)
	}
}
