package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Main runs pmonitor with the process's arguments, standard streams and
// signals (SIGINT and SIGTERM cancel the command) and returns the exit code.
// It is the body of cmd/pmonitor's main, and of test binaries that act as
// pmonitor for the agent processes their tests start.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
