package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
)

// TestProbeReportLocalDrops: a probe whose reply this host dropped is not a
// loss of its target, and the summary says how much was dropped.
func TestProbeReportLocalDrops(t *testing.T) {
	targets := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3"), netip.MustParseAddr("127.0.0.4")}
	tally := newProbeTally(len(targets))
	tally.startRound()
	for _, r := range []struct {
		i int
		r probe.Result
	}{
		{0, probe.Result{Target: targets[0], Sent: time.Now(), Status: probe.StatusReply, RTT: time.Millisecond}},
		{1, probe.Result{Target: targets[1], Sent: time.Now(), Status: probe.StatusLocalDrop, Reason: "dropped here"}},
		{2, probe.Result{Target: targets[2], Sent: time.Now(), Status: probe.StatusTimeout, Reason: "timeout after 1s"}},
	} {
		tally.record(r.i, r.r)
	}
	tally.socketDrop = 7
	var text bytes.Buffer
	w := bufio.NewWriter(&text)
	if err := tally.writeText(w, targets, time.Second); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	lines := strings.Split(text.String(), "\n")
	if want := "127.0.0.3 : xmt/rcv/%loss = 0/0/0% (dropped here)"; lines[1] != want {
		t.Errorf("line of the dropped target = %q, want %q", lines[1], want)
	}
	if want := "3 targets, 1 alive, 1 unreachable, elapsed 1.000s, 7 socket drops, 1 probes not counted (local drop), 1 targets unknown"; lines[3] != want {
		t.Errorf("summary = %q, want %q", lines[3], want)
	}
	var js bytes.Buffer
	w = bufio.NewWriter(&js)
	if err := tally.writeJSON(w, targets, time.Second); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	var doc probeJSON
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if s := doc.Summary; s.SocketDrops != 7 || s.LocalDrops != 1 || s.Unknown != 1 || s.Unreachable != 1 {
		t.Errorf("JSON summary %+v: want 7 socket drops, 1 local drop, 1 unknown, 1 unreachable", s)
	}
}
