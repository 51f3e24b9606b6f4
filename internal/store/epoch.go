package store

import "time"

// Epoch converts t to the epoch seconds (with fraction) stored in
// sample_time and the other time columns; the zero time is 0. Every
// package converts through Epoch and FromEpoch so that a time written and
// read back is the same instant.
func Epoch(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// FromEpoch is the inverse of Epoch; 0 and negative values are the zero
// time (never sampled).
func FromEpoch(s float64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	sec := int64(s)
	return time.Unix(sec, int64((s-float64(sec))*1e9))
}
