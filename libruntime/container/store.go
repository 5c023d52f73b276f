package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
)

// persisted is what state.json holds. Status is not stored: it is derived from the init
// process (pid plus start time, so a reused pid is never mistaken for the container) and
// the exec fifo, so it can never go stale.
type persisted struct {
	ID            string    `json:"id"`
	Bundle        string    `json:"bundle"`
	Rootfs        string    `json:"rootfs"`
	InitPid       int       `json:"init_pid"`
	InitStartTime uint64    `json:"init_start_time"`
	Created       time.Time `json:"created"`
	Owner         string    `json:"owner"`
	// Config is the container's config once decoded (create and update set it;
	// spec() decodes RawConfig on first use); writeState stores it as "config".
	Config *specs.Spec `json:"-"`
	// RawConfig is "config" as read: most commands (state, start, kill, delete,
	// list) need a few fields of it, and decoding the whole spec in a fresh
	// process costs ~0.2 ms for a minimal config and ~0.4 ms for Docker's
	// default one (its seccomp profile), each time.
	RawConfig  json.RawMessage `json:"config"`
	CgroupPath string          `json:"cgroup_path,omitempty"`
	// CgroupDriver is the cgroup driver that made CgroupPath (cgroups.Driver.Name),
	// so that update, pause, exec and delete use it again; empty (state written by
	// a hull before it was recorded) is cgroupfs.
	CgroupDriver string `json:"cgroup_driver,omitempty"`
	// CreatorPid and CreatorStartTime name the `hull create` that writes the first
	// record, before it makes the cgroup: while init is not recorded yet, the container
	// is creating only as long as that process lives. One that was killed leaves
	// remains for delete to remove, not a container that is creating forever.
	CreatorPid       int    `json:"creator_pid,omitempty"`
	CreatorStartTime uint64 `json:"creator_start_time,omitempty"`

	view configView  // the fields of RawConfig that readState decodes
	exec *execConfig // what exec reads of it, once decoded (execSpec)
	// stamp is the state file readState read; zero if it read none.
	stamp fileStamp
}

// fileStamp tells one version of the state file from every other: hull replaces
// it whole (writeFileAtomic), with a new inode whose times are later than the old
// one's, and never writes it in place.
type fileStamp struct {
	dev, ino     uint64
	size         int64
	mtime, ctime unix.Timespec
}

