package devices

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// run interprets the instructions that Program emits (a word load from the
// context, 64-bit mov, and, rsh, jeq, jne, ja, exit) for one device request
// and returns R0, or an error for anything else: the kernel cannot run a
// CGROUP_DEVICE program on demand (no BPF_PROG_TEST_RUN for the type).
func run(code []byte, ctx [3]uint32) (uint64, error) {
	var reg [11]uint64
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc < 0 || (pc+1)*asm.InstructionSize > len(code) || steps > len(code) {
			return 0, fmt.Errorf("pc %d out of the program, or a loop", pc)
		}
		raw := code[pc*asm.InstructionSize:]
		op, dst, src := raw[0], raw[1]&0xf, raw[1]>>4
		off := int16(binary.LittleEndian.Uint16(raw[2:]))
		imm := uint64(int64(int32(binary.LittleEndian.Uint32(raw[4:]))))
		val := imm
		if op&0x08 != 0 {
			val = reg[src]
		}
		switch op & 0x07 {
		case 0x01: // ldx
			if op != 0x61 || src != 1 || off < 0 || off > 8 || off%4 != 0 {
				return 0, fmt.Errorf("pc %d: unexpected load %#x", pc, op)
			}
			reg[dst] = uint64(ctx[off/4])
		case 0x07: // alu64
			switch op & 0xf0 {
			case 0xb0:
				reg[dst] = val
			case 0x50:
				reg[dst] &= val
			case 0x70:
				reg[dst] >>= val
			default:
				return 0, fmt.Errorf("pc %d: unexpected alu op %#x", pc, op)
			}
		case 0x05: // jmp
			taken := false
			switch op & 0xf0 {
			case 0x00:
				taken = true
			case 0x10:
				taken = reg[dst] == val
			case 0x50:
				taken = reg[dst] != val
			case 0x90:
				return reg[0], nil
			default:
				return 0, fmt.Errorf("pc %d: unexpected jump op %#x", pc, op)
			}
			if taken {
				pc += int(off)
			}
		default:
			return 0, fmt.Errorf("pc %d: unexpected class %#x", pc, op)
		}
	}
}

// allowed is the package's semantics, said once more the plain way: every bit
// asked for must be named by a matching rule, and the last such rule allow it;
// a request for no bit goes by the last matching rule.
func allowed(rules []specs.LinuxDeviceCgroup, typ, major, minor, access uint32) bool {
	matches := func(r specs.LinuxDeviceCgroup) bool {
		return (r.Type == "a" || r.Type == "" || (r.Type == "c" && typ == devChar) || (r.Type == "b" && typ == devBlock)) &&
			(r.Major == nil || *r.Major == -1 || *r.Major == int64(major)) &&
			(r.Minor == nil || *r.Minor == -1 || *r.Minor == int64(minor))
	}
	if access == 0 {
		for i := len(rules) - 1; i >= 0; i-- {
			if matches(rules[i]) {
				return rules[i].Allow
			}
		}
		return false
	}
	for _, b := range []struct {
		bit uint32
		ch  rune
	}{{accRead, 'r'}, {accWrite, 'w'}, {accMknod, 'm'}} {
		bit, ch := b.bit, b.ch
		if access&bit == 0 {
			continue
		}
		access &^= bit
		decided := false
		for i := len(rules) - 1; i >= 0 && !decided; i-- {
			if matches(rules[i]) && bytes.ContainsRune([]byte(rules[i].Access), ch) {
				if !rules[i].Allow {
					return false
				}
				decided = true
			}
		}
		if !decided {
			return false
		}
	}
	return access == 0 // a bit the package does not know is never allowed
}

