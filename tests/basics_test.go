//go:build linux

package tests

import (
	"sort"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runCase is one container run in the foreground: a spec change, the args,
// and what the container must print and exit with.
type runCase struct {
	name   string
	args   []string
	mutate func(s *specs.Spec, h *harness)
	exit   int
	want   string                            // exact stdout, unless check is set
	check  func(t *testing.T, stdout string) // custom assertion on stdout
}

// runCases runs each case in its own container, in parallel.
func runCases(t *testing.T, cases []runCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			s := baseSpec(tc.args...)
			if tc.mutate != nil {
				tc.mutate(s, h)
			}
			r := h.run(s)
			mustExit(t, r, tc.exit)
			if tc.check != nil {
				tc.check(t, r.stdout)
			} else if r.stdout != tc.want {
				t.Errorf("stdout %q, want %q (stderr %q)", r.stdout, tc.want, r.stderr)
			}
		})
	}
}

func TestProcessBasics(t *testing.T) {
	t.Parallel()
	env := []string{"PATH=/bin:/usr/bin", "HOME=/root", "FOO=bar baz", "EMPTY=", "EQ=a=b=c"}
	runCases(t, []runCase{
		{name: "hostname", args: []string{"hostname"},
			mutate: func(s *specs.Spec, _ *harness) { s.Hostname = "hull-h1" },
			want:   "hull-h1\n"},
		{name: "domainname", args: []string{"cat", "/proc/sys/kernel/domainname"},
			mutate: func(s *specs.Spec, _ *harness) { s.Domainname = "example.test" },
			want:   "example.test\n"},
		{name: "env-exact", args: []string{"env"},
			mutate: func(s *specs.Spec, _ *harness) { s.Process.Env = append([]string(nil), env...) },
			check: func(t *testing.T, out string) {
				got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
				want := append([]string(nil), env...)
				sort.Strings(got)
				sort.Strings(want)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("environment\n%s\nwant exactly\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}},
		{name: "cwd", args: []string{"pwd"},
			mutate: func(s *specs.Spec, _ *harness) { s.Process.Cwd = "/tmp" },
			want:   "/tmp\n"},
		{name: "args-verbatim", args: []string{"sh", "-c", `printf '[%s]' "$@"`, "sh", "a b", "", "c*", "$HOME"},
			want: "[a b][][c*][$HOME]"},
		{name: "argv0-from-path", args: []string{"sh", "-c", `echo "$0"`},
			want: "sh\n"},
		{name: "exit-0", args: []string{"true"}, exit: 0, want: ""},
		{name: "exit-3", args: shell("exit 3"), exit: 3, want: ""},
		{name: "exit-255", args: shell("exit 255"), exit: 255, want: ""},
		// Without a PID namespace the shell is no namespace init, so it can
		// signal itself; hull run must report 128+signal.
		{name: "killed-by-SIGKILL", args: shell("kill -KILL $$; sleep 5"), exit: 128 + 9,
			mutate: func(s *specs.Spec, _ *harness) { removeNamespace(s, specs.PIDNamespace) }},
		{name: "killed-by-SIGTERM", args: shell("kill -TERM $$; sleep 5"), exit: 128 + 15,
			mutate: func(s *specs.Spec, _ *harness) { removeNamespace(s, specs.PIDNamespace) }},
		{name: "pid-1", args: shell(`echo $$`), want: "1\n"},
	})
}
