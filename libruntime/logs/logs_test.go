package logs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const writerEnv = "HULL_LOGS_TEST_WRITER" // "path|format|id" in a child writer

func TestMain(m *testing.M) {
	if spec := os.Getenv(writerEnv); spec != "" {
		parts := strings.SplitN(spec, "|", 3)
		if err := writeLines(parts[0], parts[1], parts[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type entry struct {
	Level string
	Msg   string
	Time  time.Time
}

var textLine = regexp.MustCompile(`^time="([^"]*)" level=([a-z]+) msg=(".*")$`)

// parseLine parses one line of either format strictly: json lines must have
// exactly the keys level, msg and time.
func parseLine(format, line string) (entry, error) {
	var e entry
	if format == "json" {
		var keys map[string]any
		if err := json.Unmarshal([]byte(line), &keys); err != nil {
			return e, fmt.Errorf("json line %q: %w", line, err)
		}
		if len(keys) != 3 || keys["level"] == nil || keys["msg"] == nil || keys["time"] == nil {
			return e, fmt.Errorf("json line %q: want exactly level, msg, time", line)
		}
		// The struct containerd's shim decodes the log into.
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return e, fmt.Errorf("json line %q: %w", line, err)
		}
		return e, nil
	}
	m := textLine.FindStringSubmatch(line)
	if m == nil {
		return e, fmt.Errorf("text line %q does not match %s", line, textLine)
	}
	t, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		return e, fmt.Errorf("text line %q: %w", line, err)
	}
	msg, err := strconv.Unquote(m[3])
	if err != nil {
		return e, fmt.Errorf("text line %q: msg: %w", line, err)
	}
	return entry{Level: m[2], Msg: msg, Time: t}, nil
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("log does not end with a newline: %q", b)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestFormats(t *testing.T) {
	msgs := []string{
		"plain",
		`container_linux.go:380: starting container process caused: exec: "foo": executable file not found in $PATH`,
		"two\nlines and a\ttab",
		"<html> & 'quotes' — ünïcode",
	}
	for _, format := range []string{"", "text", "json"} {
		for _, debug := range []bool{false, true} {
			t.Run(fmt.Sprintf("%q debug=%v", format, debug), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "log")
				l, err := Open(path, format, debug)
				if err != nil {
					t.Fatal(err)
				}
				SetDefault(l)
				t.Cleanup(func() { SetDefault(nil) })
				before := time.Now()
				var want []entry
				for _, m := range msgs {
					l.Errorf("%s", m)
					Warnf("%s", m)
					l.Debugf("%s", m)
					Debugf("%s", m)
					want = append(want, entry{Level: "error", Msg: m}, entry{Level: "warning", Msg: m})
					if debug {
						want = append(want, entry{Level: "debug", Msg: m}, entry{Level: "debug", Msg: m})
					}
				}
				l.Errorf("formatted %d %q", 42, "x")
				want = append(want, entry{Level: "error", Msg: `formatted 42 "x"`})
				after := time.Now()

				lines := readLines(t, path)
				if len(lines) != len(want) {
					t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
				}
				pf := format
				if pf == "" {
					pf = "text"
				}
				for i, line := range lines {
					got, err := parseLine(pf, line)
					if err != nil {
						t.Fatal(err)
					}
					if got.Level != want[i].Level || got.Msg != want[i].Msg {
						t.Errorf("line %d = %s %q, want %s %q", i, got.Level, got.Msg, want[i].Level, want[i].Msg)
					}
					if got.Time.Before(before) || got.Time.After(after) {
						t.Errorf("line %d time %v not within [%v, %v]", i, got.Time, before, after)
					}
				}
			})
		}
	}
}

func TestExactText(t *testing.T) {
	l := &Logger{}
	now := time.Date(2025, 3, 4, 5, 6, 7, 890000000, time.FixedZone("X", 3600))
	tests := []struct {
		json bool
		msg  string
		want string
	}{
		{false, `say "hi"`, `time="2025-03-04T04:06:07.89Z" level=error msg="say \"hi\""` + "\n"},
		{false, "a\nb", `time="2025-03-04T04:06:07.89Z" level=error msg="a\nb"` + "\n"},
		{true, `say "hi"`, `{"level":"error","msg":"say \"hi\"","time":"2025-03-04T04:06:07.89Z"}` + "\n"},
	}
	for _, tc := range tests {
		l.json = tc.json
		if got := string(l.format(now, levelError, tc.msg)); got != tc.want {
			t.Errorf("format(json=%v, %q) =\n%s want\n%s", tc.json, tc.msg, got, tc.want)
		}
	}
}

// lastRuntimeError is containerd's runc shim logic: the msg of the last
// error-level entry of the json log.
func lastRuntimeError(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msg string
	dec := json.NewDecoder(f)
	for {
		var e entry
		if err := dec.Decode(&e); err == io.EOF {
			return msg
		} else if err != nil {
			t.Fatalf("containerd would fail to read the log: %v", err)
		}
		if e.Level == "error" {
			msg = strings.TrimSpace(e.Msg)
		}
	}
}

func TestContainerdReadsLastError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.json")
	// Two loggers on one file, as hull create and its init child.
	a, err := Open(path, "json", true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, "json", false)
	if err != nil {
		t.Fatal(err)
	}
	SetDefault(a)
	defer SetDefault(nil)
	a.Debugf("creating")
	a.Errorf("first error")
	b.Debugf("not written")
	b.Errorf("exec: %q: executable file not found in $PATH", "foo")
	Warnf("cleaning up")
	a.Debugf("done")
	if got, want := lastRuntimeError(t, path), `exec: "foo": executable file not found in $PATH`; got != want {
		t.Errorf("last error = %q, want %q", got, want)
	}
}

