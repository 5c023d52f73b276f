package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"

	"github.com/hull-runtime/hull/internal/clip"
)

// The numbers differ between architectures (mips, sparc), so they come from
// x/sys rather than being written out.
var rlimits = map[string]int{
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
}

// RlimitFromName returns the resource number of an rlimit type such as
// "RLIMIT_NOFILE", as getrlimit(2) names it.
func RlimitFromName(name string) (int, error) {
	r, ok := rlimits[name]
	if !ok {
		return 0, fmt.Errorf("unknown rlimit type %s", clip.Quote(name))
	}
	return r, nil
}

func prlimit(resource int, newLimit, old *unix.Rlimit) error {
	// unix.Prlimit goes through the syscall package, which then stops Go
	// from restoring its own idea of RLIMIT_NOFILE in syscall.Exec.
	err := linux.Prlimit(0, resource, newLimit, old)
	if err != nil {
		return os.NewSyscallError("prlimit", err)
	}
	return nil
}

func limitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// ApplyRlimits sets each rlimit on the current process. All entries are
// checked (known type, no duplicates, soft <= hard) before any is set.
// Raising a hard limit needs CAP_SYS_RESOURCE; when that is what fails, the
// error says so and names the highest value this host allows.
func ApplyRlimits(rl []specs.POSIXRlimit) error {
	resources := make([]int, len(rl))
	seen := make(map[int]int, len(rl))
	for i, r := range rl {
		res, err := RlimitFromName(r.Type)
		if err != nil {
			return fmt.Errorf("process.rlimits[%d]: %w", i, err)
		}
		if j, dup := seen[res]; dup {
			return fmt.Errorf("process.rlimits[%d] (%s): duplicates process.rlimits[%d]; keep one", i, r.Type, j)
		}
		seen[res] = i
		if r.Soft > r.Hard {
			return fmt.Errorf("process.rlimits[%d] (%s): soft limit %s is above hard limit %s", i, r.Type, limitString(r.Soft), limitString(r.Hard))
		}
		resources[i] = res
	}

	for i, r := range rl {
		var old unix.Rlimit
		if err := prlimit(resources[i], nil, &old); err != nil {
			return fmt.Errorf("process.rlimits[%d] (%s): %w", i, r.Type, err)
		}
		err := prlimit(resources[i], &unix.Rlimit{Cur: r.Soft, Max: r.Hard}, nil)
		if err == nil {
			continue
		}
		if errors.Is(err, unix.EPERM) && r.Hard > old.Max {
			return &explainedError{
				msg: fmt.Sprintf("process.rlimits[%d] (%s): hard limit %s is above this host's %s and raising it needs CAP_SYS_RESOURCE; lower it to at most %s",
					i, r.Type, limitString(r.Hard), limitString(old.Max), limitString(old.Max)),
				err: err,
			}
		}
		return fmt.Errorf("process.rlimits[%d] (%s): %w", i, r.Type, err)
	}
	return nil
}
