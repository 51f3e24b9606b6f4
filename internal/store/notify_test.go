package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// awaitSignal fails t unless n signals within a generous bound (the signal
// is an event; the bound only keeps a broken build from hanging).
func awaitSignal(t *testing.T, n *fileNotifier, what string) {
	t.Helper()
	select {
	case <-n.c:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no signal", what)
	}
}

// drain empties n's channel.
func drain(n *fileNotifier) {
	select {
	case <-n.c:
	default:
	}
}

func TestFileNotifier(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "master.db")
	reg, err := CreateRegistry(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	n, err := newFileNotifier(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.wal < 0 {
		t.Fatalf("the -wal file of an open registry is not watched")
	}

	// A commit by another connection, as an orchestrator's plain SQL.
	other, err := OpenRegistry(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	drain(n)
	if err := other.Add(ctx, Target{Address: "10.0.0.1", Name: "a", Run: true}); err != nil {
		t.Fatal(err)
	}
	awaitSignal(t, n, "commit")
	drain(n)
	if _, err := other.DB().ExecContext(ctx, `UPDATE targets SET run = FALSE WHERE address = '10.0.0.1'`); err != nil {
		t.Fatal(err)
	}
	awaitSignal(t, n, "UPDATE targets SET run = FALSE")
	other.Close()

	// A checkpoint writes the database file itself.
	drain(n)
	if _, err := reg.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	awaitSignal(t, n, "checkpoint")

	// The file replaced under the agent: renamed over.
	drain(n)
	repl := filepath.Join(filepath.Dir(path), "new.db")
	if err := os.WriteFile(repl, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(repl, path); err != nil {
		t.Fatal(err)
	}
	awaitSignal(t, n, "file replaced")

	if err := n.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestFileNotifierMissingFile(t *testing.T) {
	if _, err := newFileNotifier(filepath.Join(t.TempDir(), "none.db"), 0); err == nil {
		t.Error("watching a missing file: no error")
	}
}

func TestRegistryChanges(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "master.db")
	reg, err := CreateRegistry(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := reg.Changes()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := reg.Changes(); err != nil || again != c {
		t.Fatalf("second Changes = %v, %v; want the same channel", again, err)
	}
	select { // the registry's own creation may have signalled
	case <-c:
	default:
	}
	other, err := OpenRegistry(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Add(ctx, Target{Address: "10.0.0.1", Name: "a", Stable: true, Run: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("a commit by another connection: no signal")
	}
	if changed, err := reg.Changed(ctx); err != nil || !changed {
		t.Errorf("Changed after the signal = %v, %v; want true", changed, err)
	}
	if err := reg.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// A look that answers file events and finds no new commit came before the
// commit was published (inotify sees the -wal written, the commit shows
// once the WAL index is updated): the notifier signals once more, and only
// once. Without it an edit by another process was missed about one time in
// three under -race (TestAgentWokenByRegistryEditFromAnotherProcess).
func TestFileNotifierLooksAgainAfterAnEarlyLook(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := newFileNotifier(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for _, tc := range []struct {
		name      string
		fromEvent bool
		moved     bool
		again     bool
	}{
		{"events, nothing new yet", true, false, true},
		{"events, a new commit", true, true, false},
		{"a recheck that found nothing", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drain(n)
			n.signal(tc.fromEvent)
			<-n.c
			n.looked(tc.moved)
			select {
			case <-n.c:
				if !tc.again {
					t.Error("signalled again")
				}
			case <-time.After(notifySettle + 400*time.Millisecond):
				if tc.again {
					t.Error("no second signal after an early look")
				}
			}
		})
	}
}
