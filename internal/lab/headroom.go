package lab

import (
	"context"
	"runtime"
	"time"

	"github.com/pmonitor/pmonitor/internal/cpustat"
)

// headroom holds agent starts back while the machine's cores are nearly
// all busy. The ready gate bounds how many agents start at once, but not
// what the agents already started cost: a thousand agents probing 999
// targets every 30 s take most of two cores, and starts at the gate's pace
// (25 a second, about 40 ms of CPU each) on top of that saturated the
// machine. Saturated, every agent ran late, the registry's lock holders
// lost their cores mid-commit and the whole mesh fell into a lock convoy.
// Held back, starts take the CPU that is left: a little longer to start,
// and no collapse.
type headroom struct {
	maxBusy float64       // the busy share of all cores above which starts wait
	maxWait time.Duration // per start: starts go on, slowly, on a machine that stays busy
	step    time.Duration // how often the share is looked at while waiting
	sample  func() (busy, total int64, ok bool)
	sleep   func(ctx context.Context, d time.Duration) error

	minTicks int64 // the shortest window worth a share: step on every core, in ticks

	last       cpuSample
	lastValid  bool
	share      float64 // of the last window long enough
	shareValid bool
}

// cpuSample is a reading of the machine's CPU counters.
type cpuSample struct{ busy, total int64 }

// newHeadroom paces starts by /proc/stat: they wait while more than 80 %
// of the cores were busy since the last look, at most a second each.
func newHeadroom() *headroom {
	return &headroom{maxBusy: 0.8, maxWait: time.Second, step: 100 * time.Millisecond, sample: machineCPU,
		sleep:    func(ctx context.Context, d time.Duration) error { return sleepUntil(ctx, time.Now().Add(d)) },
		minTicks: int64(10 * runtime.NumCPU())} // 100 ms of USER_HZ ticks on every core
}

// wait returns once the cores were less busy than maxBusy over a step, or
// after maxWait, or when ctx ends (with its error).
func (h *headroom) wait(ctx context.Context) error {
	if h == nil {
		return nil
	}
	for waited := time.Duration(0); ; waited += h.step {
		share, ok := h.busyShare()
		if !ok || share <= h.maxBusy || waited >= h.maxWait {
			return ctx.Err()
		}
		if err := h.sleep(ctx, h.step); err != nil {
			return err
		}
	}
}

// busyShare returns the busy share of all cores over the last window of
// at least minTicks; false before there is one, and when the counters
// cannot be read. Starts come faster than the counters tick, so a shorter
// window keeps the share of the window before.
func (h *headroom) busyShare() (float64, bool) {
	busy, total, ok := h.sample()
	if !ok {
		return 0, false
	}
	if !h.lastValid || total < h.last.total {
		h.last, h.lastValid = cpuSample{busy, total}, true
		return h.share, h.shareValid
	}
	if total-h.last.total < h.minTicks {
		return h.share, h.shareValid
	}
	h.share, h.shareValid = float64(busy-h.last.busy)/float64(total-h.last.total), true
	h.last = cpuSample{busy, total}
	return h.share, true
}

// machineCPU reads the machine's busy and total CPU ticks.
func machineCPU() (busy, total int64, ok bool) {
	t, ok := cpustat.Read()
	return t.Busy, t.Total, ok
}