func stampOf(st *unix.Stat_t) fileStamp {
	return fileStamp{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
}

// execConfig is what exec reads of the config: the process it starts from, and the
// namespaces, personality and memory policy it joins or copies. The seccomp profile
// is only told present: exec loads the program create stored, and decodes the whole
// config (spec) only to compile the profile again, or for its notify listener.
// Decoding the whole spec in a fresh process cost exec ~0.6 ms for Docker's default
// config (its mounts, resources and seccomp profile; ~0.2 ms for a minimal one).
type execConfig struct {
	Process *specs.Process `json:"process,omitempty"`
	Linux   *execLinux     `json:"linux,omitempty"`
}

type execLinux struct {
	Namespaces   []specs.LinuxNamespace   `json:"namespaces,omitempty"`
	Personality  *specs.LinuxPersonality  `json:"personality,omitempty"`
	MemoryPolicy *specs.LinuxMemoryPolicy `json:"memoryPolicy,omitempty"`
	// Seccomp is kept undecoded: only whether it is there (hasSeccomp).
	Seccomp json.RawMessage `json:"seccomp,omitempty"`
}

// hasSeccomp reports whether the config has a linux.seccomp object.
func (e *execConfig) hasSeccomp() bool {
	if e.Linux == nil {
		return false
	}
	raw := bytes.TrimSpace(e.Linux.Seccomp)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// execSpec returns what exec reads of the config, from the whole config when it is
// decoded already; nil if the record has none yet.
func (p *persisted) execSpec() (*execConfig, error) {
	if p.exec != nil || !p.hasConfig() {
		return p.exec, nil
	}
	var e execConfig
	if p.Config != nil {
		e.Process = p.Config.Process
		if l := p.Config.Linux; l != nil {
			e.Linux = &execLinux{Namespaces: l.Namespaces, Personality: l.Personality, MemoryPolicy: l.MemoryPolicy}
			if l.Seccomp != nil {
				e.Linux.Seccomp = json.RawMessage("{}")
			}
		}
	} else if err := json.Unmarshal(p.RawConfig, &e); err != nil {
		return nil, fmt.Errorf("state of container %q: config: %w", p.ID, err)
	}
	p.exec = &e
	return p.exec, nil
}

// configView is what readState decodes of the config: what `state`, `start`,
// `kill`, `delete` and `list` read.
type configView struct {
	Annotations map[string]string `json:"annotations,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	Linux       *struct {
		Namespaces []specs.LinuxNamespace `json:"namespaces,omitempty"`
	} `json:"linux,omitempty"`
}

// hasConfig reports whether the record holds the config, which create writes
// only in its final record.
func (p *persisted) hasConfig() bool {
	if p.Config != nil {
		return true
	}
	raw := bytes.TrimSpace(p.RawConfig)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// spec returns the whole config, decoding it on first use; nil if the record
// has none yet.
func (p *persisted) spec() (*specs.Spec, error) {
	if p.Config != nil || !p.hasConfig() {
		return p.Config, nil
	}
	var s specs.Spec
	if err := json.Unmarshal(p.RawConfig, &s); err != nil {
		return nil, fmt.Errorf("state of container %q: config: %w", p.ID, err)
	}
	p.Config = &s
	return p.Config, nil
}

func (p *persisted) annotations() map[string]string {
	if p.Config != nil {
		return p.Config.Annotations
	}
	return p.view.Annotations
}

func (p *persisted) hooks() *specs.Hooks {
	if p.Config != nil {
		return p.Config.Hooks
	}
	return p.view.Hooks
}

func (p *persisted) namespaces() []specs.LinuxNamespace {
	if p.Config != nil {
		if p.Config.Linux == nil {
			return nil
		}
		return p.Config.Linux.Namespaces
	}
	if p.view.Linux == nil {
		return nil
	}
	return p.view.Linux.Namespaces
}

// stateDir returns root/id after checking id, so no id can name a path outside root.
func stateDir(root, id string) (string, error) {
	if err := validID(id); err != nil {
		return "", err
	}
	return filepath.Join(root, id), nil
}

// ensureRoot makes the state root, refusing one that is a symlink: the root holds fifos
// and state that decide which process gets signalled.
func ensureRoot(root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("create state root: %w", err)
	}
	fi, err := os.Lstat(root)
	if err != nil {
		return fmt.Errorf("create state root: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state root %s is not a directory", root)
	}
	return nil
}

// writeState replaces state.json atomically: a reader sees the old file or the new one.
func writeState(dir string, p *persisted) error {
	if p.Config != nil {
		raw, err := json.Marshal(p.Config)
		if err != nil {
			return err
		}
		p.RawConfig = raw
	}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), data, 0o600)
}

func readState(dir string) (*persisted, error) {
	f, err := os.OpenFile(filepath.Join(dir, stateFile), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	p := persisted{stamp: stampOf(&st)}
	if err := json.NewDecoder(f).Decode(&p); err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if p.hasConfig() {
		if err := json.Unmarshal(p.RawConfig, &p.view); err != nil {
			return nil, fmt.Errorf("read %s: config: %w", f.Name(), err)
		}
	}
	return &p, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	// After the rename there is nothing left to remove (ENOENT): only a failed write
	// leaves the temporary file.
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// lockRetries bounds how often lock follows a directory replaced under it: each retry
// means a whole delete and create of the id ran while we waited.
const lockRetries = 16

// lock takes an exclusive flock on the container's directory so that commands on one id
// (create, start, delete) serialize. It returns the unlock function.
//
// The lock is on the directory open at the time of the wait: if a delete removed it
// and a create made a new one of the same id meanwhile, the flock is granted on a
// directory no longer at the path, which serializes with nothing, and the caller would
// act on the new container while its create still runs. So the locked directory must
// still be the one at the path (same device and inode); if not, lock the new one.
func lock(dir string) (func(), error) {
	for try := 0; ; try++ {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: dir, Err: err}
		}
		if err := linux.Flock(fd, unix.LOCK_EX); err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "flock", Path: dir, Err: err}
		}
		same, err := isAtPath(fd, dir)
		if err != nil {
			unix.Close(fd)
			return nil, err
		}
		if same {
			return func() { unix.Close(fd) }, nil
		}
		unix.Close(fd)
		if try == lockRetries {
			return nil, fmt.Errorf("lock %s: the directory was replaced %d times while waiting for its lock", dir, try+1)
		}
	}
}

// isAtPath reports whether the directory open as fd is the one now at path. A path
// that is gone is an error matching os.ErrNotExist.
func isAtPath(fd int, path string) (bool, error) {
	var held, now unix.Stat_t
	if err := unix.Fstat(fd, &held); err != nil {
		return false, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if err := unix.Lstat(path, &now); err != nil {
		return false, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return held.Dev == now.Dev && held.Ino == now.Ino, nil
}

// lockHeld reports whether some process holds the lock of dir: a create holds it from
// right after making the directory until it is done.
func lockHeld(dir string) bool {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	// Shared and non-blocking: probing never makes a command wait, nor fails one that
	// takes the lock meanwhile (it waits the few microseconds until we close).
	return errors.Is(unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK)
}

// lockFresh takes the container's lock and reloads its state under it: what a command
// read before waiting for the lock may be stale (another command created, changed or
// deleted the container meanwhile).
func (c *Container) lockFresh() (func(), error) {
	unlock, err := lock(c.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &notExistError{id: c.p.ID}
		}
		return nil, err
	}
	if c.p.stamp != (fileStamp{}) {
		// Unchanged since Load read it: the same file, not rewritten since.
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(c.dir, stateFile), &st); err == nil && stampOf(&st) == c.p.stamp {
			c.noCreator = true
			return unlock, nil
		}
	}
	p, err := readState(c.dir)
	switch {
	case err == nil:
		c.p = p
		// Ours is the lock a running create would hold.
		c.noCreator = true
	case errors.Is(err, os.ErrNotExist):
		if _, serr := os.Lstat(c.dir); serr != nil {
			unlock()
			return nil, &notExistError{id: c.p.ID}
		}
		// We hold the lock, so no create is running: it died before writing state.
		c.p = &persisted{ID: c.p.ID}
		c.noCreator = true
	default:
		unlock()
		return nil, err
	}
	return unlock, nil
}
