package config

import (
	"errors"
	"fmt"
)

const (
	// maxIDLen keeps the id usable as a single path component (NAME_MAX is
	// 255 on most filesystems, but runc allows longer ids under its state dir
	// and so do we, up to this bound).
	maxIDLen  = 1024
	idPattern = `^[A-Za-z0-9][A-Za-z0-9_+.-]*$`
)

// ValidateID checks a container id: non-empty, at most 1024 bytes, and
// matching ^[A-Za-z0-9][A-Za-z0-9_+.-]*$. The id names the state directory, so
// the rules exclude "/", "." and "..".
func ValidateID(id string) error {
	if id == "" {
		return errors.New("container id cannot be empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("invalid container id: %d bytes long, at most %d allowed", len(id), maxIDLen)
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
