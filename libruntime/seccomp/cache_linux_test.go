package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
	"github.com/hull-runtime/hull/libruntime/seccomp/bpf"
)

// fixtureWithWarnings is the Docker-like fixture plus a name libseccomp does not
// know, so the cache has warnings to keep.
func fixtureWithWarnings(t *testing.T) *specs.LinuxSeccomp {
	s := loadFixture(t)
	s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"no_such_syscall_hull"}, Action: specs.ActErrno})
	return s
}

func newCache(t *testing.T) *Cache {
	return &Cache{Dir: filepath.Join(t.TempDir(), ".seccomp-cache")}
}

func cacheEntries(t *testing.T, c *Cache) []string {
	t.Helper()
	return hulltest.DirNames(t, c.Dir)
}

// compileFresh compiles s through the cache and checks the result against a plain
// Compile: the same program and the same warnings as Validate.
func compileFresh(t *testing.T, c *Cache, s *specs.LinuxSeccomp) *Compiled {
	t.Helper()
	r, err := c.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	want, warnings, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Program.Bytes(), want.Bytes()) || r.Program.Flags != want.Flags {
		t.Errorf("program from the cache (cached %v) differs from a compiled one", r.Cached)
	}
	if vw, _ := Validate(s); !slices.Equal(r.Warnings, vw) || !slices.Equal(warnings, vw) {
		t.Errorf("warnings %q, Compile's %q, Validate's %q", r.Warnings, warnings, vw)
	}
	return r
}

func TestCacheMissStoreHit(t *testing.T) {
	c := newCache(t)
	s := fixtureWithWarnings(t)
	r := compileFresh(t, c, s)
	if r.Cached || r.Miss == "" || len(r.Warnings) == 0 {
		t.Fatalf("first compile: cached %v, miss %q, %d warnings", r.Cached, r.Miss, len(r.Warnings))
	}
	if err := c.Store(r); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o700 || !fi.IsDir() || int(st.Uid) != os.Geteuid() {
		t.Errorf("cache dir: mode %v, uid %d", fi.Mode(), st.Uid)
	}
	if names := cacheEntries(t, c); !slices.Equal(names, []string{r.Key}) {
		t.Fatalf("cache holds %q, want only %s", names, r.Key)
	}
	if fi, err := os.Stat(filepath.Join(c.Dir, r.Key)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("entry: %v, %v", fi.Mode(), err)
	}
	hit := compileFresh(t, c, s)
	if !hit.Cached || hit.Key != r.Key {
		t.Fatalf("second compile: cached %v (miss %q), key %s", hit.Cached, hit.Miss, hit.Key)
	}
	// The agent's socket and metadata do not change the program.
	n := fixtureWithWarnings(t)
	n.ListenerPath, n.ListenerMetadata = "/run/agent.sock", "meta"
	if k, _ := Key(n); k != r.Key {
		t.Errorf("key with a listener path %s, without %s", k, r.Key)
	}
	// A second profile is a second entry.
	other := without(fixtureWithWarnings(t), "mkdir")
	r2 := compileFresh(t, c, other)
	if r2.Cached || r2.Key == r.Key {
		t.Fatalf("another profile: cached %v, key %s", r2.Cached, r2.Key)
	}
	if err := c.Store(r2); err != nil {
		t.Fatal(err)
	}
	if names := cacheEntries(t, c); len(names) != 2 {
		t.Errorf("cache holds %q, want two entries", names)
	}
	// Flags are part of the profile, and of the key.
	flagged := fixtureWithWarnings(t)
	flagged.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}
	if r3 := compileFresh(t, c, flagged); r3.Cached || r3.Program.Flags&unix.SECCOMP_FILTER_FLAG_LOG == 0 {
		t.Errorf("flagged profile: cached %v, flags %s", r3.Cached, bpf.FlagNames(r3.Program.Flags))
	}
}

// TestCacheBadEntry damages an entry in each way a disk or a crash could, and one
// that parses (a flipped bit in an instruction): each is compiled again, never loaded,
// and Store replaces it.
func TestCacheBadEntry(t *testing.T) {
	s := loadFixture(t)
	damage := map[string]func(b []byte) []byte{
		"empty":       func(b []byte) []byte { return nil },
		"truncated":   func(b []byte) []byte { return b[:len(b)/2] },
		"one bit":     func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"checksum":    func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b },
		"garbage":     func(b []byte) []byte { return bytes.Repeat([]byte{'x'}, 100) },
		"over bound":  func(b []byte) []byte { return make([]byte, MaxEntrySize+1) },
		"another key": nil, // a sound entry under the wrong name
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			c := newCache(t)
			r := compileFresh(t, c, s)
			if err := c.Store(r); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(c.Dir, r.Key)
			if f == nil {
				o := compileFresh(t, c, without(loadFixture(t), "mkdir"))
				if err := c.Store(o); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(filepath.Join(c.Dir, o.Key), path); err != nil {
					t.Fatal(err)
				}
			} else {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, f(b), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			again := compileFresh(t, c, s)
			if again.Cached {
				t.Fatal("a damaged entry was used")
			}
			if !strings.Contains(again.Miss, r.Key) {
				t.Errorf("miss reason %q does not name the entry", again.Miss)
			}
			if err := c.Store(again); err != nil {
				t.Fatal(err)
			}
			if hit := compileFresh(t, c, s); !hit.Cached {
				t.Errorf("the replaced entry is not used: %s", hit.Miss)
			}
		})
	}
}

