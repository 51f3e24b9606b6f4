package agent

// oneProcRate is the probe rate up to which an agent runs on one P
// (GOMAXPROCS=1).
//
// With two or more Ps, every goroutine an idle agent wakes (sender,
// receiver, timers) also wakes a second thread that spins looking for work
// and finds none: measured here, that doubles the CPU time of an agent
// sending 1.65 probes a second. On one P, a reply that arrives while the
// agent writes a batch waits for the write (5 µs a sample: at this rate,
// at most a few milliseconds once per flush) before its time is taken.
const oneProcRate = 50

// Procs returns the GOMAXPROCS that suits an agent sending perSecond
// probes, given most, the machine's: one P for a light agent, most for a
// busy one. The monitor command applies it through Config.OnRate.
func Procs(perSecond float64, most int) int {
	if perSecond <= oneProcRate {
		return 1
	}
	return max(most, 1)
}
