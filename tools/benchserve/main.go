// Command benchserve measures 'pmonitor serve':
//
//   - mesh: /api/v1/mesh over -mesh working databases (250: 62,250 pairs):
//     serve's first tick (opening every database and backfilling the
//     chart's hour from the history), a tick when every database changed
//     and one when none did (ticks read only the files that changed), the
//     mesh build, and a request answered from the tick's mesh, over HTTP
//     on loopback;
//
//   - live: serve's CPU while -clients stream clients watch a live mesh of
//     -live nodes, whose working databases a writer in this process updates
//     every -interval (no agents, no sockets: the databases are what serve
//     reads). serve runs as a child process, so its CPU is its own.
//
//     go run ./tools/benchserve -mesh 250 -live 100 -clients 5 -for 60s
//
// Figures need a quiet machine.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pmonitor/pmonitor/internal/cli"
	"github.com/pmonitor/pmonitor/internal/mesh"
	"github.com/pmonitor/pmonitor/internal/mesh/meshtest"
	"github.com/pmonitor/pmonitor/internal/web"
	"github.com/pmonitor/pmonitor/tools/internal/procstat"
)

func main() {
	// The child that serves: this binary as 'pmonitor serve'.
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		os.Exit(cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
	}
	meshN := flag.Int("mesh", 250, "nodes of the /api/v1/mesh measurement (0: skip)")
	requests := flag.Int("requests", 20, "requests of each kind")
	liveN := flag.Int("live", 100, "nodes of the live measurement (0: skip)")
	clients := flag.Int("clients", 5, "stream clients")
	interval := flag.Duration("interval", 2*time.Second, "how often the writer updates every working database")
	dur := flag.Duration("for", 60*time.Second, "measured duration of the live measurement")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *meshN > 0 {
		if err := benchMesh(ctx, *meshN, *requests); err != nil {
			fmt.Fprintf(os.Stderr, "benchserve: mesh: %v\n", err)
			os.Exit(1)
		}
	}
	if *liveN > 0 {
		if err := benchLive(ctx, *liveN, *clients, *interval, *dur); err != nil {
			fmt.Fprintf(os.Stderr, "benchserve: live: %v\n", err)
			os.Exit(1)
		}
	}
}

