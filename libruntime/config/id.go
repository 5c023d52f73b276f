package config

import (
	"errors"
	"fmt"
)

const (
	// maxIDLen is NAME_MAX: the id is the name of the state directory
	// (--root/<id>; state.json, exec.fifo and their temporary files live
	// inside it, nothing beside it is named after the id) and of the default
	// cgroup. A longer id passed this check and then failed in mkdir with
	// ENAMETOOLONG.
	maxIDLen  = 255
	idPattern = `^[A-Za-z0-9][A-Za-z0-9_+.-]*$`
)

// ValidateID checks a container id: non-empty, at most 255 bytes, and
// matching ^[A-Za-z0-9][A-Za-z0-9_+.-]*$. The id names the state directory, so
// the rules exclude "/", "." and "..".
func ValidateID(id string) error {
	if id == "" {
		return errors.New("container id cannot be empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("invalid container id: %d bytes long, at most %d allowed (it names a directory, whose name the kernel limits to %d bytes); use a shorter id",
			len(id), maxIDLen, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if isAlnum(c) {
			continue
		}
		if i > 0 && (c == '_' || c == '+' || c == '.' || c == '-') {
			continue
		}
		return fmt.Errorf("invalid container id %q: must match %s", id, idPattern)
	}
	return nil
}

func isAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
