package features

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/hull-runtime/hull/libruntime/cgroups"
	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/process"
	"github.com/hull-runtime/hull/libruntime/rootfs"
	"github.com/hull-runtime/hull/libruntime/seccomp"
)

// validSpec is a config that config.ValidateAll accepts, with a rootfs in a
// temporary bundle.
func validSpec(t *testing.T) (*specs.Spec, string) {
	t.Helper()
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := config.Default(false)
	if errs := config.ValidateAll(s, bundle); len(errs) > 0 {
		t.Fatalf("the default config is invalid: %v", errs)
	}
	return s, bundle
}

// fieldErrors are the validation errors whose field starts with prefix.
func fieldErrors(s *specs.Spec, bundle, prefix string) []string {
	var out []string
	for _, e := range config.ValidateAll(s, bundle) {
		if strings.HasPrefix(e.Field, prefix) {
			out = append(out, e.Error())
		}
	}
	return out
}

func TestOCIVersions(t *testing.T) {
	d := Document("v", "c")
	if d.OCIVersionMin != "1.0.0" || d.OCIVersionMax != "1.3.0" {
		t.Errorf("ociVersionMin %q, ociVersionMax %q; want 1.0.0 and 1.3.0", d.OCIVersionMin, d.OCIVersionMax)
	}
	if d.OCIVersionMax != specs.Version {
		t.Errorf("ociVersionMax %q is not the runtime-spec version hull is built with (%s)", d.OCIVersionMax, specs.Version)
	}
	s, bundle := validSpec(t)
	for _, v := range []string{d.OCIVersionMin, d.OCIVersionMax} {
		s.Version = v
		if errs := fieldErrors(s, bundle, "ociVersion"); len(errs) > 0 {
			t.Errorf("config.Validate refuses ociVersion %s, which features claims: %v", v, errs)
		}
	}
	// ociVersionMax is the newest version hull recognizes, not the newest it
	// runs: a newer 1.x is accepted (runtime-spec keeps compatibility within a
	// major version) with a warning, which is what marks it as not recognized.
	s.Version = "1.4.0"
	if errs := fieldErrors(s, bundle, "ociVersion"); len(errs) > 0 {
		t.Errorf("config.Validate refuses ociVersion 1.4.0, a newer minor of the same major: %v", errs)
	}
	if config.VersionWarning(s.Version) == nil {
		t.Error("no warning for ociVersion 1.4.0, above ociVersionMax")
	}
	if config.VersionWarning(d.OCIVersionMax) != nil {
		t.Errorf("a warning for ociVersion %s, which features claims", d.OCIVersionMax)
	}
	s.Version = "2.0.0"
	if errs := fieldErrors(s, bundle, "ociVersion"); len(errs) == 0 {
		t.Error("config.Validate accepts ociVersion 2.0.0, a newer major")
	}
}

func TestHooks(t *testing.T) {
	var tags []string
	ht := reflect.TypeFor[specs.Hooks]()
	for i := 0; i < ht.NumField(); i++ {
		name, _, _ := strings.Cut(ht.Field(i).Tag.Get("json"), ",")
		tags = append(tags, name)
	}
	got := Document("v", "c").Hooks
	if !slices.Equal(sorted(got), sorted(tags)) {
		t.Errorf("hooks %q; want every hook kind of specs.Hooks %q", got, tags)
	}
}

// configMountWords reads the option words of config.ParseMountOptions from
// its source: the keys of its option tables and the words ParseMountOptions
// matches in its switch. config does not export the list.
func configMountWords(t *testing.T) []string {
	t.Helper()
	const src = "../config/mountopts_linux.go"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, src, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]bool{"flagOptions": false, "propagationOptions": false, "attrOptions": false, "atimeAttrOptions": false}
	var words []string
	str := func(e ast.Expr) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if w, err := strconv.Unquote(lit.Value); err == nil {
				words = append(words, w)
			}
		}
	}
	sawSwitch := false
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			for i, name := range n.Names {
				if _, ok := tables[name.Name]; !ok || i >= len(n.Values) {
					continue
				}
				cl, ok := n.Values[i].(*ast.CompositeLit)
				if !ok {
					continue
				}
				tables[name.Name] = true
				for _, el := range cl.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						str(kv.Key)
					}
				}
			}
		case *ast.FuncDecl:
			if n.Name.Name != "ParseMountOptions" {
				return false
			}
			ast.Inspect(n.Body, func(m ast.Node) bool {
				if cc, ok := m.(*ast.CaseClause); ok {
					sawSwitch = true
					for _, e := range cc.List {
						str(e)
					}
				}
				return true
			})
			return false
		}
		return true
	})
	for name, seen := range tables {
		if !seen {
			t.Fatalf("%s: no option table %s; update this test to config's new layout", src, name)
		}
	}
	if !sawSwitch {
		t.Fatalf("%s: ParseMountOptions has no switch; update this test to config's new layout", src)
	}
	return words
}

