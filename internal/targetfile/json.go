package targetfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// jsonTarget is one object of the JSON form. stable may be a boolean, a
// string or a number, like the CSV form.
type jsonTarget struct {
	Name    *string         `json:"name"`
	Address *string         `json:"address"`
	Stable  json.RawMessage `json:"stable"`
}

// parseJSON reads a JSON array of objects, keeping the line of each object
// for error messages.
func parseJSON(data []byte) ([]Target, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:off], []byte("\n")) }
	if _, err := dec.Token(); err != nil { // '['
		return nil, jsonError(data, dec.InputOffset(), err)
	}
	var ts []Target
	for dec.More() {
		start := dec.InputOffset()
		// InputOffset points before the separating comma and blanks.
		for start < int64(len(data)) && strings.ContainsRune(", \t\r\n", rune(data[start])) {
			start++
		}
		line := lineAt(start)
		var jt jsonTarget
		if err := dec.Decode(&jt); err != nil {
			return nil, jsonError(data, dec.InputOffset(), err)
		}
		var name, address, stable string
		if jt.Name != nil {
			name = *jt.Name
		}
		if jt.Address != nil {
			address = *jt.Address
		}
		has := len(jt.Stable) > 0 && string(jt.Stable) != "null"
		if has {
			var s string
			if json.Unmarshal(jt.Stable, &s) != nil {
				s = string(jt.Stable) // true, false, 1, 0
			}
			stable = s
		}
		t, err := entry(line, name, address, stable, has)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, jsonError(data, dec.InputOffset(), err)
	}
	return ts, nil
}

func jsonError(data []byte, off int64, err error) error {
	if se, ok := err.(*json.SyntaxError); ok {
		off = se.Offset
	}
	off = min(off, int64(len(data)))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	return errorf(line, "invalid JSON: %s", strings.TrimPrefix(fmt.Sprint(err), "json: "))
}