// TestCacheNotPrivate: a cache dir others may enter, or a symlink, is not used at all.
func TestCacheNotPrivate(t *testing.T) {
	s := loadFixture(t)
	c := newCache(t)
	r := compileFresh(t, c, s)
	if err := c.Store(r); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(c.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if again := compileFresh(t, c, s); again.Cached || !strings.Contains(again.Miss, "not private") {
		t.Errorf("0755 cache: cached %v, miss %q", again.Cached, again.Miss)
	}
	if err := c.Store(r); err == nil {
		t.Error("stored into a 0755 cache dir")
	}
	link := &Cache{Dir: filepath.Join(t.TempDir(), "link")}
	if err := os.Chmod(c.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(c.Dir, link.Dir); err != nil {
		t.Fatal(err)
	}
	if again := compileFresh(t, link, s); again.Cached {
		t.Error("a cache dir reached through a symlink was used")
	}
}

// TestCacheConcurrentStore: creates storing one key at once leave one sound entry
// and no temporary file.
func TestCacheConcurrentStore(t *testing.T) {
	s := loadFixture(t)
	c := newCache(t)
	r := compileFresh(t, c, s)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.Store(r)
			if hit, err := c.Compile(s); err != nil || (!hit.Cached && !strings.Contains(hit.Miss, "not in the cache")) {
				errs <- err
				t.Errorf("a reader during stores: cached %v, miss %q", hit.Cached, hit.Miss)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if names := cacheEntries(t, c); !slices.Equal(names, []string{r.Key}) {
		t.Errorf("cache holds %q, want only %s", names, r.Key)
	}
}

// TestEntryRefusesBadPrograms: a sound checksum does not make an unloadable program
// acceptable.
func TestEntryRefusesBadPrograms(t *testing.T) {
	good := &bpf.Program{Insns: []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}}
	for name, p := range map[string]*bpf.Program{
		"no instruction":  {Insns: nil},
		"too long":        {Insns: make([]unix.SockFilter, bpf.MaxInsns+1)},
		"unknown flag":    {Insns: good.Insns, Flags: unix.SECCOMP_FILTER_FLAG_TSYNC},
		"unknown flag 64": {Insns: good.Insns, Flags: 1 << 40},
	} {
		data, err := MarshalEntry(&Compiled{Program: p, Key: "k"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := UnmarshalEntry(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	data, err := MarshalEntry(&Compiled{Program: good, Key: "k", Warnings: []string{"w"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := UnmarshalEntry(data)
	if err != nil || r.Key != "k" || !slices.Equal(r.Warnings, []string{"w"}) || !slices.Equal(r.Program.Insns, good.Insns) {
		t.Errorf("round trip: %+v, %v", r, err)
	}
}

// TestEntryStoredAsRead: an entry read from a file is written again byte for byte,
// without being encoded again; one of the JSON form hull wrote before (in the state
// dir of a container made then, which exec reads) is read too.
func TestEntryStoredAsRead(t *testing.T) {
	good := &bpf.Program{Insns: []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}}
	seal := func(body []byte) []byte {
		sum := sha256.Sum256(body)
		return append(body, sum[:]...)
	}
	// The key's length as a two-byte uvarint, which MarshalEntry would write in one.
	current := seal([]byte(entryMagic + "\x81\x00k\x00\x00\x08\x06\x00\x00\x00\x00\x00\xff\x7f"))
	legacy, err := json.Marshal(legacyEntry{Key: "k", Program: good})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"current": current, "legacy": seal(legacy)} {
		path := filepath.Join(t.TempDir(), "entry")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := ReadEntry(unix.AT_FDCWD, path)
		if err != nil || r.Key != "k" || len(r.Warnings) != 0 || !slices.Equal(r.Program.Insns, good.Insns) {
			t.Fatalf("%s: %+v, %v", name, r, err)
		}
		if again, err := MarshalEntry(r); err != nil || !bytes.Equal(again, data) {
			t.Errorf("%s: MarshalEntry of the entry read = %q, %v; want the file's bytes", name, again, err)
		}
	}
}

// TestEntryMalformed: a body with a sound checksum but cut short, or with bytes
// after the program, is refused, never read past its end.
func TestEntryMalformed(t *testing.T) {
	good := &bpf.Program{Insns: []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}}
	data, err := MarshalEntry(&Compiled{Program: good, Key: "k", Warnings: []string{"w1", "w2"}})
	if err != nil {
		t.Fatal(err)
	}
	body := data[:len(data)-sha256.Size]
	seal := func(b []byte) []byte {
		sum := sha256.Sum256(b)
		return append(slices.Clip(b), sum[:]...)
	}
	for n := len(entryMagic); n < len(body); n++ {
		if r, err := UnmarshalEntry(seal(body[:n])); err == nil {
			t.Errorf("body cut to %d of %d bytes: accepted %+v", n, len(body), r)
		}
	}
	if _, err := UnmarshalEntry(seal(append(slices.Clone(body), 0))); err == nil {
		t.Error("a byte after the program: accepted")
	}
	// A warning count larger than the bytes left.
	huge := binary.AppendUvarint([]byte(entryMagic+"\x01k\x00"), 1<<40)
	if _, err := UnmarshalEntry(seal(huge)); err == nil {
		t.Error("a warning count beyond the entry: accepted")
	}
	if _, err := UnmarshalEntry(seal(body)); err != nil {
		t.Errorf("the sound entry: %v", err)
	}
}
