package lab

import "github.com/pmonitor/pmonitor/internal/emu"

// Host returns the emulated host of the node named name, for faults beyond
// Cut and Restore (emu.Host.Drop, DropPings); nil if there is none.
func (l *Lab) Host(name string) *emu.Host { return l.net.Host(name) }

// AgentPIDs returns the process id of every running agent by its key (the
// node name, or name-address when a name has several agents), so that
// benchmarks can read their CPU time and memory from /proc.
func (l *Lab) AgentPIDs() map[string]int {
	pids := make(map[string]int, len(l.agents))
	for _, a := range l.agents {
		if !a.exited() {
			pids[a.key] = a.cmd.Process.Pid
		}
	}
	return pids
}
