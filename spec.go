package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/hull-runtime/hull/libruntime/config"
)

var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "create a new specification file",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
		&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		path := filepath.Join(c.String("bundle"), "config.json")
		if _, err := os.Lstat(path); err == nil {
			return errors.New("File config.json exists. Remove it first")
		}
		data, err := json.MarshalIndent(config.Default(c.Bool("rootless")), "", "\t")
		if err != nil {
			return err
		}
		return os.WriteFile(path, data, 0o666)
	},
}
