package cli

import (
	"os"
	"runtime/debug"
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

// releaseStartMemory returns the heap the start left behind (the target
// list read, synced and cached once) to the OS: Go's background scavenger
// keeps freed pages of a heap this small, about 0.3 MB an agent at 1,000
// targets. One forced collection, once.
func releaseStartMemory() { debug.FreeOSMemory() }
