// Command pmonitor is a ping-mesh reachability monitor: agents probe every
// target of a shared registry and record the results in SQLite.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pmonitor/pmonitor/internal/cli"
	"github.com/pmonitor/pmonitor/internal/emu"
)

func main() {
	emu.MaybeReexec() // a child started by emu.Host.Command: becomes its program inside a namespace
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
