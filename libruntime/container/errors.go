package container

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on. Their texts are runc's, which callers such as
// containerd's shim match on.
var (
	ErrNotExist   = errors.New("container does not exist")
	ErrExist      = errors.New("container with given ID already exists")
	ErrNotRunning = errors.New("container not running")
	ErrNotPaused  = errors.New("container not paused")
	ErrRunning    = errors.New("container is running")
	ErrStopped    = errors.New("container has stopped")
	ErrPaused     = errors.New("container is paused")
)

// notExist names the id, as in `container "abc" does not exist`, and still matches
// errors.Is(err, ErrNotExist).
type notExistError struct{ id string }

func (e *notExistError) Error() string { return fmt.Sprintf("container %q does not exist", e.id) }
func (e *notExistError) Is(target error) bool {
	return target == ErrNotExist
}

// TransitionError is an operation the state machine refuses in the container's status
// (status.go), such as starting a stopped container. Callers branch on it with
// errors.As, or on the sentinels above with errors.Is.
type TransitionError struct {
	ID   string // the container's, for the texts that name it (delete's)
	From Status
	Op   Op
}

// Error words each refusal as runc does, which containerd's shim, podman and scripts
// match on.
func (e *TransitionError) Error() string {
	switch e.Op {
	case OpStart:
		switch e.From {
		case Stopped:
			return "cannot start a container that has stopped"
		case Running:
			return "cannot start an already running container"
		}
		return fmt.Sprintf("cannot start a container in the %s state", e.From)
	case OpDelete:
		return fmt.Sprintf("cannot delete container %s that is not stopped: %s", e.ID, e.From)
	case OpPause, OpKill, OpKillAll, OpUpdate, OpEvents:
		return ErrNotRunning.Error()
	case OpResume:
		return ErrNotPaused.Error()
	case OpExec:
		if e.From == Paused {
			return "cannot exec in a paused container (use --ignore-paused to override)"
		}
		return "cannot exec in a stopped container"
	case OpExecIgnorePaused:
		if e.From == Paused {
			return "cannot exec in a paused container even with --ignore-paused: hull starts the process inside the container's frozen cgroup; resume the container first (hull resume)"
		}
		return "cannot exec in a stopped container"
	}
	return fmt.Sprintf("cannot %s a container that is %s", e.Op, e.From)
}

// Is matches the sentinel of the status refused from (ErrStopped, ErrRunning,
// ErrPaused) and the one of the refusal's kind: ErrNotRunning for an operation that
// needs a live, unfrozen container or, like kill, any live one; ErrNotPaused for
// resume.
func (e *TransitionError) Is(target error) bool {
	switch target {
	case ErrStopped:
		return e.From == Stopped
	case ErrRunning:
		return e.From == Running
	case ErrPaused:
		return e.From == Paused
	case ErrNotRunning:
		switch e.Op {
		case OpPause, OpKill, OpKillAll, OpUpdate, OpEvents:
			return true
		case OpExec, OpExecIgnorePaused:
			return e.From == Stopped || e.From == Creating
		}
		return false
	case ErrNotPaused:
		return e.Op == OpResume
	}
	return false
}
