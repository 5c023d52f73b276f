package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Load reads and decodes <bundle>/config.json. An empty bundle means the
// current directory, as with runc. The file must be a regular file of at most
// MaxConfigSize bytes. Errors name the file and say how to fix it; malformed
// JSON is reported with its line and column.
func Load(bundle string) (*specs.Spec, error) {
	if bundle == "" {
		bundle = "."
	}
	fi, err := os.Stat(bundle)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s does not exist; pass the bundle directory with --bundle: %w", bundle, err)
		}
		return nil, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("bundle %s is not a directory; pass the directory that holds config.json with --bundle", bundle)
	}

	path := filepath.Join(bundle, "config.json")
	// O_NONBLOCK so a FIFO planted as config.json cannot hang create in open(2);
	// it is then refused as not regular.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s not found; run `hull spec` in the bundle to create one, or pass the right bundle with --bundle: %w", path, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()

	fi, err = f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (mode %s); replace it with the JSON config file", path, fi.Mode().Type())
	}
	if fi.Size() > MaxConfigSize {
		return nil, tooLarge(path, fi.Size())
	}
	// The limit is applied to the read too, in case the file grows after fstat.
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxConfigSize {
		return nil, tooLarge(path, int64(len(data)))
	}
	return decode(data, path)
}

func tooLarge(path string, size int64) error {
	return fmt.Errorf("%s is %d bytes, more than the %d MiB limit; a container config is a few KiB, check that this is the right file", path, size, MaxConfigSize>>20)
}

// decode parses config.json content. name is used in error messages only.
func decode(data []byte, name string) (*specs.Spec, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty; write the container config into it (`hull spec` creates a default one)", name)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, jsonError(name, data, err)
	}
	return &s, nil
}

// jsonError turns a decoding error into a message with a line and column,
// which encoding/json only gives as a byte offset.
func jsonError(name string, data []byte, err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	msg := strings.TrimPrefix(err.Error(), "json: ")
	switch {
	case errors.As(err, &syntaxErr):
		line, col := position(data, syntaxErr.Offset)
		return fmt.Errorf("%s: malformed JSON at line %d, column %d (byte %d): %s; fix the JSON syntax there: %w",
			name, line, col, syntaxErr.Offset, msg, err)
	case errors.As(err, &typeErr):
		line, col := position(data, typeErr.Offset)
		// jsonv2 names array elements (linux.namespaces.0.type): spell them as the
		// rest of hull's messages do.
		field := indexSegments(typeErr.Field)
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("%s: wrong type for %s at line %d, column %d (byte %d): %s; give %s the type the runtime-spec requires: %w",
			name, field, line, col, typeErr.Offset, msg, field, err)
	default:
		return fmt.Errorf("%s: invalid config: %s; fix the file to follow the OCI runtime-spec: %w", name, msg, err)
	}
}

// indexSegments turns numeric segments of a dotted path into indexes:
// "linux.namespaces.0.type" becomes "linux.namespaces[0].type".
func indexSegments(path string) string {
	parts := strings.Split(path, ".")
	var b strings.Builder
	for i, p := range parts {
		if _, err := strconv.Atoi(p); err == nil && i > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// position converts the byte offset encoding/json reports to a 1-based line and
// column of the offending byte.
func position(data []byte, offset int64) (line, col int) {
	p := int(min(max(offset-offsetPastError, 0), int64(len(data))))
	before := data[:p]
	line = bytes.Count(before, []byte("\n")) + 1
	col = p - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
