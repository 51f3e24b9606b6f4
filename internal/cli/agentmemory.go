package cli

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// agentGCPercent is the agent's GOGC unless the environment sets one. An
// agent's live heap is one or two megabytes and emulations run a thousand
// agents on one machine: Go's default (100, with a 4 MB floor under the
// heap goal) let every agent keep about 4 MB of heap; at 25 the floor is
// 1 MB. Measured with tools/benchmesh at 1,000 nodes: about 2 MB less per
// agent and no more CPU per probe; 10 saved nothing more and cost 60 % more
// CPU (collections, and the scavenger's page faults).
const agentGCPercent = 25

// tuneAgentMemory sets the agent's GC percent, unless GOGC is set.
func tuneAgentMemory() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(agentGCPercent)
	}
}

// releaseMemory returns the heap the agent has freed to the OS: one forced
// collection, then every free page. Go's background scavenger keeps the
// freed pages of a heap this small. The agent calls it once its start is
// done (the target list read, synced and cached), and then after a batch
// write at most once per interval when there is enough to give back
// (tidyMemory, agent.Config.Tidy), when a burst's garbage is dead. Measured with tools/benchmesh at 1,000 nodes: PSS
// 5,248 MiB in all instead of 5,686, and no more CPU (0.77 cores against
// 0.79); on one agent of 999 loopback targets at --interval 30s, 5.3 MB of
// private memory on average instead of 5.8.
func releaseMemory() { debug.FreeOSMemory() }

// tidyWorth is the heap a tidy must be able to give back before it runs:
// free pages not yet returned, plus what a collection would free (the
// objects allocated since the last one, live or dead). Measured on one
// agent: with 999 targets at --interval 30s a tidy finds about 1 MB (240
// KB free, 780 KB collectable) after each write; with 99 targets at
// --interval 60s it finds 0 free and 85 KB collectable, and the forced
// collection it would make for nothing was the idle agent's only one, 8 %
// of its CPU.
const tidyWorth = 512 << 10

// tidyMemory is the agent's Config.Tidy: releaseMemory when there is at
// least tidyWorth to release.
func tidyMemory() {
	if releasable() >= tidyWorth {
		releaseMemory()
	}
}

// releasable returns the heap, in bytes, that releaseMemory could give
// back now (see tidyWorth): an estimate from runtime/metrics, read without
// stopping the world.
func releasable() uint64 {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	metrics.Read(s)
	var v [3]uint64
	for i := range s {
		if s[i].Value.Kind() == metrics.KindUint64 {
			v[i] = s[i].Value.Uint64()
		}
	}
	free, objects, live := v[0], v[1], v[2]
	return free + objects - min(live, objects)
}
