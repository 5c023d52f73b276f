package linux

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeCall fails with EINTR the first times times, then returns ret and err.
func fakeCall(times int, ret int, err error) (func() (int, error), *int) {
	calls := 0
	return func() (int, error) {
		calls++
		if calls <= times {
			return -1, unix.EINTR
		}
		return ret, err
	}, &calls
}

func TestRetry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		eintr int
		err   error
	}{
		{"success at once", 0, nil},
		{"success after EINTR", 3, nil},
		{"other error after EINTR", 2, unix.EPERM},
		{"EAGAIN is not retried", 0, unix.EAGAIN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, calls := fakeCall(tc.eintr, 0, tc.err)
			err := Retry(func() error { _, err := f(); return err })
			if err != tc.err {
				t.Errorf("Retry = %v, want %v", err, tc.err)
			}
			if *calls != tc.eintr+1 {
				t.Errorf("%d calls, want %d", *calls, tc.eintr+1)
			}
		})
	}
	// A wrapped EINTR is still EINTR.
	n := 0
	err := Retry(func() error {
		if n++; n == 1 {
			return os.NewSyscallError("x", unix.EINTR)
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Errorf("wrapped EINTR: %v after %d calls, want nil after 2", err, n)
	}
}

func TestRetry2(t *testing.T) {
	f, calls := fakeCall(5, 42, nil)
	if v, err := retry2(f); v != 42 || err != nil || *calls != 6 {
		t.Errorf("retry2 = %d, %v after %d calls; want 42, nil after 6", v, err, *calls)
	}
	f, calls = fakeCall(1, 7, unix.ENOENT)
	if v, err := retry2(f); v != 7 || err != unix.ENOENT || *calls != 2 {
		t.Errorf("retry2 = %d, %v after %d calls; want 7, ENOENT after 2", v, err, *calls)
	}
}

// TestWriteValue writes to a regular file the way a kernel file is written: one
// write, all of it, and errors naming the file.
func TestWriteValue(t *testing.T) {
	p := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := WriteValue(fd, "cgroup.procs", "1234"); err != nil {
		t.Fatalf("WriteValue: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "1234" {
		t.Errorf("file holds %q, want 1234", b)
	}

	ro, err := Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ro)
	err = WriteValue(ro, "/proc/self/oom_score_adj", "5")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "write" || pe.Path != "/proc/self/oom_score_adj" || !errors.Is(err, unix.EBADF) {
		t.Errorf("WriteValue on a read-only fd = %v, want a write PathError on the name with EBADF", err)
	}
}

// TestWriteValueShort: a pipe with less room than the value (non-blocking, and
// more than PIPE_BUF, so the kernel may write part of it) takes a partial write,
// which WriteValue reports instead of continuing with a second write.
func TestWriteValueShort(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	size, err := unix.FcntlInt(uintptr(p[1]), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	fill := make([]byte, size-1000)
	if n, err := Write(p[1], fill); err != nil || n != len(fill) {
		t.Fatalf("fill the pipe: %d, %v", n, err)
	}
	const pipeBuf = 4096 // PIPE_BUF: writes up to it are all or nothing
	// Not a multiple of the page size: the kernel puts the remainder into the
	// room left in the pipe's last page, and has no page for the rest.
	value := string(make([]byte, 2*pipeBuf+500))
	err = WriteValue(p[1], "pipe", value)
	if !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("WriteValue with %d bytes of room for %d = %v, want a short write", 1000, len(value), err)
	}
	if err.Error() != "write pipe: short write" {
		t.Errorf("error text %q", err)
	}
	// Exactly one write happened: what is in the pipe is the fill and the part.
	buf := make([]byte, size+len(value))
	n, _ := Read(p[0], buf)
	if n <= len(fill) || n >= len(fill)+len(value) {
		t.Errorf("pipe holds %d bytes after the fill of %d", n, len(fill))
	}
}

// TestWrappers runs a few wrappers against the kernel: they are the calls they
// name.
func TestWrappers(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "d")
	if err := Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	var st unix.Stat_t
	if err := Fstatat(d, "d", &st, 0); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("Fstatat: %v, mode %o", err, st.Mode)
	}
	fd, err := Openat2(d, "../"+filepath.Base(dir)+"/d", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH})
	if err == nil {
		unix.Close(fd)
		t.Errorf("Openat2 RESOLVE_BENEATH let .. out")
	} else if !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.ENOSYS) {
		t.Errorf("Openat2 = %v, want EXDEV", err)
	}
	if err := Rmdir(sub); err != nil {
		t.Errorf("Rmdir: %v", err)
	}
	if err := Rmdir(sub); !errors.Is(err, unix.ENOENT) {
		t.Errorf("second Rmdir = %v, want the bare ENOENT", err)
	}
}
