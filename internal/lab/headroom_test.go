package lab

import (
	"context"
	"testing"
	"time"
)

// TestHeadroomHoldsStartsOnABusyMachine drives headroom with counters
// that say how busy the cores were, step by step.
func TestHeadroomHoldsStartsOnABusyMachine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shares []float64 // busy share of each successive window
		slept  int       // steps waited before the start goes
	}{
		{"idle machine", []float64{0.1}, 0},
		{"busy, then idle", []float64{0.95, 0.9, 0.5}, 2},
		{"at the limit", []float64{0.8}, 0},
		{"busy for good: at most maxWait", []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var busy, total int64
			i := 0
			slept := 0
			h := &headroom{maxBusy: 0.8, maxWait: time.Second, step: 100 * time.Millisecond, minTicks: 20,
				sample: func() (int64, int64, bool) { return busy, total, true },
				sleep:  func(context.Context, time.Duration) error { slept++; return nil },
			}
			h.busyShare() // the first reading: no share yet
			advance := func() {
				share := tc.shares[min(i, len(tc.shares)-1)]
				i++
				busy += int64(share * 100)
				total += 100
			}
			advance()
			h.sample = func() (int64, int64, bool) {
				b, tt := busy, total
				advance() // the next window runs while the start waits
				return b, tt, true
			}
			if err := h.wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			if slept != tc.slept {
				t.Errorf("waited %d steps, want %d", slept, tc.slept)
			}
		})
	}
}

func TestHeadroomShortWindowKeepsTheLastShare(t *testing.T) {
	var busy, total int64
	h := &headroom{maxBusy: 0.8, maxWait: time.Second, step: 100 * time.Millisecond, minTicks: 20,
		sample: func() (int64, int64, bool) { return busy, total, true }}
	if _, ok := h.busyShare(); ok {
		t.Fatal("a share from a single reading")
	}
	busy, total = 90, 100
	if s, ok := h.busyShare(); !ok || s != 0.9 {
		t.Fatalf("share %v %v, want 0.9", s, ok)
	}
	busy, total = 90, 105 // 5 ticks: too short a window to judge
	if s, ok := h.busyShare(); !ok || s != 0.9 {
		t.Errorf("after a short window: share %v %v, want the last one, 0.9", s, ok)
	}
	busy, total = 92, 130 // 2 busy of 30 since the last long window
	if s, ok := h.busyShare(); !ok || s < 0.066 || s > 0.067 {
		t.Errorf("share %v %v, want 2/30", s, ok)
	}
}
