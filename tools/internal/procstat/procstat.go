// Package procstat reads the CPU time and memory of processes, and of the
// machine, from /proc, for the benchmark commands under tools/.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pmonitor/pmonitor/internal/cpustat"
)

// userHZ is the unit of the CPU times in /proc/PID/stat and /proc/stat
// (USER_HZ, 100 on Linux).
const userHZ = 100

// CPU returns the user and system CPU time of pid so far; zero if it is gone.
// The kernel tracks the total exactly and rounds each figure down to 10 ms:
// over many processes and a long window the rounding averages out.
func CPU(pid int) (user, system time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	s := string(b)
	// Fields after the command name, which may hold spaces: state is [0],
	// utime [11], stime [12].
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ticks(ut), ticks(st)
}

func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / userHZ }

// RSS returns the resident set size of pid in KiB; zero if it is gone.
func RSS(pid int) int64 { return field(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:") }

// PSS returns the proportional set size of pid in KiB (pages shared by n
// processes count 1/n each, so the PSS of processes that share one binary
// adds up to the memory they really take); zero if it is gone.
func PSS(pid int) int64 { return field(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:") }

// Meminfo returns a /proc/meminfo figure in KiB, e.g. Meminfo("Slab") for
// the kernel's object caches (namespaces, neighbour entries); zero if
// missing.
func Meminfo(name string) int64 { return field("/proc/meminfo", name+":") }

// field returns the number after the first line of the file at path that
// starts with key ("VmRSS:   1234 kB"); zero if none.
func field(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == key {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// Busy returns the CPU time all cores of the machine have spent busy so
// far (user, nice, system, interrupts, softirq, steal), and the part spent
// in softirq, where the kernel forwards packets that no process pays for.
func Busy() (busy, softirq time.Duration) {
	t, ok := cpustat.Read()
	if !ok {
		return 0, 0
	}
	return ticks(t.Busy), ticks(t.Softirq)
}
