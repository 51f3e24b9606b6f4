package targetfile

import (
	"bytes"
	"fmt"
	"testing"
)

// bigFile returns n targets as CSV or as a JSON array, one object a line.
func bigFile(n int, json bool) []byte {
	var b bytes.Buffer
	if json {
		b.WriteString("[\n")
	}
	for i := range n {
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		if json {
			sep := ","
			if i == n-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "  {\"name\": \"n%d\", \"address\": %q, \"stable\": %v}%s\n", i, addr, i%3 != 0, sep)
		} else {
			fmt.Fprintf(&b, "n%d,%s,%v\n", i, addr, i%3 != 0)
		}
	}
	if json {
		b.WriteString("]\n")
	}
	return b.Bytes()
}

// BenchmarkParse parses large target files; the time per entry must not
// grow with the file (go test -run '^$' -bench Parse ./internal/targetfile,
// figures on a quiet machine).
func BenchmarkParse(b *testing.B) {
	for _, tc := range []struct {
		n    int
		json bool
	}{{10_000, false}, {1_000_000, false}, {10_000, true}, {160_000, true}} {
		kind := "csv"
		if tc.json {
			kind = "json"
		}
		data := bigFile(tc.n, tc.json)
		b.Run(fmt.Sprintf("%s-%d", kind, tc.n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				ts, err := Parse("big", data)
				if err != nil || len(ts) != tc.n {
					b.Fatalf("Parse = %d targets, %v", len(ts), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tc.n), "ns/entry")
		})
	}
}
