package cli

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneAgentMemory(t *testing.T) {
	old, had := os.LookupEnv("GOGC")
	t.Cleanup(func() {
		if had {
			os.Setenv("GOGC", old)
		} else {
			os.Unsetenv("GOGC")
		}
	})
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		name string
		set  bool
		env  string
		want int
	}{
		{"GOGC unset: the agent's default", false, "", agentGCPercent},
		{"GOGC set: the environment's (read by the runtime at start)", true, "200", 100},
		{"GOGC set empty still counts as set", true, "", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			if tc.set {
				os.Setenv("GOGC", tc.env)
			} else {
				os.Unsetenv("GOGC")
			}
			tuneAgentMemory()
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("GC percent = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestReleasableSeesGarbage checks the estimate against the runtime: heap
// allocated and dropped since the last collection counts, and a collection
// that returns it all leaves less than tidyWorth (an idle agent's tidy
// does nothing).
func TestReleasableSeesGarbage(t *testing.T) {
	debug.FreeOSMemory()
	if got := releasable(); got >= tidyWorth {
		t.Fatalf("right after a release: releasable = %d, want < %d", got, tidyWorth)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection between the drop and the read
	const garbage = 8 << 20
	for range garbage / 4096 {
		sink = make([]byte, 4096)
	}
	sink = nil
	// The runtime's counts lag by what the Ps have cached: a few spans.
	if got := releasable(); got < garbage*7/8 {
		t.Errorf("after dropping %d bytes: releasable = %d, want about that", garbage, got)
	}
}

var sink []byte
