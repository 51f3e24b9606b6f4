// Package cpustat reads the machine's CPU time counters from /proc/stat:
// the lab paces agent starts by them, and the benchmark commands report
// them.
package cpustat

import (
	"os"
	"strconv"
	"strings"
)

// Times are the counters of all cores together, in USER_HZ ticks (100 a
// second on Linux) since boot.
type Times struct {
	Busy    int64 // user, nice, system, irq, softirq, steal
	Softirq int64 // part of Busy: packets forwarded by the kernel, paid by no process
	Total   int64 // Busy plus idle and iowait
}

// Read returns the counters of the first line of /proc/stat; false if they
// cannot be read.
func Read() (Times, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Times{}, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return Times{}, false
	}
	var t Times
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Times{}, false
		}
		t.Total += n
		switch i {
		case 3, 4: // idle, iowait
		case 6:
			t.Softirq = n
			t.Busy += n
		default:
			t.Busy += n
		}
	}
	return t, true
}
