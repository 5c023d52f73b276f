package container

import (
	"bufio"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/libruntime/initproc"
)

// peer plays init on the child's end of a syncConn: it sends lines and reads what
// hull sends.
func peer(t *testing.T, s *syncConn, lines ...string) *bufio.Reader {
	t.Helper()
	child := s.Child()
	for _, l := range lines {
		if _, err := child.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	return bufio.NewReader(child)
}

func TestSyncConnServe(t *testing.T) {
	lost := func(err error) error { return errors.New("lost: " + err.Error()) }
	for _, tc := range []struct {
		name  string
		lines []string
		close bool // the peer's end closes after the lines: the process died
		want  string
		seen  []string // the handlers run, in order
	}{
		{name: "ready", lines: []string{`{"type":"ready"}`}, want: "", seen: []string{"ready"}},
		{name: "handlers until done", lines: []string{`{"type":"hooks"}`, `{"type":"warning","error":"w"}`, `{"type":"hooks"}`, `{"type":"ready"}`, `{"type":"hooks"}`},
			want: "", seen: []string{"hooks", "hooks", "ready"}},
		{name: "the process's error", lines: []string{`{"type":"hooks"}`, `{"type":"error","error":"mount /x: no such file"}`},
			want: "mount /x: no such file", seen: []string{"hooks"}},
		{name: "unexpected", lines: []string{`{"type":"pid","pid":3}`}, want: `unexpected message "pid" from init`},
		{name: "lost", lines: []string{`{"type":"hooks"}`}, close: true, want: "lost: EOF", seen: []string{"hooks"}},
		{name: "handler fails", lines: []string{`{"type":"fail"}`}, want: "handler failed", seen: []string{"fail"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSyncConn(nil, createWords)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			peer(t, s, tc.lines...)
			if tc.close {
				s.started()
			}
			var seen []string
			err = s.serve(lost, map[string]msgHandler{
				initproc.MsgHooks: func(*initproc.Message) (bool, error) {
					seen = append(seen, "hooks")
					return false, nil
				},
				initproc.MsgReady: func(m *initproc.Message) (bool, error) {
					seen = append(seen, "ready")
					s.ready(m) // a nil timer: no marks
					return true, nil
				},
				"fail": func(*initproc.Message) (bool, error) {
					seen = append(seen, "fail")
					return false, errors.New("handler failed")
				},
			})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("serve: %q, want %q", got, tc.want)
			}
			if strings.Join(seen, ",") != strings.Join(tc.seen, ",") {
				t.Errorf("handlers run: %v, want %v", seen, tc.seen)
			}
		})
	}
}

// TestSyncConnSend: the config goes first, stamped for --debug only when timing, and
// each side's words name its failures.
func TestSyncConnSend(t *testing.T) {
	for _, tc := range []struct {
		t     *phaseTimer
		debug bool
	}{{nil, false}, {&phaseTimer{}, true}} {
		s, err := newSyncConn(tc.t, execWords)
		if err != nil {
			t.Fatal(err)
		}
		r := peer(t, s)
		s.spawning()
		if err := s.sendConfig(&initproc.Config{ID: "c1"}); err != nil {
			t.Fatal(err)
		}
		if err := s.release(); err != nil {
			t.Fatal(err)
		}
		var cfg initproc.Config
		line, _ := r.ReadBytes('\n')
		if err := json.Unmarshal(line, &cfg); err != nil || cfg.ID != "c1" || cfg.Debug != tc.debug || (cfg.Cloned != 0) != tc.debug {
			t.Errorf("config sent: %s (%v), want id c1, debug %v", line, err, tc.debug)
		}
		var m initproc.Message
		line, _ = r.ReadBytes('\n')
		if err := json.Unmarshal(line, &m); err != nil || m.Type != initproc.MsgGo {
			t.Errorf("release sent %s (%v), want %q", line, err, initproc.MsgGo)
		}
		// The process is gone: sending fails in exec's words.
		s.started()
		s.Close()
		if err := s.release(); err == nil || !strings.HasPrefix(err.Error(), "exec: release process: ") {
			t.Errorf("release to a closed connection: %v", err)
		}
	}
}