// deployment writes n nodes' databases with rounds rounds, one every
// interval ending now; a fault takes gs1 down in a middle round.
func deployment(ctx context.Context, dir string, n, rounds int, interval time.Duration) (*meshtest.Sim, error) {
	start := time.Now().Add(-time.Duration(rounds) * interval)
	s, err := meshtest.New(ctx, dir, n, n/4, start)
	if err != nil {
		return nil, err
	}
	gs1 := n - n/4
	s.Down = func(src, dst, k int) bool { return dst == gs1 && k%10 >= 4 && k%10 <= 6 }
	for k := 0; k < rounds; k++ {
		if err := s.Round(ctx, start.Add(time.Duration(k)*interval), interval/2); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func benchMesh(ctx context.Context, n, requests int) error {
	dir, err := os.MkdirTemp("", "benchserve-mesh-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	t0 := time.Now()
	// A round an hour ago and two just now: the chart's backfill covers a
	// whole hour (720 points) and the agents are running.
	now := time.Now()
	sim, err := meshtest.New(ctx, dir, n, n/4, now.Add(-time.Hour))
	if err != nil {
		return err
	}
	defer sim.Close() // open, as the agents keep their databases (and write-ahead logs) open
	gs1 := n - n/4
	sim.Down = func(src, dst, k int) bool { return dst == gs1 && k == 1 }
	for _, at := range []time.Time{now.Add(-time.Hour), now.Add(-4 * time.Second), now.Add(-2 * time.Second)} {
		if err := sim.Round(ctx, at, time.Second); err != nil {
			return err
		}
	}
	fmt.Printf("mesh: %d nodes, %d working databases, %d pairs, written in %v\n", n, n, n*(n-1), time.Since(t0).Round(time.Millisecond))
	l, err := mesh.OpenLive(sim.Master, sim.Work, "")
	if err != nil {
		return err
	}
	svc := mesh.NewLive(l, mesh.Options{})
	defer svc.Close()
	srv := web.New(web.Config{Service: svc})
	t := time.Now()
	if err := srv.Refresh(ctx); err != nil { // opens every database, backfills the chart
		return err
	}
	first := time.Since(t)
	ser, err := svc.Series(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("mesh: first tick (open %d databases, backfill %d chart points from the history) %v\n", n, len(ser.Time), first.Round(time.Millisecond))

	// Ticks while every agent has written since the last one: each reads
	// every database. The writes are not timed.
	var changed, unchanged, build, served []time.Duration
	for i := 0; i < min(requests, 5); i++ {
		if err := sim.Round(ctx, time.Now(), time.Second); err != nil {
			return err
		}
		t := time.Now()
		if err := srv.Refresh(ctx); err != nil {
			return err
		}
		changed = append(changed, time.Since(t))
	}
	r0 := l.ReadStats()
	// Ticks on files that did not change (past the racy window): stat only.
	time.Sleep(100 * time.Millisecond)
	for i := 0; i < requests; i++ {
		t := time.Now()
		if err := srv.Refresh(ctx); err != nil {
			return err
		}
		unchanged = append(unchanged, time.Since(t))
		t = time.Now()
		if _, err := svc.Mesh(ctx, -1, 0); err != nil {
			return err
		}
		build = append(build, time.Since(t))
	}
	r1 := l.ReadStats()
	hs := &http.Server{Handler: srv.Handler()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/api/v1/mesh"
	var size int
	for i := 0; i < requests+1; i++ {
		if i%5 == 0 {
			srv.Refresh(ctx) // a new tick: the next request encodes the new mesh
		}
		t := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if i > 0 { // the first one warms the connection
			served = append(served, time.Since(t))
		}
		size = len(b)
	}
	t = time.Now()
	at := float64(time.Now().Add(-3*time.Second).UnixNano()) / 1e9
	if _, err := svc.Mesh(ctx, at, 4); err != nil {
		return err
	}
	hist := time.Since(t)
	fmt.Printf("mesh: tick when every database changed median %v (%d ticks, max %v); when none changed median %v (%d ticks, %d reads, %d skipped)\n",
		median(changed).Round(10*time.Microsecond), len(changed), slices.Max(changed).Round(10*time.Microsecond),
		median(unchanged).Round(10*time.Microsecond), len(unchanged), r1.Reads-r0.Reads, r1.Skipped-r0.Skipped)
	fmt.Printf("mesh: mesh build median %v; GET /api/v1/mesh median %v (%d requests, %d KB, a new tick every 5: %v max)\n",
		median(build).Round(10*time.Microsecond), median(served).Round(10*time.Microsecond), len(served), size/1024,
		slices.Max(served).Round(10*time.Microsecond))
	fmt.Printf("mesh: GET /api/v1/mesh?at=T&window=4 (rebuilt from the samples history): %v\n", hist.Round(time.Millisecond))
	return nil
}

func benchLive(ctx context.Context, n, clients int, interval, dur time.Duration) error {
	dir, err := os.MkdirTemp("", "benchserve-live-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sim, err := deployment(ctx, dir, n, 5, interval)
	if err != nil {
		return err
	}
	defer sim.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, "serve", sim.Master, "--dir", dir, "--listen", "127.0.0.1:0", "--log-level", "warn")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(out)
	var base string
	for sc.Scan() {
		if m := regexp.MustCompile(`on (http://[0-9.:]+)/`).FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		return errors.New("serve printed no URL")
	}
	go io.Copy(io.Discard, out)

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	writerErr := make(chan error, 1)
	go func() { // the writer: every database updated every interval
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				writerErr <- nil
				return
			case now := <-t.C:
				if err := sim.Round(wctx, now, interval/2); err != nil && wctx.Err() == nil {
					writerErr <- err
					return
				}
			}
		}
	}()
	got := make([]atomic.Int64, clients)
	for i := 0; i < clients; i++ {
		go func() {
			req, _ := http.NewRequestWithContext(wctx, "GET", base+"/api/v1/stream", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			buf := make([]byte, 64<<10)
			for {
				k, err := resp.Body.Read(buf)
				got[i].Add(int64(k))
				if err != nil {
					return
				}
			}
		}()
	}
	warm := min(10*time.Second, dur/3)
	fmt.Printf("live: %d nodes (%d pairs), writer every %v, %d stream clients; warming up %v, measuring %v\n",
		n, n*(n-1), interval, clients, warm, dur)
	select {
	case <-time.After(warm):
	case <-ctx.Done():
		return ctx.Err()
	}
	u0, s0 := procstat.CPU(cmd.Process.Pid)
	t0 := time.Now()
	b0 := sum(got)
	select {
	case <-time.After(dur):
	case <-ctx.Done():
		return ctx.Err()
	case err := <-writerErr:
		return fmt.Errorf("writer: %w", err)
	}
	u1, s1 := procstat.CPU(cmd.Process.Pid)
	wall := time.Since(t0)
	cpu := (u1 - u0) + (s1 - s0)
	fmt.Printf("live: serve used %.3f cores (user %.3f, system %.3f), peak RSS %.1f MB; streamed %.0f KB/s per client\n",
		cpu.Seconds()/wall.Seconds(), (u1-u0).Seconds()/wall.Seconds(), (s1-s0).Seconds()/wall.Seconds(),
		float64(procstat.RSS(cmd.Process.Pid))/1024, float64(sum(got)-b0)/1024/wall.Seconds()/float64(clients))
	return nil
}

func sum(xs []atomic.Int64) int64 {
	var s int64
	for i := range xs {
		s += xs[i].Load()
	}
	return s
}