func TestMountOptions(t *testing.T) {
	d := Document("v", "c")
	got := d.MountOptions

	// Exactly config's words, without the id-mapped ones unless id-mapped
	// mounts work here.
	idmap := *d.Linux.MountExtensions.IDMap.Enabled
	var want []string
	for _, w := range configMountWords(t) {
		if idmap || (w != "idmap" && w != "ridmap") {
			want = append(want, w)
		}
	}
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("mountOptions\n got %q\nwant %q (config.ParseMountOptions' words)", sorted(got), sorted(want))
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("mountOptions not sorted or with duplicates: %q", got)
	}
	for _, o := range got {
		mo, err := config.ParseMountOptions([]string{o})
		if err != nil || mo.Data != "" {
			t.Errorf("%q is listed but config.ParseMountOptions passes it on as filesystem data (%+v, %v)", o, mo, err)
		}
	}
	// A word ParseMountOptions does not know must go to data; this keeps the
	// check above from passing for every word.
	if mo, _ := config.ParseMountOptions([]string{"size=1m"}); mo.Data != "size=1m" {
		t.Errorf("ParseMountOptions(size=1m).Data = %q", mo.Data)
	}

	for _, o := range []string{"idmap", "ridmap"} {
		if slices.Contains(got, o) != idmap {
			t.Errorf("mountOptions lists %q: %v, but mountExtensions.idmap.enabled is %v", o, !idmap, idmap)
		}
	}
}

func TestCapabilities(t *testing.T) {
	last := process.LastCap()
	got := Document("v", "c").Linux.Capabilities
	wantLen := min(last, len(process.CapNames())-1) + 1
	if len(got) != wantLen {
		t.Fatalf("%d capabilities for cap_last_cap %d, want %d: %q", len(got), last, wantLen, got)
	}
	for i, name := range got {
		n, err := process.CapFromName(name)
		if err != nil || n != i {
			t.Errorf("capabilities[%d] = %q: process.CapFromName gives %d, %v", i, name, n, err)
		}
	}
	// Every listed capability is accepted in each set of a config.
	s, bundle := validSpec(t)
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: got, Effective: got, Inheritable: got, Permitted: got, Ambient: got,
	}
	if errs := fieldErrors(s, bundle, "process.capabilities"); len(errs) > 0 {
		t.Errorf("config.Validate refuses listed capabilities: %v", errs)
	}
	// An older kernel gets fewer names; a newer one no names hull lacks.
	if c := capabilities(37); len(c) != 38 || c[37] != "CAP_AUDIT_READ" {
		t.Errorf("capabilities(37) = %q, want CAP_CHOWN..CAP_AUDIT_READ", c)
	}
	if c := capabilities(63); len(c) != 41 || c[40] != "CAP_CHECKPOINT_RESTORE" {
		t.Errorf("capabilities(63) = %q, want the 41 names hull knows", c)
	}
}

func TestNamespaces(t *testing.T) {
	got := Document("v", "c").Linux.Namespaces
	for _, n := range config.Namespaces() {
		_, err := os.Lstat("/proc/self/ns/" + n.File)
		if listed := slices.Contains(got, string(n.Type)); listed != (err == nil) {
			t.Errorf("namespace %s listed: %v, but /proc/self/ns/%s: %v", n.Type, listed, n.File, err)
		}
	}
	s, bundle := validSpec(t)
	s.Linux.Namespaces = nil
	for _, n := range got {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(n)})
	}
	for _, e := range fieldErrors(s, bundle, "linux.namespaces") {
		if strings.Contains(e, "unknown namespace type") {
			t.Errorf("config.Validate does not know a listed namespace: %s", e)
		}
	}
}

