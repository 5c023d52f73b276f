package clip

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	if got := String("short"); got != "short" {
		t.Errorf("String(short) = %q", got)
	}
	exact := strings.Repeat("a", MaxBytes)
	if got := String(exact); got != exact {
		t.Errorf("a string of MaxBytes was cut: %d bytes", len(got))
	}
	long := strings.Repeat("a", 1<<20)
	want := strings.Repeat("a", MaxBytes) + "... (1048064 more bytes)"
	if got := String(long); got != want {
		t.Errorf("String(1 MiB) = %.40q... (%d bytes), want %d bytes", got, len(got), len(want))
	}
	// "é" is two bytes: one starting at MaxBytes-1 must not be split.
	multi := strings.Repeat("a", MaxBytes-1) + strings.Repeat("é", 10)
	if got := String(multi); !utf8.ValidString(got) || !strings.HasSuffix(got, "... (20 more bytes)") {
		t.Errorf("String split a rune or miscounted: %q", got[MaxBytes-8:])
	}
}

func TestQuote(t *testing.T) {
	if got := Quote("a\tb"); got != `"a\tb"` {
		t.Errorf("Quote = %s", got)
	}
	got := Quote(strings.Repeat("x", MaxBytes+3))
	if want := `"` + strings.Repeat("x", MaxBytes) + `"... (3 more bytes)`; got != want {
		t.Errorf("Quote = %s", got)
	}
}

func TestList(t *testing.T) {
	if got := List([]uint32{1, 2, 3}); got != "[1 2 3]" {
		t.Errorf("List = %s", got)
	}
	if got := List([]int(nil)); got != "[]" {
		t.Errorf("List(nil) = %s", got)
	}
	big := make([]uint32, 100000)
	for i := range big {
		big[i] = uint32(i)
	}
	if got, want := List(big), "[0 1 2 3 4 5 6 7... (99992 more)]"; got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
	if got := List([]string{strings.Repeat("s", MaxBytes+1)}); !strings.HasSuffix(got, "... (1 more bytes)]") {
		t.Errorf("List did not cut a long string: ...%s", got[len(got)-30:])
	}
}

func TestPathError(t *testing.T) {
	long := "/" + strings.Repeat("p", 1<<16)
	err := PathError(&fs.PathError{Op: "stat", Path: long, Err: syscall.ENAMETOOLONG})
	if !errors.Is(err, syscall.ENAMETOOLONG) || len(err.Error()) > MaxBytes+100 {
		t.Errorf("PathError = %.100s... (%d bytes)", err, len(err.Error()))
	}
	short := &fs.PathError{Op: "stat", Path: "/x", Err: syscall.ENOENT}
	if got := PathError(short); got != error(short) {
		t.Errorf("PathError changed a short path: %v", got)
	}
}

func TestMessage(t *testing.T) {
	if got := Message("short"); got != "short" {
		t.Errorf("Message(short) = %q", got)
	}
	long := "mount " + strings.Repeat("d", 1<<20) + ": no such device"
	got := Message(long)
	if len(got) > MaxMessage+100 || !strings.HasPrefix(got, "mount ddd") || !strings.HasSuffix(got, "ddd: no such device") ||
		!strings.Contains(got, " bytes cut) ...") {
		t.Errorf("Message = %.80q ... %q (%d bytes)", got, got[len(got)-80:], len(got))
	}
}
