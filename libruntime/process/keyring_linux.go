package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// Key permission bits from <linux/key.h>.
const (
	keyUsrSearch = 0x00080000 // the key's owner may search it
	keyOthSearch = 0x00000008 // anyone may search it
)

// JoinSessionKeyring gives the calling process a new session keyring called
// name (an anonymous one if name is empty), so that the container does not
// share hull's, and makes it searchable as runc does: by its owner, or by
// anyone inside a user namespace, where the owner's uid may not be the one
// the container's process ends up with. Kernels without keyrings (ENOSYS)
// and environments that forbid them (EACCES) are not an error: the new
// keyring is hardening, not a requirement.
func JoinSessionKeyring(name string) error {
	var id int
	var err error
	if name == "" {
		id, err = linux.KeyctlInt(unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0)
	} else {
		id, err = linux.KeyctlJoinSessionKeyring(name)
	}
	if err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EACCES) {
			return nil
		}
		return fmt.Errorf("join session keyring %q: %w", name, os.NewSyscallError("keyctl", err))
	}

	// The description is "type;uid;gid;perm;description", perm in hex.
	desc, err := linux.KeyctlString(unix.KEYCTL_DESCRIBE, id)
	if err != nil {
		return fmt.Errorf("session keyring %q: describe: %w", name, os.NewSyscallError("keyctl", err))
	}
	fields := strings.SplitN(desc, ";", 5)
	if len(fields) < 5 {
		return fmt.Errorf("session keyring %q: unexpected description %q", name, desc)
	}
	perm, err := strconv.ParseUint(fields[3], 16, 32)
	if err != nil {
		return fmt.Errorf("session keyring %q: permissions in description %q: %w", name, desc, err)
	}
	search := uint32(keyUsrSearch)
	if inUserNS() {
		search = keyOthSearch
	}
	err = linux.KeyctlSetperm(id, uint32(perm)|search)
	if err != nil {
		return fmt.Errorf("session keyring %q: set permissions: %w", name, os.NewSyscallError("keyctl", err))
	}
	return nil
}

// inUserNS reports whether the process is in a user namespace other than
// the initial one, whose uid_map is the identity over all ids. Without a
// readable uid_map it answers false.
func inUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}
