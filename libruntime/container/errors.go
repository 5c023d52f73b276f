package container

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on. Their texts are runc's, which callers such as
// containerd's shim match on.
var (
	ErrNotExist   = errors.New("container does not exist")
	ErrExist      = errors.New("container with id exists")
	ErrNotRunning = errors.New("container not running")
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

func (e *TransitionError) Error() string {
	switch {
	case e.Op == "start" && e.From == Stopped:
		return "cannot start a container that has stopped"
	case e.Op == "start" && (e.From == Running || e.From == Paused):
		return "cannot start an already running container"
	}
	return fmt.Sprintf("cannot %s a container that is %s", e.Op, e.From)
}

func (e *TransitionError) Is(target error) bool {
	switch target {
	case ErrStopped:
		return e.From == Stopped
	case ErrRunning:
		return e.From == Running
	}
	return false
}
