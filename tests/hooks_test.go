//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookScript appends "<name> <status from the state on stdin>" to the log
// file named by its second argument.
const hookScript = `#!/bin/sh
st=$(cat)
status=$(printf '%s' "$st" | sed -n 's/.*"status"[[:space:]]*:[[:space:]]*"\([a-z]*\)".*/\1/p')
id=$(printf '%s' "$st" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
echo "$1 $status $id" >> "$2"
`

// TestHooks runs every hook kind, each logging its name and the status it
// was given, and checks which ran at each step and in what order.
func TestHooks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	logDir := t.TempDir()
	hostLog := filepath.Join(logDir, "log")
	hostScript := filepath.Join(h.bundle, "hook.sh")
	for _, p := range []string{hostScript, filepath.Join(h.rootfs, "hook.sh")} {
		if err := os.WriteFile(p, []byte(hookScript), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hook := func(name string) []specs.Hook {
		return []specs.Hook{{Path: hostScript, Args: []string{"hook.sh", name, hostLog}}}
	}
	s := baseSpec("sleep", "60")
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"rbind", "rw"}})
	s.Hooks = &specs.Hooks{
		Prestart:        hook("prestart"), // deprecated in the spec, still run
		CreateRuntime:   hook("createRuntime"),
		CreateContainer: hook("createContainer"),
		// startContainer runs inside the container: its path and the log
		// path are the container's.
		StartContainer: []specs.Hook{{Path: "/hook.sh", Args: []string{"hook.sh", "startContainer", "/hooklog/log"}}},
		Poststart:      hook("poststart"),
		Poststop:       hook("poststop"),
	}
	logLines := func() []string {
		b, _ := os.ReadFile(hostLog)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	steps := []struct {
		name string
		do   func() result
		want []string // the whole log after this step
	}{
		{"create", func() result { return h.create(s) }, []string{
			"prestart creating", "createRuntime creating", "createContainer creating"}},
		{"start", func() result { return h.do("start", h.id) }, []string{
			"prestart creating", "createRuntime creating", "createContainer creating",
			"startContainer created", "poststart running"}},
		{"kill", func() result {
			r := h.do("kill", h.id, "KILL")
			if r.exit == 0 {
				h.waitStatus(h.id, "stopped", 10*time.Second)
			}
			return r
		}, []string{
			"prestart creating", "createRuntime creating", "createContainer creating",
			"startContainer created", "poststart running"}},
		{"delete", func() result { return h.do("delete", h.id) }, []string{
			"prestart creating", "createRuntime creating", "createContainer creating",
			"startContainer created", "poststart running", "poststop stopped"}},
	}
	for _, step := range steps {
		mustExit(t, step.do(), 0)
		var want []string
		for _, w := range step.want {
			want = append(want, w+" "+h.id)
		}
		if got := logLines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("hook log after %s:\n%s\nwant:\n%s", step.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	h.assertNothingLeft(true)
}

// TestFailingHook checks that a failing createRuntime hook fails create and
// leaves nothing, and that later hooks do not run.
func TestFailingHook(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	logDir := t.TempDir()
	hostLog := filepath.Join(logDir, "log")
	hostScript := filepath.Join(h.bundle, "hook.sh")
	if err := os.WriteFile(hostScript, []byte(hookScript), 0o755); err != nil {
		t.Fatal(err)
	}
	fail := filepath.Join(h.bundle, "fail.sh")
	if err := os.WriteFile(fail, []byte("#!/bin/sh\necho hook-failed-on-purpose >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := baseSpec("sleep", "60")
	s.Hooks = &specs.Hooks{
		CreateRuntime:   []specs.Hook{{Path: fail, Args: []string{"fail.sh"}}},
		CreateContainer: []specs.Hook{{Path: hostScript, Args: []string{"hook.sh", "createContainer", hostLog}}},
		Poststart:       []specs.Hook{{Path: hostScript, Args: []string{"hook.sh", "poststart", hostLog}}},
	}
	r := h.create(s)
	if r.exit == 0 || !strings.Contains(strings.ToLower(r.stderr), "hook") {
		t.Errorf("create with a failing createRuntime hook: %s; want a failure mentioning the hook", r)
	}
	h.assertNothingLeft(true)
	if b, err := os.ReadFile(hostLog); err == nil {
		t.Errorf("hooks after the failing one ran: %q", b)
	}
}

// TestHooksContainerEnvAndDir checks where and with what environment the hooks init
// runs in the container get, as runc 1.5 gives them: createContainer hooks in the
// container's root directory (host path), with exactly their env; startContainer hooks
// in the process's cwd, as its user, and, when they have no env, with the process's
// environment.
func TestHooksContainerEnvAndDir(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	logDir := t.TempDir()
	if err := os.Chmod(logDir, 0o777); err != nil {
		t.Fatal(err)
	}
	dump := "#!/bin/sh\n{ echo \"cwd=$(pwd)\"; echo \"uid=$(id -u)\"; env | sort; } > \"$1\"\n"
	hostScript := filepath.Join(h.bundle, "dump.sh")
	for _, p := range []string{hostScript, filepath.Join(h.rootfs, "dump.sh")} {
		if err := os.WriteFile(p, []byte(dump), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := baseSpec("true")
	s.Process.Env = append(s.Process.Env, "HULLTEST_PROC=1")
	s.Process.Cwd = "/tmp"
	s.Process.User = specs.User{UID: 1000, GID: 1000}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"rbind", "rw"}})
	s.Hooks = &specs.Hooks{
		CreateContainer: []specs.Hook{{Path: hostScript, Args: []string{"dump.sh", filepath.Join(logDir, "cc")}, Env: []string{"HULLTEST_HOOK=cc"}}},
		StartContainer: []specs.Hook{
			{Path: "/dump.sh", Args: []string{"dump.sh", "/hooklog/sc-noenv"}},
			{Path: "/dump.sh", Args: []string{"dump.sh", "/hooklog/sc-env"}, Env: []string{"HULLTEST_HOOK=sc"}},
		},
	}
	mustExit(t, h.run(s), 0)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(logDir, name))
		if err != nil {
			t.Errorf("hook output %s: %v", name, err)
		}
		return string(b)
	}
	for _, c := range []struct {
		file      string
		want, not []string
	}{
		{"cc", []string{"cwd=" + h.rootfs + "\n", "HULLTEST_HOOK=cc"}, []string{"HULLTEST_PROC"}},
		{"sc-noenv", []string{"cwd=/tmp\n", "uid=1000\n", "HULLTEST_PROC=1", "PATH=/usr/local/sbin:"}, []string{"HULLTEST_HOOK"}},
		{"sc-env", []string{"cwd=/tmp\n", "HULLTEST_HOOK=sc"}, []string{"HULLTEST_PROC"}},
	} {
		got := read(c.file)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s hook: no %q in\n%s", c.file, w, got)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("%s hook: %q in\n%s", c.file, n, got)
			}
		}
	}
	h.assertNothingLeft(true)
}
