// Package logs writes hull's --log file in the formats runc (through logrus)
// uses, because tools read it back: containerd's runc shim takes the message
// of the last {"level":"error"} line of the json log as the error it reports.
//
// Every entry is a single line written with a single write(2) on a file opened
// O_APPEND, so several processes (hull create and its init child) can log to
// the same file without their lines interleaving.
package logs

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Levels as logrus spells them; "warning", not "warn".
const (
	levelError   = "error"
	levelWarning = "warning"
	levelDebug   = "debug"
)

// Logger writes log entries to one file. It is safe for concurrent use.
type Logger struct {
	mu    sync.Mutex
	f     *os.File
	json  bool
	debug bool
}

// Open returns a logger writing to path, created with mode 0644 and appended
// to, or to stderr when path is "". format is "text" (the default when "") or
// "json". Debug entries are written only when debug is set.
func Open(path, format string, debug bool) (*Logger, error) {
	l := &Logger{debug: debug}
	switch format {
	case "", "text":
	case "json":
		l.json = true
	default:
		return nil, fmt.Errorf("invalid log-format: %s", format)
	}
	if path == "" {
		l.f = os.Stderr
		return l, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	l.f = f
	return l, nil
}

// Errorf logs at level error.
func (l *Logger) Errorf(format string, args ...any) { l.logf(levelError, format, args) }

// DebugEnabled reports whether debug entries are written, so callers can skip work
// (timing, formatting) that only a debug log would show.
func (l *Logger) DebugEnabled() bool { return l != nil && l.debug }

// Debugf logs at level debug, only when the logger was opened with debug.
func (l *Logger) Debugf(format string, args ...any) {
	if l != nil && l.debug {
		l.logf(levelDebug, format, args)
	}
}

func (l *Logger) logf(level, format string, args []any) {
	if l == nil {
		return
	}
	line := l.format(time.Now(), level, fmt.Sprintf(format, args...))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	// One Write is one write(2) for a regular file or pipe; nowhere to
	// report a failure to log, so it is dropped.
	_, _ = l.f.Write(line)
}

// format renders one entry, newline included. Times are UTC so that an init
// that has pivoted into a rootfs with another /etc/localtime logs the same
// way as its parent.
func (l *Logger) format(now time.Time, level, msg string) []byte {
	ts := now.UTC().Format(time.RFC3339Nano)
	if l.json {
		// Field order and names as logrus's JSONFormatter writes them.
		b, err := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, ts})
		if err != nil {
			// Unreachable for strings; keep the entry rather than lose it.
			b = []byte(`{"level":"error","msg":"log: ` + err.Error() + `"}`)
		}
		return append(b, '\n')
	}
	// logrus's TextFormatter without colors. Quoting escapes newlines, so
	// an entry stays on one line.
	b := make([]byte, 0, len(ts)+len(msg)+32)
	b = append(b, `time="`...)
	b = append(b, ts...)
	b = append(b, `" level=`...)
	b = append(b, level...)
	b = append(b, ` msg=`...)
	b = strconv.AppendQuote(b, msg)
	return append(b, '\n')
}

var defaultLogger atomic.Pointer[Logger]

func init() {
	defaultLogger.Store(&Logger{f: os.Stderr})
}

// Default returns the package-level logger: stderr, text format, no debug,
// until SetDefault installs the one configured by the command line.
func Default() *Logger { return defaultLogger.Load() }

// SetDefault makes l the package-level logger. It does not close the previous
// one.
func SetDefault(l *Logger) {
	if l == nil {
		l = &Logger{f: os.Stderr}
	}
	defaultLogger.Store(l)
}

// Warnf logs at level warning on the default logger.
func Warnf(format string, args ...any) { Default().logf(levelWarning, format, args) }

// Debugf logs at level debug on the default logger, when it has debug on.
func Debugf(format string, args ...any) { Default().Debugf(format, args...) }
