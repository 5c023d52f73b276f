package container

// Status is a container's lifecycle state as the runtime spec names it.
type Status string

const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// transitions lists, for each operation, the statuses it may start from. Anything else
// is a TransitionError: the state machine, not scattered ifs, says what is legal.
var transitions = map[string][]Status{
	"start":  {Created},
	"kill":   {Created, Running, Paused},
	"delete": {Created, Stopped, Creating},
	"pause":  {Created, Running}, // as runc: a created container can be frozen before start
	"resume": {Paused},
	"exec":   {Created, Running},
}

// check returns nil when op may run on a container in status s.
func check(op string, s Status) error {
	for _, ok := range transitions[op] {
		if ok == s {
			return nil
		}
	}
	return &TransitionError{From: s, Op: op}
}
