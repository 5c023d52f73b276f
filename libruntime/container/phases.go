package container

import (
	"strings"
	"time"

	"github.com/hull-runtime/hull/libruntime/logs"
)

// phaseTimer times the steps of an operation for `hull --debug`, so a user sees where
// start-up time goes. It is nil, and every method a no-op, when debug logging is off.
type phaseTimer struct {
	op     string
	start  time.Time
	last   time.Time
	phases []string
}

func newPhaseTimer(op string) *phaseTimer {
	if !logs.Default().DebugEnabled() {
		return nil
	}
	now := time.Now()
	return &phaseTimer{op: op, start: now, last: now}
}

func (t *phaseTimer) mark(name string) {
	if t == nil {
		return
	}
	now := time.Now()
	t.phases = append(t.phases, name+" "+now.Sub(t.last).String())
	t.last = now
}

// sub adds phases measured elsewhere (init's own), indented under the last one.
func (t *phaseTimer) sub(phases []string) {
	if t == nil {
		return
	}
	for _, p := range phases {
		t.phases = append(t.phases, "  init: "+p)
	}
}

func (t *phaseTimer) log() {
	if t == nil {
		return
	}
	logs.Debugf("%s took %s: %s", t.op, time.Since(t.start), strings.Join(t.phases, "; "))
}
