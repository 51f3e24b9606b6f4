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

// lineCounter maps increasing byte offsets of data to line numbers, counting
// each newline once: the whole file costs linear time, however many
// objects ask for their line.
type lineCounter struct {
	data []byte
	off  int64
	line int
}

func (c *lineCounter) at(off int64) int {
	off = min(max(off, c.off), int64(len(c.data)))
	c.line += bytes.Count(c.data[c.off:off], []byte("\n"))
	c.off = off
	return c.line
}

// skipBlank returns the offset of the first byte at or after off that is
// not a JSON separator or blank.
func skipBlank(data []byte, off int64, seps string) int64 {
	for off < int64(len(data)) && strings.IndexByte(seps, data[off]) >= 0 {
		off++
	}
	return off
}

// parseJSON reads a JSON array of objects, keeping the line of each object
// for error messages. A leading UTF-8 byte order mark is skipped.
func parseJSON(data []byte) ([]Target, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	lines := &lineCounter{data: data, line: 1}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(data, dec.InputOffset(), err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errorf(lines.at(skipBlank(data, 0, " \t\r\n")), `want a JSON array of {"name","address","stable"} objects`)
	}
	var ts []Target
	for dec.More() {
		// InputOffset points before the separating comma and blanks.
		line := lines.at(skipBlank(data, dec.InputOffset(), ", \t\r\n"))
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
	if off := skipBlank(data, dec.InputOffset(), " \t\r\n"); off < int64(len(data)) {
		return nil, errorf(lines.at(off), "invalid JSON: data after the array")
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
