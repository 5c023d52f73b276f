package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/privdir"
	"github.com/hull-runtime/hull/libruntime/seccomp/bpf"
)

// generatorVersion names what hull's own code makes of a profile besides
// libseccomp (the ENOSYS stub, the rules compile adds, their warnings): bump it
// whenever compile, program or enosysStub would produce another program or other
// warnings for the same profile, so that cache entries of the old code are not used.
const generatorVersion = 1

// Compiled is a profile compiled for this host.
type Compiled struct {
	Program *bpf.Program
	// Warnings are Validate's, in its order and text.
	Warnings []string
	// Key is the cache key of the profile (see Key); empty when none could be made.
	Key string
	// Cached says the program was read from the cache; Miss, when it was not, why.
	Cached bool
	Miss   string
	// stored is the entry as ReadEntry read it (checksum checked), which
	// MarshalEntry returns instead of encoding it again: create copies its cache
	// hit into the container's state dir, and encoding the program (base64 in
	// JSON, then its checksum) cost ~0.15 ms there, in a fresh process.
	stored []byte
}

// Key hashes what decides the program and the warnings compile makes of s: the whole
// profile but listenerPath and listenerMetadata (they name the agent, whatever the
// filter; a notify rule itself is in the syscalls), the native architecture,
// libseccomp's version and API level (what it generates, and which actions it
// accepts, depend on them), hull's generatorVersion, and the form of the entry
// (entryMagic): a hull that writes another form uses other files, so that two
// versions sharing a --root (during an upgrade) do not take each other's entries
// for damaged ones, compile again and replace them, create after create.
func Key(s *specs.LinuxSeccomp) (string, error) {
	native, err := libseccomp.GetNativeArch()
	if err != nil {
		return "", err
	}
	api, _ := libseccomp.GetAPI()
	cp := *s
	cp.ListenerPath, cp.ListenerMetadata = "", ""
	h := sha256.New()
	// A hash.Hash never fails a Write.
	_, _ = fmt.Fprintf(h, "hull seccomp %d\nnative %s\nlibseccomp %s api %d\n%s", generatorVersion, native, libVersion(), api, entryMagic)
	// encoding/json writes a struct's fields in their declared order, and the
	// profile has no maps: one profile, one encoding.
	if err := json.NewEncoder(h).Encode(&cp); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// entryMagic starts an entry as stored: then the key, the seccomp(2) flags, the
// warnings and the program's instructions (bpf.Program.Bytes, host byte order),
// each length-prefixed (uvarint), and last the SHA-256 of all of it, so that a
// file cut short or changed on disk is told from a sound one. A program that only
// looks well-formed would load a different filter than the profile says. Binary
// rather than JSON: create reads an entry from the cache and exec one from the
// state dir, each in a fresh process, where decoding the JSON (the program in
// base64, and the decoder's set-up for its types) cost ~0.17 ms.
const entryMagic = "hull seccomp entry 2\n"

// legacyEntry is an entry as hull wrote it before entryMagic: JSON, then its
// SHA-256. Containers made then have one in their state dir, which exec reads. The
// cache's are never met: the entry form is part of the key (Key).
type legacyEntry struct {
	Key      string       `json:"key"`
	Program  *bpf.Program `json:"program"`
	Warnings []string     `json:"warnings,omitempty"`
}

// MaxEntrySize bounds a stored entry: a program of bpf.MaxInsns is 32 KiB; the
// rest is warnings, one per profile entry at most, each quoting a clipped value.
const MaxEntrySize = 4 << 20

// MarshalEntry encodes r for a file: the cache's, or a container's state.
func MarshalEntry(r *Compiled) ([]byte, error) {
	if r == nil || r.Program == nil {
		return nil, errors.New("seccomp: no program to store")
	}
	if r.stored != nil {
		return r.stored, nil
	}
	appendString := func(b []byte, s string) []byte {
		return append(binary.AppendUvarint(b, uint64(len(s))), s...)
	}
	body := []byte(entryMagic)
	body = appendString(body, r.Key)
	body = binary.AppendUvarint(body, uint64(r.Program.Flags))
	body = binary.AppendUvarint(body, uint64(len(r.Warnings)))
	for _, w := range r.Warnings {
		body = appendString(body, w)
	}
	body = appendString(body, string(r.Program.Bytes()))
	sum := sha256.Sum256(body)
	return append(body, sum[:]...), nil
}

// UnmarshalEntry decodes what MarshalEntry wrote (or an entry of the JSON form hull
// wrote before), checking its checksum and the program (bpf.Program.Check).
func UnmarshalEntry(data []byte) (*Compiled, error) {
	if len(data) > MaxEntrySize {
		return nil, fmt.Errorf("%d bytes, more than %d", len(data), MaxEntrySize)
	}
	if len(data) <= sha256.Size {
		return nil, fmt.Errorf("%d bytes, too short", len(data))
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return nil, errors.New("checksum mismatch")
	}
	rest, ok := bytes.CutPrefix(body, []byte(entryMagic))
	if !ok {
		return unmarshalLegacyEntry(body)
	}
	bad := errors.New("malformed entry")
	uvarint := func() (uint64, error) {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return 0, bad
		}
		rest = rest[n:]
		return v, nil
	}
	field := func() ([]byte, error) {
		n, err := uvarint()
		if err != nil || n > uint64(len(rest)) {
			return nil, bad
		}
		f := rest[:n]
		rest = rest[n:]
		return f, nil
	}
	key, err := field()
	if err != nil {
		return nil, err
	}
	flags, err := uvarint()
	if err != nil {
		return nil, err
	}
	nwarn, err := uvarint()
	// Each warning takes a byte at least: the count cannot exceed what is left.
	if err != nil || nwarn > uint64(len(rest)) {
		return nil, bad
	}
	var warnings []string
	for range nwarn {
		w, err := field()
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, string(w))
	}
	raw, err := field()
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, bad
	}
	insns, err := bpf.Decode(raw)
	if err != nil {
		return nil, err
	}
	p := &bpf.Program{Insns: insns, Flags: uintptr(flags)}
	if uint64(p.Flags) != flags {
		return nil, bad
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return &Compiled{Program: p, Warnings: warnings, Key: string(key)}, nil
}

