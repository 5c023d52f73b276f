//go:build !goexperiment.jsonv2

package config

// encoding/json's own engine reports a syntax error's offset as the number of bytes
// read, one past the offending byte.
const offsetPastError = 1
