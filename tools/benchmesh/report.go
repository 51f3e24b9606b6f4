package main

import (
	"fmt"
	"time"
)

// print writes the figures, each with its goal from issue 11 where there
// is one.
func (f figures) print(c config) {
	row := func(what, format string, args ...any) {
		fmt.Printf("%-30s "+format+"\n", append([]any{what}, args...)...)
	}
	secs := f.window.Seconds()
	cpu := f.user + f.system
	agentSecs := secs * float64(f.agents)
	fmt.Println()
	row("first complete matrix", "%v after the first agent started, %v after the last (goal: within one interval, %v)",
		f.complete.Sub(f.setup.FirstAgent).Round(time.Millisecond), f.complete.Sub(f.setup.LastAgent).Round(time.Millisecond), c.interval)
	row("all agents, CPU", "%.3f cores over %v (user %.3f, system %.3f; the kernel's veth and bridge work is charged to the senders)",
		cpu.Seconds()/secs, f.window.Round(time.Second), f.user.Seconds()/secs, f.system.Seconds()/secs)
	row("whole machine, CPU", "%.3f cores busy, %.3f of them in softirq (only meaningful on an otherwise idle machine)",
		f.busy.Seconds()/secs, f.softirq.Seconds()/secs)
	row("per agent", "%.3f ms of CPU per second, sending %.2f probes a second", cpu.Seconds()*1e3/agentSecs, float64(f.sent)/agentSecs)
	if f.sent > 0 {
		row("CPU per probe, all-in", "%.1f µs (all agents' CPU / %d probes sent; the reply to each is included)",
			float64(cpu.Microseconds())/float64(f.sent), f.sent)
	}
	row("all agents, memory", "PSS %s total, %.1f MiB per agent (RSS %.1f MiB each: most of it the shared binary)",
		mb(f.pssKB), float64(f.pssKB)/1024/float64(f.agents), float64(f.rssKB)/1024/float64(f.agents))
	row("kernel memory of the network", "%s (namespaces, veths, %d neighbour entries)", mb(f.slabKB), f.nodes*(f.nodes-1))
	if c.idle {
		row("idle cost per agent", "%.3f ms of CPU per agent-second, probes included (goal: 0.1)", cpu.Seconds()*1e3/agentSecs)
	}
	if n := len(f.cutLatency); n > 0 {
		row("cut seen by every agent", "%d agents: median %v, max %v (goal: interval + timeout = %v)", n,
			f.cutLatency[n/2].Round(time.Millisecond), f.cutLatency[n-1].Round(time.Millisecond), c.interval+c.timeout)
	}
	row("stop and teardown", "%v from run = FALSE: agents gone after %v, databases consolidated, network removed",
		f.stopTook.Round(time.Millisecond), f.agentsGone.Round(time.Millisecond))
	row("left in the kernel", "%s", orNothing(f.left))
}
