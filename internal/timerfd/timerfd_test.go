package timerfd

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestTimerFiresMovesAndCloses(t *testing.T) {
	tm, err := New()
	if err != nil {
		t.Fatal(err)
	}
	// Armed far away, then moved close: the move is what fires.
	tm.Reset(time.Hour)
	tm.Reset(time.Millisecond)
	if err := tm.Wait(); err != nil {
		t.Fatalf("Wait after Reset: %v", err)
	}
	tm.Reset(0) // at once
	if err := tm.Wait(); err != nil {
		t.Fatalf("Wait after Reset(0): %v", err)
	}
	tm.Stop()
	done := make(chan error, 1)
	go func() { done <- tm.Wait() }()
	if err := tm.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Wait on a stopped timer ended by Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end Wait")
	}
	tm.Reset(time.Millisecond) // closed: ignored, no panic
}

func TestTimerChan(t *testing.T) {
	tm, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	c := tm.Chan()
	for range 3 {
		tm.Reset(time.Millisecond)
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatal("no signal on Chan")
		}
	}
}
