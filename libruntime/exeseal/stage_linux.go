package exeseal

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/privdir"
	"github.com/hull-runtime/hull/libruntime/logs"
)

// The init stage (cmd/hull-init), which `make hull` builds first and then puts into
// hull's binary as the ELF section stageSection, not loaded into memory: go:embed
// would put it in a loaded segment, and the kernel maps a binary's page cache
// folios whole, so every hull process would count its 3.7 MB in its RSS. Shipped
// inside hull, not beside it: callers know hull by one path (containerd's
// BinaryName, podman's --runtime), and a package that installs hull alone must
// still work. The link records its SHA-256 and size (-X), so a create finds the
// written-out stage without reading the section; the section is read and checked
// against them only to write it out.
var stageSum, stageSize string

const stageSection = ".hull_stage"

// stage is the init stage hull carries, nil in a hull built without it (`go build`,
// the tests' own binaries).
var stage = func() *stageImage {
	size, err := strconv.ParseInt(stageSize, 10, 64)
	if err != nil || size <= 0 || len(stageSum) != 64 {
		return nil
	}
	return &stageImage{sum: stageSum, size: size, name: stageName + "-" + stageSum[:24], open: openSection}
}()

// The stage's file name (with its checksum's first 24 digits after a dash) and the
// directory under the state root it is written out to.
const (
	stageName = "hull-init"
	// StageDir is below --root; its leading dot keeps it apart from every
	// container's state directory (an id starts with a letter or digit).
	StageDir = ".stage"
	// staleStage is when another version's stage file is taken for a leftover of
	// an upgrade: any create that had it open has long started its init.
	staleStage = time.Hour
)

type stageImage struct {
	sum  string // hex SHA-256
	size int64
	name string // content-addressed: a stage file is never rewritten in place
	// open gives the stage's bytes, size of them, unchecked.
	open func(size int64) (io.ReadCloser, error)
}

// OpenStage returns a handle, as Open does, on the binary a container's init and
// exec's helper are started from: the embedded init stage, written out once under
// root/.stage, or hull's own binary where that cannot be (a hull built without it;
// a state root that is not private or is mounted noexec). Both binaries run the
// same init code; the stage starts faster.
func OpenStage(root, layer string) (*os.File, error) {
	if stage == nil {
		return Open(layer)
	}
	path, err := stage.ensure(filepath.Join(root, StageDir))
	if err != nil {
		logs.Debugf("init stage: %v: init runs from hull's own binary", err)
		return Open(layer)
	}
	return openStage(stage, path, layer)
}

// openStage is open for the written-out stage at exe, whose last resort is a memfd
// copy of s rather than of hull.
func openStage(s *stageImage, exe, layer string) (*os.File, error) {
	return open(exe, layer, func() (*os.File, error) { return sealedMemfd(stageName, s.copyTo) })
}

// ensure returns the path of the stage file under dir, writing it first if it is
// not there. Only a directory private to this user (as the state root is) is
// used, with a file of this user's that nobody else may write, of the embedded
// size: the file is then what hull wrote, as a container's state is.
func (s *stageImage) ensure(dir string) (string, error) {
	dirfd, err := openPrivateDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return "", err
		}
		dirfd, err = openPrivateDir(dir)
	}
	if err != nil {
		return "", err
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	err = unix.Fstatat(dirfd, s.name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == nil:
		if st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 || st.Size != s.size {
			return "", fmt.Errorf("%s/%s is not the init stage hull wrote: not used", dir, s.name)
		}
	case errors.Is(err, unix.ENOENT):
		if err := s.write(dirfd, dir); err != nil {
			return "", err
		}
	default:
		return "", &os.PathError{Op: "stat", Path: filepath.Join(dir, s.name), Err: err}
	}
	return filepath.Join(dir, s.name), nil
}

// openPrivateDir opens dir, which must be this user's, closed to everyone else
// (privdir.Open), and on a filesystem that allows execution.
func openPrivateDir(dir string) (int, error) {
	fd, err := privdir.Open(dir)
	if err != nil {
		return -1, err
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil || sfs.Flags&unix.ST_NOEXEC != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("%s is on a noexec filesystem: not used", dir)
	}
	return fd, nil
}

// write writes the stage into dirfd whole (privdir.Replace): a concurrent create
// sees the whole file or none, and two that write at once write the same bytes.
// Other versions' files older than staleStage go.
func (s *stageImage) write(dirfd int, dir string) error {
	err := privdir.Replace(dirfd, s.name, ".tmp-", func(f *os.File) error {
		// Readable and executable by all, as hull's own binary is: an init in a
		// user namespace execs it as a uid that is not the owner's. Written by
		// nobody: a file can be replaced only through the private directory.
		if err := f.Chmod(0o555); err != nil {
			return err
		}
		if err := s.copyTo(f); err != nil {
			return err
		}
		// A state root on disk: the file must be whole after a crash, or its size
		// check passes a torn copy.
		return f.Sync()
	})
	if err != nil {
		return fmt.Errorf("write the init stage to %s: %w", dir, err)
	}
	s.tidy(dirfd)
	return nil
}

// copyTo copies the stage to w, checking it against the size and checksum the
// link recorded: a binary stripped of the section, or altered since, has no
// usable stage.
func (s *stageImage) copyTo(w io.Writer) error {
	r, err := s.open(s.size)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, s.size+1))
	if err != nil {
		return err
	}
	if n != s.size {
		return fmt.Errorf("hull's init stage has %d bytes, the link recorded %d", n, s.size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != s.sum {
		return fmt.Errorf("hull's init stage has checksum %s, the link recorded %s", got, s.sum)
	}
	return nil
}

// openSection opens the stage in hull's own binary.
func openSection(size int64) (io.ReadCloser, error) {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	ef, err := elf.NewFile(exe)
	if err != nil {
		exe.Close()
		return nil, fmt.Errorf("read hull's binary: %w", err)
	}
	sec := ef.Section(stageSection)
	if sec == nil || sec.Type == elf.SHT_NOBITS || int64(sec.Size) != size {
		exe.Close()
		return nil, fmt.Errorf("hull's binary has no init stage of %d bytes in section %s", size, stageSection)
	}
	return struct {
		io.Reader
		io.Closer
	}{sec.Open(), exe}, nil
}

// tidy removes what upgrades and killed writers left: other versions' stage files
// and temporary files, once older than staleStage.
func (s *stageImage) tidy(dirfd int) {
	dup, err := unix.FcntlInt(uintptr(dirfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return
	}
	d := os.NewFile(uintptr(dup), StageDir)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return
	}
	for _, name := range names {
		if name == s.name {
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && time.Since(time.Unix(st.Mtim.Unix())) > staleStage {
			_ = unix.Unlinkat(dirfd, name, 0)
		}
	}
}
