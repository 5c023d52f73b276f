// Command specedit changes a few fields of an OCI config.json in place, for
// hack/mkbundle.sh (so the scripts need no jq):
//
//	go run ./hack/specedit -config DIR/config.json -hostname NAME -terminal=false -- ARGS...
//
// Fields not named by a flag are kept as they are; ARGS, when given, replace
// process.args.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "specedit:", err)
		os.Exit(1)
	}
}

func run() error {
	config := flag.String("config", "config.json", "the config.json to edit")
	hostname := flag.String("hostname", "", "set hostname (empty: keep)")
	terminal := flag.String("terminal", "", "set process.terminal: true or false (empty: keep)")
	noResources := flag.Bool("no-resources", false, "remove linux.resources")
	cgroupsPath := flag.String("cgroups-path", "", "set linux.cgroupsPath (empty: keep)")
	noAmbient := flag.Bool("no-ambient", false, "clear process.capabilities.ambient")
	flag.Parse()

	data, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	if *hostname != "" {
		s.Hostname = *hostname
	}
	switch *terminal {
	case "":
	case "true":
		s.Process.Terminal = true
	case "false":
		s.Process.Terminal = false
	default:
		return fmt.Errorf("-terminal must be true or false, not %q", *terminal)
	}
	if args := flag.Args(); len(args) > 0 {
		s.Process.Args = args
	}
	if *noAmbient && s.Process.Capabilities != nil {
		s.Process.Capabilities.Ambient = nil
	}
	if s.Linux != nil {
		if *noResources {
			s.Linux.Resources = nil
		}
		if *cgroupsPath != "" {
			s.Linux.CgroupsPath = *cgroupsPath
		}
	}
	out, err := json.MarshalIndent(&s, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(*config, append(out, '\n'), 0o644)
}
