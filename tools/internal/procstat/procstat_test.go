package procstat

import (
	"os"
	"testing"
	"time"
)

func TestSelf(t *testing.T) {
	u, s := CPU(os.Getpid())
	for x, start := 0, time.Now(); u+s == 0 && time.Since(start) < 5*time.Second; x++ {
		if x%1000000 == 0 { // burn CPU until a tick (10 ms) shows
			u, s = CPU(os.Getpid())
		}
	}
	if u+s <= 0 {
		t.Errorf("CPU(self) = %v + %v, want some", u, s)
	}
	if RSS(os.Getpid()) <= 0 {
		t.Error("RSS(self) = 0")
	}
	if u, s := CPU(-1); u != 0 || s != 0 || RSS(-1) != 0 {
		t.Error("a missing process has figures")
	}
}