func TestBadFormat(t *testing.T) {
	for _, f := range []string{"xml", "JSON", "txt", " json"} {
		path := filepath.Join(t.TempDir(), "log")
		_, err := Open(path, f, false)
		if err == nil {
			t.Errorf("Open(format %q) succeeded", f)
			continue
		}
		if want := "invalid log-format: " + f; err.Error() != want {
			t.Errorf("Open(format %q) = %q, want %q", f, err, want)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("Open(format %q) created the log file", f)
		}
	}
}

func TestOpenFile(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	if err := os.WriteFile(path, []byte("kept\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, "text", false)
	if err != nil {
		t.Fatal(err)
	}
	l.Errorf("appended")
	l.f.Close()
	if lines := readLines(t, path); len(lines) != 2 || lines[0] != "kept" {
		t.Errorf("existing content not appended to: %q", lines)
	}

	fresh := filepath.Join(dir, "fresh")
	l, err = Open(fresh, "json", false)
	if err != nil {
		t.Fatal(err)
	}
	l.f.Close()
	fi, err := os.Stat(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("new log file mode %v, want 0644", fi.Mode().Perm())
	}

	if _, err := Open(filepath.Join(dir, "missing", "log"), "text", false); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

// captureStderr points os.Stderr at a pipe while f runs and returns what was
// written there.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = saved }()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&out, r)
		close(done)
	}()
	f()
	w.Close()
	<-done
	r.Close()
	return out.String()
}

func TestStderr(t *testing.T) {
	out := captureStderr(t, func() {
		l, err := Open("", "json", false)
		if err != nil {
			t.Fatal(err)
		}
		l.Errorf("to stderr")
	})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stderr = %q", out)
	}
	if e, err := parseLine("json", lines[0]); err != nil || e.Level != "error" || e.Msg != "to stderr" {
		t.Errorf("stderr entry %q: %+v %v", lines[0], e, err)
	}
}

