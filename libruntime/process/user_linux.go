package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
)

// noID is (uid_t)-1, which setres[ug]id read as "leave unchanged".
const noID = ^uint32(0)

// SetUser switches the calling thread to u: supplementary groups
// (u.AdditionalGids; an empty list clears them), then gid, then uid, each for
// real, effective and saved ids. The permitted capabilities survive the
// switch away from uid 0 (PR_SET_KEEPCAPS), so ApplyCaps can still grant
// them; the effective set is emptied by the kernel until then. The umask,
// which is shared by the whole process, is set last if u.Umask is set.
//
// setgroupsDenied is SetgroupsDenied of the process's user namespace, read by
// the caller on the host: with it, an empty u.AdditionalGids leaves the groups.
//
// Only the calling thread changes: call it on init's locked thread, right
// before execve.
func SetUser(u specs.User, setgroupsDenied bool) error {
	if u.UID == noID {
		return fmt.Errorf("process.user.uid %d: is (uid_t)-1, which the kernel reads as \"unchanged\"", u.UID)
	}
	if u.GID == noID {
		return fmt.Errorf("process.user.gid %d: is (gid_t)-1, which the kernel reads as \"unchanged\"", u.GID)
	}
	if err := prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("process.user: keep capabilities across the uid change: %w", err)
	}

	if err := setGroups(u.AdditionalGids, setgroupsDenied); err != nil {
		return err
	}
	if err := setresgid(u.GID); err != nil {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, err)
	}
	if err := setresuid(u.UID); err != nil {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, err)
	}
	// execve clears keepcaps anyway; reset it now so nothing between here
	// and execve runs with it.
	if err := prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("process.user: reset keep capabilities: %w", err)
	}
	if u.Umask != nil {
		unix.Umask(int(*u.Umask & 0o777))
	}
	return nil
}

func setGroups(gids []uint32, denied bool) error {
	err := setgroups(gids)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EPERM) && denied {
		// A user namespace with setgroups denied keeps the groups it was
		// created with; nothing can clear them, and nothing was asked.
		if len(gids) == 0 {
			return nil
		}
		return fmt.Errorf("process.user.additionalGids %s: %w (setgroups is denied in this user namespace; remove additionalGids)", clip.List(gids), err)
	}
	return fmt.Errorf("process.user.additionalGids %s: %w", clip.List(gids), err)
}

// SetgroupsDenied reports whether /proc/<pid>/setgroups says "deny", which makes
// setgroups(2) fail with EPERM in pid's user namespace. The caller reads it on the
// host, through its own procfs: init and exec's helper run where /proc is the
// container's (exec's helper in its mount namespace, init without a procfs mount
// there), and a container that mounts a "deny" over it would have a process keep
// its runtime's supplementary groups.
func SetgroupsDenied(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/setgroups")
	return err == nil && string(bytes.TrimSpace(b)) == "deny"
}

// SetNoNewPrivs sets no_new_privs on the calling thread, so that execve can
// never grant more privileges (setuid bits, file capabilities). The flag is
// inherited across fork and execve and cannot be unset.
func SetNoNewPrivs() error {
	if err := prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("process.noNewPrivileges: %w", err)
	}
	return nil
}

// UserPlan is what SetUser sets, for a process that applies it itself with raw
// syscalls (exec's final child, which has no Go runtime): setgroups (if SetGroups),
// setresgid, setresuid, with PR_SET_KEEPCAPS around them.
type UserPlan struct {
	UID, GID  uint32
	Groups    []uint32
	SetGroups bool
}

// PlanUser checks u as SetUser does and returns the plan; setgroupsDenied as
// SetUser's.
func PlanUser(u specs.User, setgroupsDenied bool) (*UserPlan, error) {
	if u.UID == noID {
		return nil, fmt.Errorf("process.user.uid %d: is (uid_t)-1, which the kernel reads as \"unchanged\"", u.UID)
	}
	if u.GID == noID {
		return nil, fmt.Errorf("process.user.gid %d: is (gid_t)-1, which the kernel reads as \"unchanged\"", u.GID)
	}
	p := &UserPlan{UID: u.UID, GID: u.GID, Groups: u.AdditionalGids, SetGroups: true}
	if setgroupsDenied {
		// The namespace keeps the groups it was created with: nothing can clear them.
		if len(u.AdditionalGids) > 0 {
			return nil, fmt.Errorf("process.user.additionalGids: setgroups is denied in this user namespace; remove additionalGids")
		}
		p.SetGroups = false
	}
	return p, nil
}
