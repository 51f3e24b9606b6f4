package emu

import (
	"context"
	"log/slog"
	"testing"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

// newForTest creates a Network for a test: it skips t unless running as
// root, logs to t's output at debug level unless opts.Logger is set, fails t
// if New fails, and closes the network when t ends, whether it passed,
// failed or panicked (t.Cleanup). Its prefix is random unless opts.Prefix is
// set, so parallel tests and test packages never collide. TestMain calls
// MaybeReexec for Host.Command.
//
// It lives in a _test.go file so that package testing never reaches the
// shipped binary; package emu's own tests are its only users, and they
// cannot import a helper package that imports emu.
func newForTest(t testing.TB, opts Options) *Network {
	t.Helper()
	testenv.RequireRoot(t)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("emu: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("emu: %v", err)
		}
	})
	return n
}
