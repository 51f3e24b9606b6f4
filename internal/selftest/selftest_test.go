package selftest

import "testing"

func TestResultVerdict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		checks []Check
		passed bool
		failed int
	}{
		{"no checks", nil, false, 0},
		{"all pass", []Check{{OK: true}, {OK: true}}, true, 0},
		{"one fails", []Check{{OK: true}, {OK: false}}, false, 1},
	} {
		r := Result{Checks: tc.checks}
		if r.Passed() != tc.passed || r.Failed() != tc.failed {
			t.Errorf("%s: Passed() = %v, Failed() = %d; want %v, %d", tc.name, r.Passed(), r.Failed(), tc.passed, tc.failed)
		}
	}
}