func TestDefault(t *testing.T) {
	saved := Default()
	defer SetDefault(saved)

	path := filepath.Join(t.TempDir(), "log")
	l, err := Open(path, "json", true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.f.Close()
	SetDefault(l)
	if Default() != l {
		t.Fatal("Default() is not the logger just set")
	}
	Default().Errorf("e %d", 1)
	Warnf("w %d", 2)
	Debugf("d %d", 3)
	want := []entry{{Level: "error", Msg: "e 1"}, {Level: "warning", Msg: "w 2"}, {Level: "debug", Msg: "d 3"}}
	lines := readLines(t, path)
	if len(lines) != len(want) {
		t.Fatalf("lines %q, want %d", lines, len(want))
	}
	for i, line := range lines {
		e, err := parseLine("json", line)
		if err != nil {
			t.Fatal(err)
		}
		if e.Level != want[i].Level || e.Msg != want[i].Msg {
			t.Errorf("line %d = %+v, want %+v", i, e, want[i])
		}
	}

	// The initial default: stderr, text, no debug.
	out := captureStderr(t, func() {
		SetDefault(nil)
		Warnf("back on stderr")
		Debugf("not without debug")
	})
	if e, err := parseLine("text", strings.TrimSuffix(out, "\n")); err != nil || e.Msg != "back on stderr" {
		t.Errorf("default logger wrote %q (%v)", out, err)
	}
}

const (
	linesPerWriter = 500
	// Long entries: interleaving within a line would show if an entry took
	// more than one write.
	padding = 3000
)

// writeLines writes linesPerWriter numbered entries as writer id.
func writeLines(path, format, id string) error {
	l, err := Open(path, format, false)
	if err != nil {
		return err
	}
	logLines(l, id)
	return l.f.Close()
}

func logLines(l *Logger, id string) {
	pad := strings.Repeat(id, padding/len(id))
	for i := range linesPerWriter {
		l.Errorf("writer=%s seq=%d %s", id, i, pad)
	}
}

func TestConcurrentWriters(t *testing.T) {
	tests := []struct {
		name   string
		format string
		run    func(t *testing.T, path, format string, ids []string)
	}{
		{"goroutines sharing a logger", "json", goroutinesShared},
		{"goroutines with own loggers", "text", goroutinesOwn},
		{"processes json", "json", processes},
		{"processes text", "text", processes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			ids := []string{"a", "b"}
			tc.run(t, path, tc.format, ids)

			seen := map[string]bool{}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			n := 0
			for sc.Scan() {
				n++
				e, err := parseLine(tc.format, sc.Text())
				if err != nil {
					t.Fatalf("line %d: %v", n, err)
				}
				var id string
				var seq int
				if _, err := fmt.Sscanf(e.Msg, "writer=%s seq=%d", &id, &seq); err != nil {
					t.Fatalf("line %d msg %.60q: %v", n, e.Msg, err)
				}
				if want := strings.Repeat(id, padding/len(id)); !strings.HasSuffix(e.Msg, " "+want) {
					t.Fatalf("line %d: message of writer %s mixed with another's", n, id)
				}
				key := id + "/" + strconv.Itoa(seq)
				if seen[key] {
					t.Fatalf("line %d: %s seen twice", n, key)
				}
				seen[key] = true
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if want := len(ids) * linesPerWriter; n != want || len(seen) != want {
				t.Errorf("%d lines, %d distinct entries; want %d", n, len(seen), want)
			}
		})
	}
}

func goroutinesShared(t *testing.T, path, format string, ids []string) {
	l, err := Open(path, format, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.f.Close()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { logLines(l, id) })
	}
	wg.Wait()
}

func goroutinesOwn(t *testing.T, path, format string, ids []string) {
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Go(func() { errs <- writeLines(path, format, id) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func processes(t *testing.T, path, format string, ids []string) {
	var cmds []*exec.Cmd
	defer func() {
		// Reached early only when a later Start failed.
		for _, cmd := range cmds {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	for _, id := range ids {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), writerEnv+"="+path+"|"+format+"|"+id)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for len(cmds) > 0 {
		if err := cmds[0].Wait(); err != nil {
			t.Errorf("writer process: %v", err)
		}
		cmds = cmds[1:]
	}
}
