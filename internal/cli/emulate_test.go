package cli

import (
	"strings"
	"testing"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

func TestEmulateUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"emulate"}, "only --cleanup is implemented"},
		{[]string{"emulate", "--cleanup", "--prefix", "Not/A/Prefix"}, "--prefix"},
		{[]string{"emulate", "--cleanup", "extra"}, "too many arguments"},
	} {
		_, errs, code := run(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("pmonitor %v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestEmulateCleanupNothing(t *testing.T) {
	testenv.RequireRoot(t)
	// A prefix no run uses: nothing to remove, and live runs of other
	// tests are never touched whatever the prefix.
	out, errs, code := run(t, "emulate", "--cleanup", "--prefix", "pmzq9x", "--json")
	if code != 0 || !strings.Contains(out, `"removed": []`) {
		t.Errorf("emulate --cleanup --json: exit %d, out %q, err %q", code, out, errs)
	}
	out, _, code = run(t, "emulate", "--cleanup", "--prefix", "pmzq9x")
	if code != 0 || out != "nothing to clean up\n" {
		t.Errorf("emulate --cleanup: exit %d, out %q", code, out)
	}
}
