package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// BenchmarkWrite measures the cost of recording one sample in the working
// database, in batches of 2,500 (10,000 targets per second, written every
// 250 ms), with and without the samples history.
func BenchmarkWrite(b *testing.B) {
	for _, history := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", history), func(b *testing.B) {
			ctx := context.Background()
			w, err := store.OpenWorking(ctx, filepath.Join(b.TempDir(), "work.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			const targets, batch = 10000, 2500
			var ts []store.Target
			for i := 0; i < targets; i++ {
				ts = append(ts, store.Target{Address: fmt.Sprintf("127.1.%d.%d", i/256, i%256), Name: fmt.Sprint(i), Stable: true})
			}
			if err := w.SyncTargets(ctx, ts); err != nil {
				b.Fatal(err)
			}
			samples := make([]store.Sample, batch)
			b.ResetTimer()
			now := time.Now()
			for i := 0; i < b.N; i += batch {
				for j := range samples {
					samples[j] = store.Sample{Address: ts[(i+j)%targets].Address, Time: now, Answered: true, RTT: 50 * time.Microsecond, Counted: true}
				}
				if err := w.Write(ctx, store.Batch{Samples: samples, History: history}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sample")
		})
	}
}

// BenchmarkWriteIdleBatch measures one batch of an idle agent: 99 targets
// at --interval 60s, so a few dozen samples per write, with the samples
// history. It reports the cost per batch and per sample: what is fixed
// (the transaction) against what grows with the batch.
func BenchmarkWriteIdleBatch(b *testing.B) {
	for _, batch := range []int{0, 25, 100} {
		b.Run(fmt.Sprintf("samples=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			w, err := store.OpenWorking(ctx, filepath.Join(b.TempDir(), "work.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			const targets = 99
			var ts []store.Target
			for i := 0; i < targets; i++ {
				ts = append(ts, store.Target{Address: fmt.Sprintf("10.0.0.%d", i+2), Name: fmt.Sprint(i), Stable: true})
			}
			if err := w.SetMe(ctx, "10.0.0.1", "me", true, time.Now()); err != nil {
				b.Fatal(err)
			}
			if err := w.SyncTargets(ctx, ts); err != nil {
				b.Fatal(err)
			}
			samples := make([]store.Sample, batch)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now := time.Now()
				for j := range samples {
					samples[j] = store.Sample{Address: ts[(i*batch+j)%targets].Address, Time: now, Answered: true, RTT: 50 * time.Microsecond, Counted: true}
				}
				if err := w.Write(ctx, store.Batch{Samples: samples, History: true, Heartbeat: now}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
