package bpf

import (
	"encoding/json"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestJSONRoundTrip(t *testing.T) {
	p := &Program{Insns: []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, Jf: 2, K: 0xc000003e},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}, Flags: unix.SECCOMP_FILTER_FLAG_NEW_LISTENER}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Program
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Insns, q.Insns) || p.Flags != q.Flags || !q.Notify() {
		t.Errorf("round trip: %+v, want %+v", q, p)
	}
}

func TestUnmarshalRefuses(t *testing.T) {
	for _, in := range []string{
		`{"bpf":"","flags":0}`,             // no instruction
		`{"bpf":"AAAAAAAAAA==","flags":0}`, // 7 bytes
		`{"bpf":"BgAAAAAA/38=","flags":1}`, // TSYNC, which hull never sets
		`{"bpf":"not base64!","flags":0}`,
	} {
		var p Program
		if err := json.Unmarshal([]byte(in), &p); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
	var p Program
	if err := json.Unmarshal([]byte(`{"bpf":"BgAAAAAA/38=","flags":0}`), &p); err != nil || len(p.Insns) != 1 || p.Insns[0].K != unix.SECCOMP_RET_ALLOW {
		t.Errorf("one RET ALLOW: %+v, %v", p, err)
	}
}
