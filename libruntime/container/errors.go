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
)

// notExist names the id, as in `container "abc" does not exist`, and still matches
// errors.Is(err, ErrNotExist).
type notExistError struct{ id string }

func (e *notExistError) Error() string { return fmt.Sprintf("container %q does not exist", e.id) }
func (e *notExistError) Is(target error) bool {
	return target == ErrNotExist
}

// TransitionError is an illegal change of status, such as starting a stopped container.
type TransitionError struct {
	From Status
	Op   string
}

// Error words the refusals runc's way, which callers match: pause and resume answer
// with runc's sentinels whatever the status.
func (e *TransitionError) Error() string {
	switch {
	case e.Op == "start" && e.From == Stopped:
		return "cannot start a container that has stopped"
	case e.Op == "start" && e.From == Running:
		return "cannot start an already running container"
	case e.Op == "start":
		return fmt.Sprintf("cannot start a container in the %s state", e.From)
	case e.Op == "pause":
		return ErrNotRunning.Error()
	case e.Op == "resume":
		return ErrNotPaused.Error()
	}
	return fmt.Sprintf("cannot %s a container that is %s", e.Op, e.From)
}

func (e *TransitionError) Is(target error) bool {
	switch target {
	case ErrStopped:
		return e.From == Stopped
	case ErrRunning:
		return e.From == Running
	case ErrNotRunning:
		return e.Op == "pause"
	case ErrNotPaused:
		return e.Op == "resume"
	}
	return false
}
