package mesh

import (
	"math"
	"strconv"
)

// Floats is a JSON array of numbers in which NaN is null. Meshes carry
// tens of thousands of cells: one slice of float64 encodes far faster than
// as many pointers.
type Floats []float64

// MarshalJSON implements json.Marshaler.
func (f Floats) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(f)*8)
	b = append(b, '[')
	for i, v := range f {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	return append(b, ']'), nil
}

// nan is the null of Floats.
var nan = math.NaN()

// round3 rounds to 0.001 (milliseconds to microseconds, ratios, times to
// the millisecond), keeping NaN.
func round3(v float64) float64 {
	if math.IsNaN(v) {
		return v
	}
	return math.Round(v*1000) / 1000
}
