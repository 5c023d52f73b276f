package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/check"
)

var checkCommand = &cli.Command{
	Name:  "check",
	Usage: "check a bundle against the runtime-spec and this host, without creating anything",
	Description: `Reads config.json and the rootfs of the bundle and prints every problem that
would make create fail ("error") or make the container differ from what
config.json asks for ("warning"), one per line:

   <severity>: <field>: <message>; <fix>

or, with --format json, an array of {"field", "severity", "message", "fix"}.

The exit status is 0 when nothing was found, 1 when there are errors and 2
when there are only warnings. create runs the same checks and fails with
the text of the first error.

Example:

   hull check --bundle /containers/web`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: "", DefaultText: "the current directory", Usage: "bundle directory `DIR`, holding config.json"},
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "text", Usage: "output `FORMAT`: text (a line per finding) or json"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		write := check.WriteText
		switch f := c.String("format"); f {
		case "text":
		case "json":
			write = check.WriteJSON
		default:
			return fmt.Errorf("invalid format %q: use text or json", f)
		}
		// An unreadable config.json is reported as the one finding.
		findings, _ := check.Bundle(c.String("bundle"))
		if err := write(os.Stdout, findings); err != nil {
			return err
		}
		if code := check.Status(findings); code != 0 {
			return &exitError{code: code}
		}
		return nil
	},
}
