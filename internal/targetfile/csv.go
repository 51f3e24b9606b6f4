package targetfile

import (
	"bufio"
	"bytes"
	"strings"
)

// parseCSV reads "name,address[,stable]" lines. A first line whose second
// field is "address" is a header; '#' starts a comment; blank lines are
// skipped. Fields are plain (no quoting): names and addresses hold no commas.
func parseCSV(data []byte) ([]Target, error) {
	var ts []Target
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		f := strings.Split(text, ",")
		if len(ts) == 0 && isHeader(f) {
			continue
		}
		if len(f) < 2 || len(f) > 3 {
			return nil, errorf(line, "want name,address,stable but got %d fields", len(f))
		}
		var stable string
		if len(f) == 3 {
			stable = f[2]
		}
		t, err := entry(line, f[0], f[1], stable, len(f) == 3)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	if err := sc.Err(); err != nil {
		return nil, errorf(line+1, "%v", err)
	}
	return ts, nil
}

func isHeader(f []string) bool {
	return len(f) >= 2 && strings.EqualFold(strings.TrimSpace(f[0]), "name") &&
		strings.EqualFold(strings.TrimSpace(f[1]), "address")
}
