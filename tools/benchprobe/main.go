// Command benchprobe compares 'pmonitor probe' with fping on N loopback
// targets: median wall time, median CPU time (user+sys of the child), peak
// RSS and how many targets answered, and the pmonitor/fping ratios.
//
//	go run ./tools/benchprobe -n 50000 -runs 5 [-flood]
//
// It needs root (raw ICMP sockets) and fping (apt-get install fping). Only
// 127.0.0.0/8 is probed. With -flood, a bounded 'ping -f 127.0.0.1' runs
// during every measured run to show that another ICMP user causes no false
// loss.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runTimeout bounds every child process.
const runTimeout = 2 * time.Minute

func main() {
	n := flag.Int("n", 50000, "number of loopback targets")
	runs := flag.Int("runs", 5, "runs of each tool (alternating)")
	flood := flag.Bool("flood", false, "run 'ping -f -c 200000 127.0.0.1' beside every run")
	flag.Parse()
	if err := run(*n, *runs, *flood); err != nil {
		fmt.Fprintf(os.Stderr, "benchprobe: %v\n", err)
		os.Exit(1)
	}
}

// sample is one measured run of a tool.
type sample struct {
	wall, cpu time.Duration
	maxRSSKB  int64
	answered  int
}

// tool is a program under test.
type tool struct {
	name    string
	argv    []string
	samples []sample
}

func run(n, runs int, flood bool) error {
	if n < 1 || n > 250*254*254 || runs < 1 {
		return fmt.Errorf("-n must be in 1..%d and -runs positive", 250*254*254)
	}
	fping, err := exec.LookPath("fping")
	if err != nil {
		return errors.New("fping not found: apt-get install -y fping")
	}
	dir, err := os.MkdirTemp("", "benchprobe")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "pmonitor")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pmonitor")
	build.Dir, build.Stdout, build.Stderr = moduleRoot(), os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build pmonitor: %w", err)
	}
	file := filepath.Join(dir, "targets.txt")
	if err := writeTargets(file, n); err != nil {
		return err
	}
	tools := []*tool{
		{name: "pmonitor", argv: []string{bin, "probe", "-c1", "-f", file}},
		{name: "fping", argv: []string{fping, "-i0", "-c1", "-t500", "-f", file}},
	}
	fmt.Printf("benchprobe: %d loopback targets, %d runs each, flood=%v, GOMAXPROCS/cores=%d\n", n, runs, flood, numCPU())
	for r := range runs {
		for _, t := range tools {
			s, err := measure(t.argv, flood)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", t.name, r+1, err)
			}
			t.samples = append(t.samples, s)
			fmt.Printf("  run %d %-8s wall %6.3fs cpu %6.3fs rss %5.1f MB answered %d/%d\n",
				r+1, t.name, s.wall.Seconds(), s.cpu.Seconds(), float64(s.maxRSSKB)/1024, s.answered, n)
		}
	}
	report(os.Stdout, tools, n)
	return nil
}

// moduleRoot is the directory of the go.mod of the current module.
func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "."
	}
	if p := strings.TrimSpace(string(out)); p != "" && p != os.DevNull {
		return filepath.Dir(p)
	}
	return "."
}

// writeTargets writes n distinct addresses of 127.0.0.0/8 (127.1.0.1 and
// up, skipping .0 and .255) to file.
func writeTargets(file string, n int) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i, c := 0, 0; c < n; i++ {
		a, b, d := 1+i/(254*254), (i/254)%254+1, i%254+1
		fmt.Fprintf(w, "127.%d.%d.%d\n", a, b, d)
		c++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// answeredRE matches the per-target summary both tools print.
var answeredRE = regexp.MustCompile(`(?m)^\S+\s+: xmt/rcv/%loss = \d+/(\d+)/`)

// measure runs argv once (beside a ping flood if asked) and measures it.
func measure(argv []string, flood bool) (sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	if flood {
		stop, err := startFlood(ctx)
		if err != nil {
			return sample{}, err
		}
		defer stop()
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return sample{}, err
	}
	if ctx.Err() != nil {
		return sample{}, fmt.Errorf("did not finish within %v", runTimeout)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, errors.New("no rusage")
	}
	s := sample{
		wall:     wall,
		cpu:      time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime)),
		maxRSSKB: ru.Maxrss,
	}
	for _, m := range answeredRE.FindAllSubmatch(out.Bytes(), -1) {
		if k, _ := strconv.Atoi(string(m[1])); k > 0 {
			s.answered++
		}
	}
	return s, nil
}

// startFlood starts a bounded flood ping of 127.0.0.1 and returns a
// function that stops it and reports its loss line.
func startFlood(ctx context.Context) (func(), error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "ping", "-q", "-f", "-c", "200000", "-w", "60", "127.0.0.1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start flood ping: %w", err)
	}
	time.Sleep(100 * time.Millisecond) // let the flood reach full rate
	return func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, "packet loss") {
				fmt.Printf("    flood: %s\n", strings.TrimSpace(l))
			}
		}
	}, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// stats summarizes the samples of t: median wall and CPU, peak RSS (MB)
// and the fewest targets answered in a run.
func (t *tool) stats() (wall, cpu time.Duration, rssMB float64, answered int) {
	var walls, cpus []time.Duration
	answered = -1
	for _, s := range t.samples {
		walls, cpus = append(walls, s.wall), append(cpus, s.cpu)
		rssMB = max(rssMB, float64(s.maxRSSKB)/1024)
		if answered < 0 || s.answered < answered {
			answered = s.answered
		}
	}
	return median(walls), median(cpus), rssMB, answered
}

func report(w io.Writer, tools []*tool, n int) {
	fmt.Fprintf(w, "\n%-9s %10s %10s %12s %16s\n", "tool", "wall(med)", "cpu(med)", "peak RSS", "answered(min)")
	for _, t := range tools {
		wall, cpu, rss, ans := t.stats()
		fmt.Fprintf(w, "%-9s %9.3fs %9.3fs %9.1f MB %10d/%d\n", t.name, wall.Seconds(), cpu.Seconds(), rss, ans, n)
	}
	pw, pc, pr, _ := tools[0].stats()
	fw, fc, fr, _ := tools[1].stats()
	fmt.Fprintf(w, "ratio pmonitor/fping: wall %.2f  cpu %.2f  rss %.2f\n",
		pw.Seconds()/fw.Seconds(), pc.Seconds()/fc.Seconds(), pr/fr)
}

func numCPU() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}
