// Command benchagent measures one pmonitor agent on N loopback targets:
// CPU cores used, peak RSS, probes sent and answered, false loss, the cost of
// one sample (against the original tool's 2.8 ms: fork ping + one commit),
// how long a target added to the registry waits for its first probe, and
// how long a stop request through the run flag takes.
//
//	go run ./tools/benchagent -n 10000 -interval 1s -for 60s
//
// It needs root (raw ICMP sockets). Only 127.0.0.0/8 is probed.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/tools/internal/procstat"
)

func main() {
	n := flag.Int("n", 10000, "loopback targets")
	interval := flag.Duration("interval", time.Second, "agent --interval")
	dur := flag.Duration("for", 60*time.Second, "measured duration")
	profile := flag.String("cpuprofile", "", "have the agent write a CPU profile here")
	flag.Parse()
	if err := run(*n, *interval, *dur, *profile); err != nil {
		fmt.Fprintf(os.Stderr, "benchagent: %v\n", err)
		os.Exit(1)
	}
}

// originalSampleCost is what the original tool spent per sample here:
// fork+exec of ping and one SQLite commit.
const originalSampleCost = 2800 * time.Microsecond

func run(n int, interval, dur time.Duration, profile string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "benchagent")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "pmonitor")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pmonitor")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build pmonitor: %w", err)
	}
	master, work := filepath.Join(dir, "master.db"), filepath.Join(dir, "work.db")
	reg, err := store.CreateRegistry(ctx, master)
	if err != nil {
		return err
	}
	defer reg.Close()
	ts := []store.Target{{Address: "127.0.0.1", Name: "self", Stable: true, Run: true}}
	for i := 0; len(ts) <= n; i++ {
		a := netip.AddrFrom4([4]byte{127, 1 + byte(i>>16), byte(i >> 8), byte(i)})
		ts = append(ts, store.Target{Address: a.String(), Name: "t" + strconv.Itoa(i), Stable: true, Run: true})
	}
	if err := reg.Replace(ctx, ts); err != nil {
		return err
	}
	cmd := exec.Command(bin, "monitor", master, work, "127.0.0.1", "--interval", interval.String(),
		"--timeout", "1s", "--log-level", "warn")
	if profile != "" {
		cmd.Args = append(cmd.Args, "--cpuprofile", profile)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Kill()
	fmt.Printf("agent: %d loopback targets, --interval %v, measuring %v after one warm-up round\n", n, interval, dur)

	// Warm up one round (first answers), then measure.
	time.Sleep(interval + time.Second)
	cpu0, t0 := cpuTime(cmd.Process.Pid), time.Now()
	s0, err := snapshot(work)
	if err != nil {
		return err
	}

	// Half-way: a new target, timed to its first counted probe.
	time.Sleep(dur / 2)
	added := netip.MustParseAddr("127.254.254.254")
	addAt := time.Now()
	if err := reg.Add(ctx, store.Target{Address: added.String(), Name: "late", Stable: true, Run: true}); err != nil {
		return err
	}
	newLatency, err := awaitCounted(work, added.String(), addAt, interval+5*time.Second)
	if err != nil {
		return err
	}
	time.Sleep(max(dur/2-time.Since(addAt), 0))

	cpu1, t1 := cpuTime(cmd.Process.Pid), time.Now()
	s1, err := snapshot(work)
	if err != nil {
		return err
	}
	rss := procstat.RSS(cmd.Process.Pid)

	stopAt := time.Now()
	if err := reg.SetRun(ctx, "127.0.0.1", false); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("agent exit: %w", err)
		}
	case <-time.After(10 * time.Second):
		return errors.New("agent did not stop within 10 s")
	}
	stopLatency := time.Since(stopAt)
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss

	wall := t1.Sub(t0)
	cpu := cpu1 - cpu0
	sent, answered := s1.Sent-s0.Sent, s1.Answered-s0.Answered
	perSample := time.Duration(float64(cpu) / float64(max(sent, 1)))
	fmt.Printf("\n%-28s %v\n", "measured", wall.Round(time.Millisecond))
	fmt.Printf("%-28s %.3f cores (%v CPU)\n", "CPU", cpu.Seconds()/wall.Seconds(), cpu.Round(time.Millisecond))
	fmt.Printf("%-28s %d MB now, %d MB peak\n", "RSS", rss/1024, peak/1024)
	fmt.Printf("%-28s %d sent, %d answered, %.1f/s\n", "probes", sent, answered, float64(sent)/wall.Seconds())
	fmt.Printf("%-28s %d (%.4f%%)\n", "false loss", sent-answered, 100*float64(sent-answered)/float64(max(sent, 1)))
	fmt.Printf("%-28s %v CPU, %.0fx less than the original's %v\n", "cost per sample", perSample.Round(100*time.Nanosecond),
		float64(originalSampleCost)/float64(max(perSample, 1)), originalSampleCost)
	fmt.Printf("%-28s %v (goal: interval + 1 s = %v)\n", "new target first counted", newLatency.Round(time.Millisecond), interval+time.Second)
	fmt.Printf("%-28s %v (goal: 1 s)\n", "stop via run flag", stopLatency.Round(time.Millisecond))
	return nil
}

type status struct{ Sent, Answered uint64 }

// snapshot reads the probe counters from the working database, as any
// orchestrator could, without asking the agent for work.
func snapshot(work string) (status, error) {
	var s status
	db, err := sql.Open("sqlite", "file:"+work+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return s, err
	}
	defer db.Close()
	err = db.QueryRow(`SELECT COALESCE(SUM(sent), 0), COALESCE(SUM(received), 0) FROM targets`).Scan(&s.Sent, &s.Answered)
	return s, err
}

// awaitCounted polls the working database until address has a counted probe.
func awaitCounted(work, address string, since time.Time, within time.Duration) (time.Duration, error) {
	db, err := sql.Open("sqlite", "file:"+work+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	for time.Since(since) < within {
		var n int
		if db.QueryRow(`SELECT COUNT(*) FROM targets WHERE address = ? AND total_count > 0`, address).Scan(&n) == nil && n > 0 {
			return time.Since(since), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("target %s not probed within %v", address, within)
}

// cpuTime returns the user+system CPU time of pid.
func cpuTime(pid int) time.Duration {
	u, s := procstat.CPU(pid)
	return u + s
}
