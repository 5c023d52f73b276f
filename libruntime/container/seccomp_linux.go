package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/logs"
	"github.com/hull-runtime/hull/libruntime/seccomp"
	"github.com/hull-runtime/hull/libruntime/seccomp/bpf"
)

// SeccompCacheDir is the cache of compiled seccomp profiles under --root (see
// seccomp.Cache). Its name is no valid container id, which begins with a letter or a
// digit: List skips it, and no command takes it for a container's state dir.
const SeccompCacheDir = ".seccomp-cache"

// seccompFile is, in the container's state dir, the filter create compiled for init:
// exec gives its helper the same program without compiling the profile again.
const seccompFile = "seccomp.bpf"

// seccompCompiler compiles linux.seccomp once for create: its result serves the
// validation (check.ForCreate's findings) and is the program init loads.
type seccompCompiler struct {
	cache  seccomp.Cache
	result *seccomp.Compiled
}

func newSeccompCompiler(root string) *seccompCompiler {
	return &seccompCompiler{cache: seccomp.Cache{Dir: filepath.Join(root, SeccompCacheDir)}}
}

// compile is a check.SeccompFunc.
func (s *seccompCompiler) compile(sc *specs.LinuxSeccomp) ([]string, error) {
	r, err := s.cache.Compile(sc)
	if err != nil {
		var warnings []string
		if r != nil {
			warnings = r.Warnings
		}
		return warnings, err
	}
	s.result = r
	if r.Cached {
		logs.Debugf("seccomp: filter %.12s from the cache (%d instructions)", r.Key, len(r.Program.Insns))
	} else {
		logs.Debugf("seccomp: filter compiled (%d instructions): %s", len(r.Program.Insns), r.Miss)
	}
	return r.Warnings, nil
}

// filter is the compiled program, nil without a profile.
func (s *seccompCompiler) filter() *bpf.Program {
	if s.result == nil {
		return nil
	}
	return s.result.Program
}

// save keeps the filter in the cache (whose failure only costs the next create a
// compile) and in the container's state dir, for exec.
func (s *seccompCompiler) save(dir string) error {
	if s.result == nil {
		return nil
	}
	if err := s.cache.Store(s.result); err != nil {
		logs.Debugf("seccomp: cache: %v", err)
	}
	data, err := seccomp.MarshalEntry(s.result)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, seccompFile), data, 0o600); err != nil {
		return fmt.Errorf("store the seccomp filter: %w", err)
	}
	return nil
}

// seccompFilter is the container's filter for an exec'd process: the program create
// stored, read here on the host, never through a path inside the container. A
// container made by a hull that stored none, or a damaged file, gets the profile
// compiled again from the recorded config. has says the config has a profile
// (execConfig.hasSeccomp); without one there is no filter.
func (c *Container) seccompFilter(has bool) (*bpf.Program, error) {
	if !has {
		return nil, nil
	}
	r, err := seccomp.ReadEntry(unix.AT_FDCWD, filepath.Join(c.dir, seccompFile))
	if err == nil {
		logs.Debugf("seccomp: the filter create stored (%d instructions)", len(r.Program.Insns))
		return r.Program, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		logs.Warnf("exec: the container's stored seccomp filter: %v; compiling linux.seccomp again", err)
	}
	spec, err := c.p.spec()
	if err != nil {
		return nil, err
	}
	// Fail closed: the config was told to have a profile.
	if spec == nil || spec.Linux == nil || spec.Linux.Seccomp == nil {
		return nil, errors.New("exec: linux.seccomp: the container's profile could not be read; this is a bug in hull")
	}
	prog, _, err := seccomp.Compile(spec.Linux.Seccomp)
	if err == nil {
		logs.Debugf("seccomp: filter compiled (%d instructions): none stored", len(prog.Insns))
	}
	return prog, err
}

// passNotifyFd copies the seccomp notify fd that process pid announced and sends it,
// with the container's state, to the listener the profile names.
func (c *Container) passNotifyFd(pid, fd int, sc *specs.LinuxSeccomp, status specs.ContainerState) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("seccomp notify: %w", os.NewSyscallError("pidfd_open", err))
	}
	defer unix.Close(pidfd)
	nfd, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return fmt.Errorf("seccomp notify: %w", os.NewSyscallError("pidfd_getfd", err))
	}
	defer unix.Close(nfd)
	return c.sendNotifyListener(pid, nfd, sc, status)
}

// sendNotifyListener hands the listener fd of process pid's filter to the agent at
// linux.seccomp.listenerPath, with the container's state.
func (c *Container) sendNotifyListener(pid, nfd int, sc *specs.LinuxSeccomp, status specs.ContainerState) error {
	st := &specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{"seccompFd"},
		Pid:      pid,
		Metadata: sc.ListenerMetadata,
		State: specs.State{
			Version:     specs.Version,
			ID:          c.p.ID,
			Status:      status,
			Pid:         c.p.InitPid,
			Bundle:      c.p.Bundle,
			Annotations: c.Annotations(),
		},
	}
	if err := seccomp.SendNotifyFd(sc.ListenerPath, nfd, st); err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath %s: %w", sc.ListenerPath, err)
	}
	return nil
}
