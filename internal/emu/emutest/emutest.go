// Package emutest builds emulated networks for the tests of other packages.
// It imports testing, so only test files import it: the shipped binary
// never links it (cmd/pmonitor's TestNoTestingInTheBinary checks).
package emutest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/pmonitor/pmonitor/internal/emu"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// New builds an emulated network for t, skips t without root, and closes
// the network when t ends.
func New(t testing.TB, opts emu.Options) *emu.Network {
	t.Helper()
	testenv.RequireRoot(t)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n, err := emu.New(context.Background(), opts)
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
