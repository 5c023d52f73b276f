package cgroups

import (
	"strings"
	"testing"
)

// TestSubRefusesClimbing: no spelling with ".." is resolved, whatever it would name
// (the checks come before any lookup, so no cgroup is needed).
func TestSubRefusesClimbing(t *testing.T) {
	m := &fsManager{mount: "/sys/fs/cgroup", path: "/sys/fs/cgroup/ctr"}
	for _, rel := range []string{"..", "../ctr-sibling", "a/../..", "a/../b", "/..", "./../x", "a\x00b"} {
		if _, err := m.Sub(rel); err == nil || !strings.Contains(err.Error(), "bad sub cgroup path") {
			t.Errorf("Sub(%q) = %v, want a bad sub cgroup path error", rel, err)
		}
	}
	for _, rel := range []string{"", "/", ".", "//./"} {
		if got, err := m.Sub(rel); err != nil || got != m {
			t.Errorf("Sub(%q) = %v, %v; want the container's own cgroup", rel, got, err)
		}
	}
}
