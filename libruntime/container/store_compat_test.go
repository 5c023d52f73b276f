package container

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// oldPersisted is state.json as hulls before the lazily decoded config wrote it:
// the same keys, the config a plain *specs.Spec.
type oldPersisted struct {
	ID            string      `json:"id"`
	Bundle        string      `json:"bundle"`
	Rootfs        string      `json:"rootfs"`
	InitPid       int         `json:"init_pid"`
	InitStartTime uint64      `json:"init_start_time"`
	Created       time.Time   `json:"created"`
	Owner         string      `json:"owner"`
	Config        *specs.Spec `json:"config"`
	CgroupPath    string      `json:"cgroup_path,omitempty"`
	CreatorPid    int         `json:"creator_pid,omitempty"`
}

func testSpec() *specs.Spec {
	return &specs.Spec{
		Version:     "1.3.0",
		Process:     &specs.Process{Args: []string{"sleep", "1"}, Cwd: "/"},
		Annotations: map[string]string{"a": "b"},
		Hooks:       &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}}, Poststop: []specs.Hook{{Path: "/bin/false", Args: []string{"false"}}}},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "network", Path: "/run/netns/x"}},
			Resources:  &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptrInt64(5)}},
			Seccomp:    &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActAllow}}},
		},
	}
}

func ptrInt64(v int64) *int64 { return &v }

// TestStateOldFormat: a state.json written by the previous hull reads as before: the
// fields the light commands use without decoding the whole config, the whole config
// on demand, and a write (update) keeps every field of it.
func TestStateOldFormat(t *testing.T) {
	dir := t.TempDir()
	want := testSpec()
	old := oldPersisted{ID: "c1", Bundle: "/b", InitPid: 42, Owner: "root", Config: want, CgroupPath: "/sys/fs/cgroup/x"}
	data, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stateFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Config != nil {
		t.Fatal("readState decoded the whole config")
	}
	if !p.hasConfig() {
		t.Error("hasConfig false for a record with a config")
	}
	if !reflect.DeepEqual(p.annotations(), want.Annotations) {
		t.Errorf("annotations %v, want %v", p.annotations(), want.Annotations)
	}
	if !reflect.DeepEqual(p.hooks(), want.Hooks) {
		t.Errorf("hooks %+v, want %+v", p.hooks(), want.Hooks)
	}
	if !reflect.DeepEqual(p.namespaces(), want.Linux.Namespaces) {
		t.Errorf("namespaces %v, want %v", p.namespaces(), want.Linux.Namespaces)
	}
	got, err := p.spec()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spec() = %+v, want %+v", got, want)
	}

	// An update changes the decoded config and writes the record back: the old
	// reader (the previous hull) sees the change and everything else.
	got.Linux.Resources.Pids.Limit = ptrInt64(7)
	if err := writeState(dir, p); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var back oldPersisted
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	want.Linux.Resources.Pids.Limit = ptrInt64(7)
	old.Config = want
	if !reflect.DeepEqual(back, old) {
		t.Errorf("written back as\n%+v\nwant\n%+v", back, old)
	}
}

// TestStateEarlyRecord: create's first record has "config": null, which must read
// as no config (the container is still being created), as before.
func TestStateEarlyRecord(t *testing.T) {
	dir := t.TempDir()
	if err := writeState(dir, &persisted{ID: "c1", CreatorPid: 1}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw["config"]) != "null" {
		t.Errorf(`early record has "config": %s, want null`, raw["config"])
	}
	p, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.hasConfig() {
		t.Error("hasConfig true for an early record")
	}
	if s, err := p.spec(); s != nil || err != nil {
		t.Errorf("spec() = %v, %v; want nil, nil", s, err)
	}
}

// TestExecSpec: what exec reads of a recorded config is what the whole config says,
// whether it is decoded from state.json or already whole, and a profile is told
// present exactly when the config has one (exec's filter depends on it).
func TestExecSpec(t *testing.T) {
	noSeccomp := testSpec()
	noSeccomp.Linux.Seccomp = nil
	noSeccomp.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	for name, spec := range map[string]*specs.Spec{"seccomp": testSpec(), "no seccomp": noSeccomp} {
		dir := t.TempDir()
		if err := writeState(dir, &persisted{ID: "c1", Config: spec}); err != nil {
			t.Fatal(err)
		}
		read, err := readState(dir)
		if err != nil {
			t.Fatal(err)
		}
		for how, p := range map[string]*persisted{"read": read, "whole": {ID: "c1", Config: spec}} {
			e, err := p.execSpec()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(e.Process, spec.Process) || !reflect.DeepEqual(e.Linux.Namespaces, spec.Linux.Namespaces) ||
				!reflect.DeepEqual(e.Linux.Personality, spec.Linux.Personality) || e.hasSeccomp() != (spec.Linux.Seccomp != nil) {
				t.Errorf("%s, %s: %+v, want the config's", name, how, e)
			}
		}
	}
	// A config written with an explicit null profile has none.
	p := &persisted{ID: "c1", RawConfig: json.RawMessage(`{"linux":{"seccomp":null}}`)}
	if e, err := p.execSpec(); err != nil || e.hasSeccomp() {
		t.Errorf("seccomp null: %+v, %v", e, err)
	}
	if e, err := (&persisted{ID: "c1"}).execSpec(); err != nil || e != nil {
		t.Errorf("no config: %+v, %v", e, err)
	}
}
