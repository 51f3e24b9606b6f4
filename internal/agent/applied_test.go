package agent

import (
	"testing"

	"github.com/pmonitor/pmonitor/internal/store"
)

func TestListKey(t *testing.T) {
	base := []store.Target{{Address: "10.0.0.1", Name: "a", Stable: true}, {Address: "10.0.0.2", Name: "b"}}
	for _, tc := range []struct {
		name string
		ts   []store.Target
		same bool
	}{
		{"same list", []store.Target{{Address: "10.0.0.1", Name: "a", Stable: true}, {Address: "10.0.0.2", Name: "b"}}, true},
		{"fields applyTargets ignores", []store.Target{{Address: "10.0.0.1", Name: "a", Stable: true, Run: true, PID: 7}, {Address: "10.0.0.2", Name: "b", Running: true}}, true},
		{"order", []store.Target{base[1], base[0]}, false},
		{"name", []store.Target{{Address: "10.0.0.1", Name: "A", Stable: true}, base[1]}, false},
		{"stable", []store.Target{{Address: "10.0.0.1", Name: "a"}, base[1]}, false},
		{"one less", base[:1], false},
		{"bytes moved from a name to the next address", []store.Target{{Address: "10.0.0.1", Name: "a1", Stable: true}, {Address: "0.0.0.2", Name: "b"}}, false},
		{"empty", nil, false},
	} {
		if got := listKey(tc.ts) == listKey(base); got != tc.same {
			t.Errorf("%s: same key = %v, want %v", tc.name, got, tc.same)
		}
	}
}
