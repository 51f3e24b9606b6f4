// Command pmonitor is a ping-mesh reachability monitor: agents probe every
// target of a shared registry and record the results in SQLite.
package main

import (
	"os"

	"github.com/pmonitor/pmonitor/internal/cli"
	"github.com/pmonitor/pmonitor/internal/emu"
)

func main() {
	emu.MaybeReexec() // a child started by emu.Host.Command: becomes its program inside a namespace
	os.Exit(cli.Main())
}
