// Package config loads a bundle's config.json, checks it before anything is
// created for the container, and knows the defaults `hull spec` writes and the
// rules for container ids.
//
// Validation reports problems as *Error values naming the JSON path of the
// offending field and the change that fixes it, so `hull create` can fail with
// one actionable line and `hull check` can list every problem at once.
package config

import (
	"strings"
)

// MaxConfigSize is the largest config.json Load accepts. Real configs are a few
// KiB; the limit keeps a wrong or hostile file from exhausting memory.
const MaxConfigSize = 16 << 20

// Error is one problem found in a config: where it is, what is wrong and what
// to change.
type Error struct {
	// Field is the JSON path of the offending value, such as
	// "linux.namespaces[2].type" or `linux.sysctl."vm.swappiness"`.
	Field string
	// Msg says what is wrong.
	Msg string
	// Fix tells the user what to change; it may be empty.
	Fix string
}

// Error formats the problem as "<Field>: <Msg>; <Fix>", leaving out the parts
// that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}
