package mesh

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"
)

// Options tunes a Service. Zero values take the defaults.
type Options struct {
	SeriesStep time.Duration // live: at most one series point per step; default 5s (720 points: one hour)
	Logger     *slog.Logger
	Now        func() time.Time // default time.Now
}

// Service answers the dashboard's questions from one source, live or
// replayed. Refresh reads the source (once per tick, shared by every
// client); the other methods answer from that reading or query the
// history. Safe for concurrent use.
type Service struct {
	mode   string
	live   *Live
	replay *Replay
	hist   History
	opt    Options

	refreshMu sync.Mutex // one Refresh at a time

	mu       sync.RWMutex
	snap     *Snapshot
	book     lossBook
	series   *Series
	rng      Range
	interval float64
	ivAt     float64 // when interval was last estimated
	gen      uint64
	marks    map[string]eventMark // live events watermark per agent address
	seriesMu sync.Mutex           // replay: series rebuilt on first use
	rebuilt  bool
}

func (o *Options) defaults() {
	if o.SeriesStep <= 0 {
		o.SeriesStep = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// NewLive serves a live deployment.
func NewLive(l *Live, opt Options) *Service {
	opt.defaults()
	return &Service{mode: ModeLive, live: l, hist: l, opt: opt, book: lossBook{}, series: newSeries(),
		snap: emptySnapshot(epochOf(opt.Now()))}
}

// NewReplay serves an analysis database.
func NewReplay(r *Replay, opt Options) *Service {
	opt.defaults()
	s := &Service{mode: ModeReplay, replay: r, hist: r, opt: opt, book: lossBook{}, snap: r.snap}
	s.rng.From, s.rng.To, _ = r.Extent(context.Background())
	s.interval, _ = r.Interval(context.Background(), s.rng.To)
	s.gen = 1
	return s
}

func emptySnapshot(now float64) *Snapshot {
	s := &Snapshot{Time: now}
	s.index()
	return s
}

func epochOf(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Mode returns ModeLive or ModeReplay.
func (s *Service) Mode() string { return s.mode }

// History returns the samples and events behind the service.
func (s *Service) History() History { return s.hist }

// Close closes the source's databases.
func (s *Service) Close() error {
	if s.live != nil {
		return s.live.Close()
	}
	return s.replay.Close()
}

// Update is what one Refresh found.
type Update struct {
	Generation uint64
	Events     []Event // new since the previous Refresh, oldest first (live only)
}

// Refresh reads the source once. In replay mode nothing changes and it
// returns at once.
func (s *Service) Refresh(ctx context.Context) (Update, error) {
	if s.live == nil {
		return Update{Generation: s.gen}, nil
	}
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	now := epochOf(s.opt.Now())
	rd := s.live.read(ctx, now)
	reg, regErr, dbs, views := rd.reg, rd.regErr, rd.dbs, rd.views
	if ctx.Err() != nil {
		return Update{}, ctx.Err()
	}
	if reg == nil && regErr != nil {
		s.mu.RLock()
		reg = s.snap.Registry // the last registry known, agents' own rows otherwise
		s.mu.RUnlock()
	}
	snap := buildSnapshot(now, reg, regErr, dbs, views)
	evs, marks := s.live.eventsAfter(ctx, s.marks)
	rng := s.rng
	if from, to, err := s.live.extentTick(ctx); err == nil {
		rng = Range{From: round3(from), To: round3(to)}
	}
	iv, ivAt := s.interval, s.ivAt
	if now-ivAt >= 60 || iv == 0 && now-ivAt >= 5 {
		if v, err := s.live.Interval(ctx, now); err == nil && v > 0 {
			iv = v
		}
		ivAt = now
	}
	stable := stableOf(snap)
	for i := range evs {
		evs[i].Stable = stable(evs[i].TargetAddress)
	}
	var backfill *Series
	if !s.rebuilt && rng.To > 0 {
		backfill = s.backfill(ctx, now, rng, iv, stable)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range snap.Views {
		s.book.record(v, now)
	}
	if backfill != nil {
		s.series = backfill
	}
	if rng.To > 0 {
		s.rebuilt = true // tried once: a failure is not retried every tick
	}
	n := countNow(snap)
	if l := len(s.series.Time); l == 0 || now-s.series.Time[l-1] >= s.opt.SeriesStep.Seconds()-0.05 {
		s.series.add(now, n)
	}
	s.snap, s.rng, s.interval, s.ivAt, s.marks = snap, rng, iv, ivAt, marks
	s.gen++
	return Update{Generation: s.gen, Events: evs}, nil
}

// backfill rebuilds the series of the hour before now from the samples
// and events history, one point per SeriesStep, so that a serve started on
// a running deployment does not begin with a blank chart. Ticks append to
// it. A failure leaves the series to the ticks alone.
func (s *Service) backfill(ctx context.Context, now float64, rng Range, interval float64, stable func(string) bool) *Series {
	step := s.opt.SeriesStep.Seconds()
	n := min(MaxSeries-1, int(math.Floor((now-rng.From)/step)))
	if n <= 0 {
		return nil
	}
	start := time.Now()
	ser, err := seriesAt(ctx, s.hist, stable, now-float64(n)*step, step, n, staleFor(interval), s.live.activity)
	if err != nil {
		if ctx.Err() == nil {
			s.opt.Logger.Warn("serve: the chart starts empty: cannot read the history", "err", err)
		}
		return nil
	}
	s.opt.Logger.Debug("serve: chart backfilled from the history", "points", n, "took", time.Since(start))
	return ser
}

// stableOf returns the stable flag of a target address by the registry
// (true for an address it does not hold, as the schema's default).
func stableOf(snap *Snapshot) func(string) bool {
	return func(addr string) bool {
		if i, ok := snap.byAddr[addr]; ok {
			return snap.Nodes[i].Stable
		}
		return true
	}
}

// Snapshot returns the latest reading (never nil; do not modify it).
func (s *Service) Snapshot() *Snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.snap
}

// Summary returns the counts now (replay: at the end of the history).
func (s *Service) Summary() Summary {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sum := Summary{Time: round3(s.snap.Time), Mode: s.mode, Range: s.rng, Now: countNow(s.snap), Generation: s.gen,
		RegistryError: s.snap.RegErr, Lost: s.snap.Lost}
	if s.interval > 0 {
		iv := s.interval
		sum.Interval = &iv
	}
	if s.mode == ModeReplay {
		sum.Time = round3(s.rng.To)
		sum.Now.AgentsRunning = 0 // every agent had stopped when the run was consolidated
	}
	return sum
}

// Series returns the counts over time: sampled live, or rebuilt from the
// history of a replay.
func (s *Service) Series(ctx context.Context) (*Series, error) {
	if s.mode == ModeReplay {
		s.seriesMu.Lock()
		if !s.rebuilt {
			ser, err := rebuildSeries(ctx, s.hist, stableOf(s.snap), s.rng.From, s.rng.To, staleFor(s.interval))
			if err != nil {
				s.seriesMu.Unlock()
				return nil, fmt.Errorf("rebuild series: %w", err)
			}
			s.mu.Lock()
			s.series, s.rebuilt = ser, true
			s.mu.Unlock()
		}
		s.seriesMu.Unlock()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.series.clone(), nil
}

// ReadStats returns how many working database reads the ticks made and
// spared; false in a replay.
func (s *Service) ReadStats() (ReadStats, bool) {
	if s.live == nil {
		return ReadStats{}, false
	}
	return s.live.ReadStats(), true
}

// Generation counts the refreshes that read the source (1 in a replay).
func (s *Service) Generation() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}

// Interval returns the agents' probe interval as estimated (0: unknown).
func (s *Service) Interval() float64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.interval
}

// Extent returns the range of the samples history.
func (s *Service) Extent() Range {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rng
}