func unmarshalLegacyEntry(body []byte) (*Compiled, error) {
	var e legacyEntry
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, err
	}
	if e.Program == nil {
		return nil, errors.New("no program")
	}
	return &Compiled{Program: e.Program, Warnings: e.Warnings, Key: e.Key}, nil
}

// ReadEntry reads a file MarshalEntry wrote, bounded by MaxEntrySize, refusing
// anything but a regular file reached without symlinks. dirfd may be unix.AT_FDCWD.
func ReadEntry(dirfd int, name string) (*Compiled, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxEntrySize+1))
	if err != nil {
		return nil, err
	}
	r, err := UnmarshalEntry(data)
	if err != nil {
		return nil, err
	}
	r.stored = data
	return r, nil
}

// Cache holds compiled profiles in Dir, one file per Key, so that creating the
// thousandth container of a profile reads a file instead of compiling it. Dir is
// root's alone (0700): whoever can write there chooses the filters of containers.
// An entry that cannot be read, or is not sound, is compiled again and replaced:
// the cache is never a reason for create to fail.
type Cache struct {
	Dir string
}

// maxEntries bounds the cache: past it new profiles are compiled every time rather
// than stored (a host that makes a profile per container gains nothing from it).
const maxEntries = 1024

// Compile returns s compiled: read from the cache when it has a sound entry for s's
// Key, else compiled (Store then keeps it). The static checks run every time, since
// what they check (the flags this kernel accepts) is not in the key. On error r
// still carries the warnings found before it, as Validate returns them.
func (c *Cache) Compile(s *specs.LinuxSeccomp) (r *Compiled, err error) {
	if s == nil {
		return nil, &Error{Field: root, Msg: "no seccomp configuration to load"}
	}
	if err := checkStatic(s); err != nil {
		return &Compiled{}, err
	}
	key, kerr := Key(s)
	miss := fmt.Sprintf("no cache key: %v", kerr)
	if kerr == nil {
		var hit *Compiled
		if hit, miss = c.lookup(key); hit != nil {
			return hit, nil
		}
	}
	prog, warnings, err := Compile(s)
	if err != nil {
		return &Compiled{Warnings: warnings}, err
	}
	return &Compiled{Program: prog, Warnings: warnings, Key: key, Miss: miss}, nil
}

func (c *Cache) lookup(key string) (*Compiled, string) {
	if c == nil || c.Dir == "" {
		return nil, "no cache"
	}
	dirfd, err := privdir.Open(c.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "not in the cache (none yet)"
	}
	if err != nil {
		return nil, err.Error()
	}
	defer unix.Close(dirfd)
	r, err := ReadEntry(dirfd, key)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, "not in the cache"
	case err != nil:
		return nil, "cache entry " + key + ": " + err.Error()
	case r.Key != key:
		return nil, "cache entry " + key + ": made for key " + r.Key
	}
	r.Cached = true
	return r, ""
}

// Store keeps r in the cache, unless it came from there: written to a temporary file
// and renamed over the key, so a reader sees a whole entry or none, and two creates
// storing one key at once both store the same bytes.
func (c *Cache) Store(r *Compiled) error {
	if c == nil || c.Dir == "" || r == nil || r.Cached || r.Program == nil || r.Key == "" {
		return nil
	}
	data, err := MarshalEntry(r)
	if err != nil {
		return err
	}
	if len(data) > MaxEntrySize {
		return nil
	}
	if err := os.Mkdir(c.Dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	dirfd, err := privdir.Open(c.Dir)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if n, err := c.tidy(dirfd); err != nil || n >= maxEntries {
		return err
	}
	// A temporary file a killed create leaves here is removed by a later tidy.
	err = privdir.Replace(dirfd, r.Key, ".tmp-"+r.Key[:16]+"-", func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("store %s: %w", r.Key, err)
	}
	return nil
}

// staleTemp is when a temporary file is taken for the remains of a killed create.
const staleTemp = time.Hour

// tidy counts the entries and removes temporary files a killed create left.
func (c *Cache) tidy(dirfd int) (int, error) {
	dup, err := unix.FcntlInt(uintptr(dirfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return 0, os.NewSyscallError("fcntl", err)
	}
	d := os.NewFile(uintptr(dup), c.Dir)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		if !strings.HasPrefix(name, ".tmp-") {
			n++
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && time.Since(time.Unix(st.Mtim.Unix())) > staleTemp {
			_ = unix.Unlinkat(dirfd, name, 0) // the next store tries again
		}
	}
	return n, nil
}
