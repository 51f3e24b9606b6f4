package store_test

import (
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

func TestEpochRoundTrip(t *testing.T) {
	for _, tc := range []time.Time{
		time.Unix(1_700_000_000, 0),
		time.Unix(1_700_000_000, 500_000_000),
		time.Unix(1_700_000_002, 123_456_000),
	} {
		if got := store.FromEpoch(store.Epoch(tc)); got.Sub(tc).Abs() > time.Microsecond {
			t.Errorf("FromEpoch(Epoch(%v)) = %v", tc, got)
		}
	}
	if store.Epoch(time.Time{}) != 0 || !store.FromEpoch(0).IsZero() || !store.FromEpoch(-1).IsZero() {
		t.Error("the zero time is not epoch 0 both ways")
	}
}