func randomRules(rng *rand.Rand) []specs.LinuxDeviceCgroup {
	num := func() *int64 {
		n := rng.Int64N(5) - 1 // -1 (any) or 0..3
		if rng.IntN(4) == 0 {
			return nil
		}
		return &n
	}
	rules := make([]specs.LinuxDeviceCgroup, rng.IntN(12))
	for i := range rules {
		access := ""
		for access == "" {
			for _, ch := range "rwm" {
				if rng.IntN(2) == 0 {
					access += string(ch)
				}
			}
		}
		rules[i] = specs.LinuxDeviceCgroup{
			Allow:  rng.IntN(2) == 0,
			Type:   []string{"a", "", "c", "b"}[rng.IntN(4)],
			Major:  num(),
			Minor:  num(),
			Access: access,
		}
	}
	return rules
}

// TestProgramSemantics runs both programs, the tree and the sequential one, for
// random rule lists against every request on the numbers they name and others
// (device types and access bits the kernel does not define included).
func TestProgramSemantics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2000; n++ {
		rules := randomRules(rng)
		parsed, err := parse(rules)
		if err != nil {
			t.Fatal(err)
		}
		programs := map[string]asm.Instructions{"tree": tree(parsed), "sequential": sequential(parsed)}
		for name, insns := range programs {
			var code bytes.Buffer
			if err := insns.Marshal(&code, binary.LittleEndian); err != nil {
				t.Fatal(err)
			}
			for typ := uint32(0); typ < 4; typ++ {
				for major := uint32(0); major < 5; major++ {
					for minor := uint32(0); minor < 5; minor++ {
						for access := uint32(0); access < 16; access++ {
							want := allowed(rules, typ, major, minor, access)
							got, err := run(code.Bytes(), [3]uint32{access<<16 | typ, major, minor})
							if err != nil {
								t.Fatalf("%s program of %s: %v", name, show(rules), err)
							}
							if (got == 1) != want || got > 1 {
								t.Fatalf("%s program of %s: type %d %d:%d access %#x: got %d, want allowed=%v", name, show(rules), typ, major, minor, access, got, want)
							}
						}
					}
				}
			}
		}
	}
}

func show(rules []specs.LinuxDeviceCgroup) string {
	var b bytes.Buffer
	for _, r := range rules {
		n := func(p *int64) string {
			if p == nil {
				return "nil"
			}
			return fmt.Sprint(*p)
		}
		fmt.Fprintf(&b, "{%v %q %s:%s %s} ", r.Allow, r.Type, n(r.Major), n(r.Minor), r.Access)
	}
	return b.String()
}

// TestProgramShape: the tree for the default rules and Docker's is small, and a
// list whose tree would be too long for its jumps gets the sequential program.
func TestProgramShape(t *testing.T) {
	ptr := func(v int64) *int64 { return &v }
	docker := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	for _, d := range [][2]int64{{1, 5}, {1, 3}, {1, 9}, {1, 8}, {5, 0}, {5, 1}} {
		docker = append(docker, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(d[0]), Minor: ptr(d[1]), Access: "rwm"})
	}
	docker = append(docker, specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: ptr(10), Minor: ptr(229), Access: "rwm"})
	for _, rules := range [][]specs.LinuxDeviceCgroup{DefaultRules(), append(docker, DefaultRules()...)} {
		insns, err := Program(rules)
		if err != nil {
			t.Fatal(err)
		}
		if len(insns) > 40 {
			t.Errorf("%d rules: %d instructions, want at most 40:\n%v", len(rules), len(insns), insns)
		}
	}
	// Every major named times every minor a wildcard-major rule names.
	var cross []specs.LinuxDeviceCgroup
	for i := int64(0); i < 200; i++ {
		cross = append(cross,
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: ptr(i), Access: "r"},
			specs.LinuxDeviceCgroup{Allow: true, Type: "c", Minor: ptr(i), Access: "w"})
	}
	parsed, err := parse(cross)
	if err != nil {
		t.Fatal(err)
	}
	insns, err := Program(cross)
	if err != nil {
		t.Fatal(err)
	}
	if seq := sequential(parsed); len(insns) != len(seq) {
		t.Errorf("got %d instructions, want the sequential program's %d (the tree has %d)", len(insns), len(seq), len(tree(parsed)))
	}
}
