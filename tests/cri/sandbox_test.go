//go:build linux

package cri

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hull-runtime/hull/tests/internal/hosttest"
)

// sandbox is hosttest's sandbox (tests/e2e's too): a private mount and cgroup
// namespace for containerd, with its own cgroup2 mount and tmpfs on /run.
type sandbox struct {
	*hosttest.Sandbox
}

func newSandbox() (*sandbox, error) {
	s, err := hosttest.NewSandbox("cri")
	if err != nil {
		return nil, err
	}
	return &sandbox{s}, nil
}

// run runs name in the sandbox's cmds cgroup and returns its stdout, and an
// error with its stderr if it failed.
func (s *sandbox) run(env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := s.Command(ctx, s.Cmds, env, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("`%s %s`: %v; stderr: %q", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// cgroups lists the cgroups below the sandbox's root other than its own
// leaves, relative to it.
func (s *sandbox) cgroups() []string {
	var out []string
	_ = filepath.WalkDir(s.CG, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == s.CG {
			return nil
		}
		rel, _ := filepath.Rel(s.CG, p)
		switch rel {
		case "holder", "cmds", "daemons":
			return filepath.SkipDir
		}
		out = append(out, "/"+rel)
		return nil
	})
	return out
}
