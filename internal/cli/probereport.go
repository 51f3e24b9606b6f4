package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/pmonitor/pmonitor/internal/probe"
)

// This file holds what 'pmonitor probe' counts and prints; probe.go holds
// the command, its flags and its targets.

// probeStats are the counters of one target (40 bytes: 50,000 targets
// take 2 MB).
type probeStats struct {
	sent, recv    uint32
	min, max, sum time.Duration
}

// probeTally collects the results of all targets. Results arrive from engine
// goroutines, hence the mutex.
type probeTally struct {
	mu         sync.Mutex
	stats      []probeStats
	localDrops int            // probes not counted: this host dropped replies while they were out
	socketDrop uint64         // the engine's count of packets the kernel dropped, set at the end
	reasons    map[int]string // last failure of targets that never answered
	left       int            // results still expected in this round
	done       chan struct{}  // closed when left reaches 0
}

func newProbeTally(n int) *probeTally {
	return &probeTally{stats: make([]probeStats, n), reasons: map[int]string{}}
}

// startRound expects one result per target and returns a channel closed
// when they are all in.
func (t *probeTally) startRound() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.left = len(t.stats)
	t.done = make(chan struct{})
	return t.done
}

func (t *probeTally) record(i int, r probe.Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.stats[i]
	switch {
	case r.Status == probe.StatusLocalDrop:
		// Not a loss of the target: neither sent nor lost in its line.
		t.localDrops++
	case !(r.Status == probe.StatusCanceled && r.Sent.IsZero()):
		s.sent++
	}
	if r.OK() {
		if s.recv == 0 || r.RTT < s.min {
			s.min = r.RTT
		}
		s.max = max(s.max, r.RTT)
		s.sum += r.RTT
		s.recv++
		delete(t.reasons, i)
	} else if s.recv == 0 {
		t.reasons[i] = r.Reason
	}
	if t.left--; t.left == 0 {
		close(t.done)
	}
}

func (t *probeTally) alive() int {
	n := 0
	for i := range t.stats {
		if t.stats[i].recv > 0 {
			n++
		}
	}
	return n
}

// unknown counts the targets whose every probe was a local drop: neither
// alive nor unreachable.
func (t *probeTally) unknown() int {
	n := 0
	for i := range t.stats {
		if t.stats[i].sent == 0 {
			n++
		}
	}
	return n
}

// dropSummary is the end of the summary line about this host's drops.
func (t *probeTally) dropSummary() string {
	s := fmt.Sprintf(", %d socket drops", t.socketDrop)
	if t.localDrops > 0 {
		s += fmt.Sprintf(", %d probes not counted (local drop)", t.localDrops)
	}
	if u := t.unknown(); u > 0 {
		s += fmt.Sprintf(", %d targets unknown", u)
	}
	return s
}

// writeText prints one fping-like line per target and a summary.
func (t *probeTally) writeText(w *bufio.Writer, targets []netip.Addr, elapsed time.Duration) error {
	var b []byte
	width := 0
	for _, a := range targets {
		b = a.AppendTo(b[:0])
		width = max(width, len(b))
	}
	for i, a := range targets {
		s := &t.stats[i]
		b = a.AppendTo(b[:0])
		for len(b) < width {
			b = append(b, ' ')
		}
		b = append(b, " : xmt/rcv/%loss = "...)
		b = strconv.AppendUint(b, uint64(s.sent), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(s.recv), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(probeLoss(s)), 10)
		b = append(b, '%')
		if s.recv > 0 {
			b = append(b, ", min/avg/max = "...)
			b = appendProbeMS(b, s.min)
			b = append(b, '/')
			b = appendProbeMS(b, s.sum/time.Duration(s.recv))
			b = append(b, '/')
			b = appendProbeMS(b, s.max)
		} else if reason := t.reasons[i]; reason != "" {
			b = append(b, " ("...)
			b = append(b, reason...)
			b = append(b, ')')
		}
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	alive := t.alive()
	_, err := fmt.Fprintf(w, "%d targets, %d alive, %d unreachable, elapsed %.3fs%s\n",
		len(targets), alive, len(targets)-alive-t.unknown(), elapsed.Seconds(), t.dropSummary())
	return err
}

// Types of the --json document.
type (
	probeJSON struct {
		Targets []probeTargetJSON `json:"targets"`
		Summary probeSummaryJSON  `json:"summary"`
	}
	probeTargetJSON struct {
		Target      string  `json:"target"`
		Sent        uint32  `json:"sent"`
		Received    uint32  `json:"received"`
		LossPercent uint32  `json:"loss_percent"`
		MinMS       float64 `json:"rtt_min_ms,omitempty"`
		AvgMS       float64 `json:"rtt_avg_ms,omitempty"`
		MaxMS       float64 `json:"rtt_max_ms,omitempty"`
		Error       string  `json:"error,omitempty"`
	}
	probeSummaryJSON struct {
		Targets        int     `json:"targets"`
		Alive          int     `json:"alive"`
		Unreachable    int     `json:"unreachable"`
		Unknown        int     `json:"unknown"` // every probe a local drop
		ElapsedSeconds float64 `json:"elapsed_seconds"`
		SocketDrops    uint64  `json:"socket_drops"` // packets the kernel dropped on the probe sockets (SO_RXQ_OVFL)
		LocalDrops     int     `json:"local_drops"`  // probes not counted: replies dropped by this host while they were out
	}
)

// writeJSON prints one JSON document (a probeJSON), streaming the targets.
func (t *probeTally) writeJSON(w *bufio.Writer, targets []netip.Addr, elapsed time.Duration) error {
	w.WriteString(`{"targets":[`)
	for i, a := range targets {
		s := &t.stats[i]
		j := probeTargetJSON{Target: a.String(), Sent: s.sent, Received: s.recv, LossPercent: probeLoss(s), Error: t.reasons[i]}
		if s.recv > 0 {
			j.MinMS, j.AvgMS, j.MaxMS = probeMS(s.min), probeMS(s.sum/time.Duration(s.recv)), probeMS(s.max)
		}
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		if i > 0 {
			w.WriteByte(',')
		}
		w.Write(b)
	}
	alive := t.alive()
	b, err := json.Marshal(probeSummaryJSON{Targets: len(targets), Alive: alive, Unreachable: len(targets) - alive - t.unknown(),
		Unknown: t.unknown(), ElapsedSeconds: elapsed.Seconds(), SocketDrops: t.socketDrop, LocalDrops: t.localDrops})
	if err != nil {
		return err
	}
	w.WriteString(`],"summary":`)
	w.Write(b)
	_, err = w.WriteString("}\n")
	return err
}

func probeLoss(s *probeStats) uint32 {
	if s.sent == 0 {
		return 0
	}
	return (s.sent - s.recv) * 100 / s.sent
}

func probeMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// appendProbeMS formats d in milliseconds with three significant digits, as
// fping does: 0.041, 1.23, 12.3, 123.
func appendProbeMS(b []byte, d time.Duration) []byte {
	v := probeMS(d)
	prec := 0
	switch {
	case v < 1:
		prec = 3
	case v < 10:
		prec = 2
	case v < 100:
		prec = 1
	}
	return strconv.AppendFloat(b, v, 'f', prec, 64)
}
