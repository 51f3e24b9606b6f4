package web

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"time"
)

// errBadParam marks a 400 answer.
var errBadParam = errors.New("bad parameter")

// badParam is a client error about one query parameter.
type badParam struct{ name, msg string }

func (e *badParam) Error() string { return e.name + ": " + e.msg }
func (e *badParam) Unwrap() error { return errBadParam }

// timeParam parses epoch seconds (with fraction) or RFC 3339; def when absent.
func timeParam(q url.Values, name string, def float64) (float64, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
			return 0, &badParam{name, fmt.Sprintf("%q is out of range", s)}
		}
		return f, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, &badParam{name, fmt.Sprintf("%q is neither epoch seconds nor an RFC 3339 time", s)}
	}
	return float64(t.UnixNano()) / 1e9, nil
}

// secondsParam parses a duration in seconds ("60", "2.5") or Go syntax
// ("90s", "5m") within (0, max]; def when absent.
func secondsParam(q url.Values, name string, def, max float64) (float64, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d, derr := time.ParseDuration(s)
		if derr != nil {
			return 0, &badParam{name, fmt.Sprintf("%q is not a duration (seconds, or like 90s)", s)}
		}
		f = d.Seconds()
	}
	if math.IsNaN(f) || f <= 0 || f > max {
		return 0, &badParam{name, fmt.Sprintf("%q is out of range (0 to %g seconds)", s, max)}
	}
	return f, nil
}

// intParam parses an integer in [lo, hi]; def when absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, &badParam{name, fmt.Sprintf("%q is not an integer", s)}
	}
	if n < lo || n > hi {
		return 0, &badParam{name, fmt.Sprintf("%d is out of range (%d to %d)", n, lo, hi)}
	}
	return n, nil
}
