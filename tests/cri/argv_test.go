//go:build linux

package cri

import "github.com/hull-runtime/hull/tests/internal/hosttest"

// call is one run of hull by the shim, from hack/e2e/hull-argv.sh's log.
type call = hosttest.Call

func readCalls(log string) []call { return hosttest.ReadCalls(log) }
