package container

import "errors"

// Status is a container's lifecycle state as the runtime spec names it.
type Status string

const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// Op is an operation on an existing container, as the state machine knows it. Two
// commands have a variant of their own, because what they may start from differs:
// kill --all also reaches what a stopped container left in its cgroup, and delete
// --force removes a container in any status.
type Op string

const (
	OpStart            Op = "start"
	OpKill             Op = "kill"
	OpKillAll          Op = "kill --all"
	OpDelete           Op = "delete"
	OpDeleteForce      Op = "delete --force"
	OpPause            Op = "pause"
	OpResume           Op = "resume"
	OpExec             Op = "exec"
	OpExecIgnorePaused Op = "exec --ignore-paused"
	OpUpdate           Op = "update"
	OpEvents           Op = "events"
)

// allowed is the state machine: for each status, the operations a container in it
// accepts. Every command asks it (Container.Gate) before it acts, and anything not
// listed is a *TransitionError, never an if of its own; containerd's shim keeps one
// such set per status (init_state.go).
var allowed = map[Status][]Op{
	// Still being built by a create that holds its lock; once that create died, only
	// its remains are left to delete.
	Creating: {OpDelete, OpDeleteForce},
	// Init waits on the exec fifo. As runc, a created container can be frozen before
	// start, updated, exec'd into and signalled.
	Created: {OpStart, OpKill, OpKillAll, OpDelete, OpDeleteForce, OpPause, OpExec, OpExecIgnorePaused, OpUpdate, OpEvents},
	Running: {OpKill, OpKillAll, OpDeleteForce, OpPause, OpExec, OpExecIgnorePaused, OpUpdate, OpEvents},
	// Exec is refused even with --ignore-paused: the process would be born in the
	// frozen cgroup and wait there for ever.
	Paused: {OpKill, OpKillAll, OpDeleteForce, OpResume, OpUpdate, OpEvents},
	// kill --all reaches processes that outlive init in its cgroup (containerd's shim
	// sends it after init's exit).
	Stopped: {OpKillAll, OpDelete, OpDeleteForce},
}

// check returns nil when op may run on a container in status s, else the
// *TransitionError that says so.
func check(op Op, s Status) error {
	for _, ok := range allowed[s] {
		if ok == op {
			return nil
		}
	}
	return &TransitionError{From: s, Op: op}
}

// Gate returns the container's status and nil if op may run on it now, or a
// *TransitionError (matching the sentinels of errors.go) if the state machine refuses
// it. The status is read once: the caller acts on what was checked.
func (c *Container) Gate(op Op) (Status, error) {
	s := c.Status()
	if err := check(op, s); err != nil {
		if te := (*TransitionError)(nil); errors.As(err, &te) {
			te.ID = c.p.ID
		}
		return s, err
	}
	return s, nil
}