func TestSeccompAndAnnotations(t *testing.T) {
	d := Document("1.2.3-test", "abc123")
	if !reflect.DeepEqual(d.Linux.Seccomp, seccomp.Features()) {
		t.Errorf("seccomp %+v, want seccomp.Features() %+v", d.Linux.Seccomp, seccomp.Features())
	}
	major, minor, micro := libseccomp.GetLibraryVersion()
	want := map[string]string{
		"io.github.hull.version":            "1.2.3-test",
		"io.github.hull.commit":             "abc123",
		"io.github.hull.libseccomp.version": fmt.Sprintf("%d.%d.%d", major, minor, micro),
	}
	if !reflect.DeepEqual(d.Annotations, want) {
		t.Errorf("annotations %v, want %v", d.Annotations, want)
	}
	if major < 2 {
		t.Errorf("libseccomp version %d.%d.%d: not linked?", major, minor, micro)
	}
}

// TestFalseClaims checks that what features says hull lacks, config.Validate
// refuses instead of ignoring, and that what it claims is accepted.
func TestFalseClaims(t *testing.T) {
	l := Document("v", "c").Linux
	for name, b := range map[string]*bool{
		"cgroup.v1": l.Cgroup.V1, "cgroup.systemdUser": l.Cgroup.SystemdUser,
		"intelRdt.enabled": l.IntelRdt.Enabled,
	} {
		if b == nil || *b {
			t.Errorf("linux.%s = %s, want false", name, fmtBool(b))
		}
	}
	// The systemd driver is claimed where it works: systemd is PID 1 and answers.
	if l.Cgroup.Systemd == nil || *l.Cgroup.Systemd != cgroups.SystemdAvailable() {
		t.Errorf("linux.cgroup.systemd = %s, want %v", fmtBool(l.Cgroup.Systemd), cgroups.SystemdAvailable())
	}
	if !*l.Cgroup.V2 || !*l.Cgroup.Rdma {
		t.Errorf("cgroup %+v: want v2 and rdma", *l.Cgroup)
	}
	// Supported, whatever the host: config.Validate accepts the fields (the host's
	// own refusal, where the module is off, is lsm.Check's).
	if b := l.Apparmor.Enabled; b == nil || !*b {
		t.Errorf("linux.apparmor.enabled = %s, want true", fmtBool(b))
	}
	if b := l.Selinux.Enabled; b == nil || !*b {
		t.Errorf("linux.selinux.enabled = %s, want true", fmtBool(b))
	}
	for _, tc := range []struct {
		field string
		set   func(*specs.Spec)
	}{
		{"process.apparmorProfile", func(s *specs.Spec) { s.Process.ApparmorProfile = "unconfined" }},
		{"process.selinuxLabel", func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }},
		{"linux.mountLabel", func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" }},
	} {
		s, bundle := validSpec(t)
		tc.set(s)
		if errs := fieldErrors(s, bundle, tc.field); len(errs) != 0 {
			t.Errorf("config.Validate refuses %s although features claims it: %v", tc.field, errs)
		}
	}
}

// TestMemoryPolicyClaim: every mode and flag features lists is one
// config.Validate accepts in linux.memoryPolicy (features.md: the runtime MUST
// recognize them), and they are the runtime-spec's whole lists.
func TestMemoryPolicyClaim(t *testing.T) {
	mp := Document("v", "c").Linux.MemoryPolicy
	wantModes := []string{"MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL"}
	wantFlags := []string{"MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"}
	if !slices.Equal(mp.Modes, wantModes) || !slices.Equal(mp.Flags, wantFlags) {
		t.Fatalf("memoryPolicy = %+v, want modes %v and flags %v", *mp, wantModes, wantFlags)
	}
	for _, mode := range mp.Modes {
		s, bundle := validSpec(t)
		s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MemoryPolicyModeType(mode)}
		if mode != "MPOL_DEFAULT" && mode != "MPOL_LOCAL" && mode != "MPOL_PREFERRED" {
			s.Linux.MemoryPolicy.Nodes = "0"
		}
		if errs := fieldErrors(s, bundle, "linux.memoryPolicy"); len(errs) > 0 {
			t.Errorf("features claims %s, config.Validate refuses it: %v", mode, errs)
		}
	}
	for _, flag := range mp.Flags {
		s, bundle := validSpec(t)
		s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MemoryPolicyFlagType(flag)}}
		if errs := fieldErrors(s, bundle, "linux.memoryPolicy"); len(errs) > 0 {
			t.Errorf("features claims %s, config.Validate refuses it: %v", flag, errs)
		}
	}
}

