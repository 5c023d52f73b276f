//go:build goexperiment.jsonv2

package config

// Built on encoding/json/v2 (GOEXPERIMENT=jsonv2, as the Makefile builds hull: it
// decodes a cold config several times faster), encoding/json reports a syntax error's
// offset as the offending byte's own.
const offsetPastError = 0
