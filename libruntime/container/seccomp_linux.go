package container

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/seccomp"
)

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
