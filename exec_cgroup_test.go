package main

import (
	"strings"
	"testing"
)

// TestSubCgroupArgs: exec --cgroup takes one path (runc's cgroup v2 form); the cgroup
// v1 controller:path form and several paths are refused, naming the flag.
func TestSubCgroupArgs(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{nil, "", ""},
		{[]string{"sub"}, "sub", ""},
		{[]string{"/a/b"}, "/a/b", ""},
		{[]string{"cpu:sub"}, "", "cgroup v2 only"},
		{[]string{"cpu,memory:sub"}, "", "cgroup v2 only"},
		{[]string{"a", "b"}, "", "given 2 times"},
	} {
		got, err := subCgroup(tc.args)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "--cgroup") {
				t.Errorf("%q: error %v, want one naming --cgroup with %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.args, got, err, tc.want)
		}
	}
}
