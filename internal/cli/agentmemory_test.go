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
