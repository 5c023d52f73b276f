// Package clip bounds the user values that error messages quote. A config.json
// may be 16 MiB, and an error that repeated a value of it whole (a list of
// 100,000 group ids, a path of a million bytes) would flood the terminal and
// every log line that carries it; the start of the value is enough to find it.
package clip

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// MaxBytes is how much of a string an error keeps: more than any real
	// path or name, so only absurd values are cut.
	MaxBytes = 512
	// MaxItems is how many entries of a list an error keeps.
	MaxItems = 8
)

// String returns s, or its first MaxBytes bytes (never splitting a UTF-8
// sequence) followed by "... (N more bytes)".
func String(s string) string {
	head, rest := cut(s)
	if rest == 0 {
		return s
	}
	return head + more(rest, "bytes")
}

// Quote is %q of s, or of its first MaxBytes bytes followed, outside the
// quotes, by "... (N more bytes)".
func Quote(s string) string {
	head, rest := cut(s)
	q := strconv.Quote(head)
	if rest == 0 {
		return q
	}
	return q + more(rest, "bytes")
}

// List formats xs as %v does, "[a b c]", keeping the first MaxItems entries
// and saying how many more there are: "[a b c ... (99997 more)]". String
// entries are themselves cut as by String.
func List[T any](xs []T) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range xs {
		if i == MaxItems {
			b.WriteString(more(len(xs)-i, ""))
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		if s, ok := any(x).(string); ok {
			b.WriteString(String(s))
		} else {
			fmt.Fprint(&b, x)
		}
	}
	b.WriteByte(']')
	return b.String()
}

func cut(s string) (head string, rest int) { return cutAt(s, MaxBytes) }

func cutAt(s string, max int) (head string, rest int) {
	if len(s) <= max {
		return s, 0
	}
	n := max
	// Back up to the start of a rune so the kept part stays valid UTF-8.
	for n > max-utf8.UTFMax && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], len(s) - n
}

func more(n int, unit string) string {
	if unit == "" {
		return "... (" + strconv.Itoa(n) + " more)"
	}
	return "... (" + strconv.Itoa(n) + " more " + unit + ")"
}

// PathError returns err with the path of an *fs.PathError in it cut as by
// String; Op and the underlying error, which errors.Is and As look at, stay.
// Other errors are returned as they are.
func PathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && len(pe.Path) > MaxBytes {
		return &fs.PathError{Op: pe.Op, Path: String(pe.Path), Err: pe.Err}
	}
	return err
}

// MaxMessage is the longest whole message Message lets through.
const MaxMessage = 4096

// Message bounds the text of an error that is about to be printed or sent,
// for the paths that compose their errors from many parts: it keeps the
// start and the end (where the cause, such as an errno, is) of a text longer
// than MaxMessage. Errors that cut their values at the source never get here
// long.
func Message(s string) string {
	if len(s) <= MaxMessage {
		return s
	}
	const tail = 512
	head, _ := cutAt(s, MaxMessage-tail)
	end := len(s) - tail
	for end < len(s) && !utf8.RuneStart(s[end]) {
		end++
	}
	return head + "... (" + strconv.Itoa(end-len(head)) + " bytes cut) ..." + s[end:]
}