// TestIDMapClaim: mountExtensions.idmap is what rootfs finds on this kernel,
// and a real id-mapped mount agrees with it: containerd turns Kubernetes user
// namespaces on by this claim.
func TestIDMapClaim(t *testing.T) {
	got := Document("v", "c").Linux.MountExtensions.IDMap.Enabled
	if got == nil || *got != rootfs.IDMapSupported() {
		t.Fatalf("mountExtensions.idmap.enabled = %s, rootfs.IDMapSupported() = %v", fmtBool(got), rootfs.IDMapSupported())
	}
	if os.Geteuid() != 0 {
		if *got {
			t.Errorf("mountExtensions.idmap.enabled = true for a non-root user, who cannot make id-mapped mounts")
		}
		return
	}
	// As root, a real id-mapped mount works exactly when it is claimed.
	spec := &specs.Spec{Mounts: []specs.Mount{{Destination: "/x", Type: "bind", Source: t.TempDir(), Options: []string{"bind", "idmap"},
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}}}}
	srv := rootfs.NewSourceServer(spec, "/", nil)
	defer srv.Close()
	tree, err := srv.Open(0)
	if tree != nil {
		tree.Close()
	}
	if (err == nil) != *got {
		t.Errorf("mountExtensions.idmap.enabled = %v, but making an id-mapped mount: %v", *got, err)
	}
}

func TestMarshal(t *testing.T) {
	d := Document("v", "c")
	out, err := Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("{\n    \"ociVersionMin\": \"1.0.0\",\n    \"ociVersionMax\": \"1.3.0\",\n")) || !bytes.HasSuffix(out, []byte("}\n")) {
		t.Errorf("not 4-space indented JSON starting with the versions and ending in a newline:\n%s", out)
	}
	if want := "\n    \"potentiallyUnsafeConfigAnnotations\": []\n"; !bytes.Contains(out, []byte(want)) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	var back features.Features
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, d) {
		t.Errorf("round trip changed the document:\n got %+v\nwant %+v", back, *d)
	}

	// Empty lists mean "none" and stay.
	out, err = Marshal(&features.Features{OCIVersionMin: "1.0.0", OCIVersionMax: "1.3.0", Linux: &features.Linux{MemoryPolicy: &features.MemoryPolicy{Modes: []string{}, Flags: []string{}}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "\n        \"memoryPolicy\": {\n            \"modes\": [],\n            \"flags\": []\n        }\n"; !bytes.Contains(out, []byte(want)) {
		t.Errorf("empty lists: output lacks %q:\n%s", want, out)
	}

	// Nil lists mean "unknown" and stay absent.
	out, err = Marshal(&features.Features{OCIVersionMin: "1.0.0", OCIVersionMax: "1.3.0", Linux: &features.Linux{MemoryPolicy: &features.MemoryPolicy{}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n    \"ociVersionMin\": \"1.0.0\",\n    \"ociVersionMax\": \"1.3.0\",\n    \"linux\": {\n        \"memoryPolicy\": {}\n    }\n}\n"; string(out) != want {
		t.Errorf("nil lists:\n%s\nwant\n%s", out, want)
	}
}

// TestMarshalMatchesSpecTypes fills every field of features.Features and
// checks Marshal writes exactly what encoding the spec's own type does: the
// mirror types miss no field and keep the order.
func TestMarshalMatchesSpecTypes(t *testing.T) {
	var f features.Features
	fill(reflect.ValueOf(&f).Elem())
	got, err := Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "    ")
	if err := enc.Encode(&f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("Marshal differs from the spec type's encoding:\n%s\nwant\n%s", got, want.Bytes())
	}
	if !bytes.Contains(got, []byte(`"flags": [`)) || !bytes.Contains(got, []byte(`"enabled": true`)) {
		t.Errorf("fill left fields empty:\n%s", got)
	}
}

// fill sets every field reachable from v to a non-zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i))
		}
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func fmtBool(b *bool) string {
	if b == nil {
		return "null"
	}
	return strconv.FormatBool(*b)
}
