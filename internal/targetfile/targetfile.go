// Package targetfile reads the list of targets that 'pmonitor init' loads
// into the registry: CSV lines "name,address,stable" or a JSON array of
// {"name","address","stable"} objects. Errors name the file and the line.
package targetfile

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Target is one entry of a targets file.
type Target struct {
	Name    string
	Address string // canonical form (store.Canonical)
	Stable  bool
	Line    int // where it was defined, for error messages
}

// Load reads and validates the targets file at path. The format is JSON when
// the first non-blank character is '[' (or '{', refused: the JSON form is an
// array), CSV otherwise.
func Load(path string) ([]Target, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read targets: %w", err)
	}
	return Parse(path, data)
}

// Parse validates data read from a file named name (used in errors).
func Parse(name string, data []byte) ([]Target, error) {
	var ts []Target
	var err error
	if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
		ts, err = parseJSON(data)
	} else {
		ts, err = parseCSV(data)
	}
	if err == nil {
		err = check(ts)
	}
	if err != nil {
		return nil, fmt.Errorf("%s:%w", name, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("%s: no targets", name)
	}
	return ts, nil
}

// lineError is an error at a line of the file; it prints "LINE: msg" so
// that Parse can prefix the file name.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

func errorf(line int, format string, a ...any) error {
	return &lineError{line: line, msg: fmt.Sprintf(format, a...)}
}

// entry builds a Target from raw fields, checking each.
func entry(line int, name, address, stable string, hasStable bool) (Target, error) {
	name, address = strings.TrimSpace(name), strings.TrimSpace(address)
	if name == "" {
		return Target{}, errorf(line, "missing name")
	}
	if address == "" {
		return Target{}, errorf(line, "missing address")
	}
	if err := CheckName(name); err != nil {
		return Target{}, errorf(line, "%v", err)
	}
	canon, err := ParseAddress(address)
	if err != nil {
		return Target{}, errorf(line, "%v", err)
	}
	st := true
	if hasStable {
		if st, err = parseStable(stable); err != nil {
			return Target{}, errorf(line, "bad stable value %q (want true/false/yes/no/1/0)", strings.TrimSpace(stable))
		}
	}
	return Target{Name: name, Address: canon, Stable: st, Line: line}, nil
}

func parseStable(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("bad stable value %q", s)
}

// check rejects duplicate addresses.
func check(ts []Target) error {
	first := make(map[string]int, len(ts))
	for _, t := range ts {
		if l, dup := first[t.Address]; dup {
			return errorf(t.Line, "duplicate address %q (first on line %d)", t.Address, l)
		}
		first[t.Address] = t.Line
	}
	return nil
}
