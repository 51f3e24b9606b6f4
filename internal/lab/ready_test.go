package lab

import (
	"net"
	"testing"
	"time"
)

func TestReadyPID(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		pid  int
		want bool
	}{
		{"READY=1\nMAINPID=42", 42, true},
		{"MAINPID=42\nREADY=1\n", 42, true},
		{"STOPPING=1\nMAINPID=42", 0, false},
		{"READY=1", 0, false}, // whose?
		{"READY=0\nMAINPID=42", 0, false},
		{"READY=1\nMAINPID=x", 0, false},
		{"", 0, false},
	} {
		pid, ok := readyPID([]byte(tc.msg))
		if ok != tc.want || (ok && pid != tc.pid) {
			t.Errorf("readyPID(%q) = %d, %v; want %d, %v", tc.msg, pid, ok, tc.pid, tc.want)
		}
	}
}

// The gate holds the next start until a starting agent says READY=1 or
// exits.
func TestReadyGate(t *testing.T) {
	g := newReadyGate(t.TempDir(), 1)
	defer g.Close()
	if len(g.env()) != 1 {
		t.Fatalf("env %v, want NOTIFY_SOCKET", g.env())
	}
	never := make(chan struct{})
	if !g.acquire(never) {
		t.Fatal("first slot refused")
	}
	g.started(101, never)

	second := make(chan bool, 1)
	go func() { second <- g.acquire(never) }()
	select {
	case <-second:
		t.Fatal("second start went ahead while the first agent was starting")
	case <-time.After(100 * time.Millisecond):
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: g.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("READY=1\nMAINPID=101")); err != nil {
		t.Fatal(err)
	}
	select {
	case ok := <-second:
		if !ok {
			t.Fatal("second slot refused")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("READY=1 did not free the slot")
	}

	// An agent that exits before it is ready frees its slot too.
	exited := make(chan struct{})
	g.started(102, exited)
	third := make(chan bool, 1)
	go func() { third <- g.acquire(never) }()
	close(exited)
	select {
	case <-third:
	case <-time.After(5 * time.Second):
		t.Fatal("an exited agent kept its slot")
	}
}
