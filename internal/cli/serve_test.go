package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pmonitor/pmonitor/internal/testenv"
)

func TestServeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	if _, errs, code := run(t, "init", master, writeFile(t, dir, "t.csv", "a,127.0.0.1,true\n")); code != 0 {
		t.Fatal(errs)
	}
	short := writeFile(t, dir, "short.token", "abc\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "serve: missing arguments"},
		{[]string{"serve", filepath.Join(dir, "none.db")}, "none.db: stat"},
		{[]string{"serve", master}, "give working databases after"},
		{[]string{"serve", master, "--dir", filepath.Join(dir, "nodir")}, "not a directory"},
		{[]string{"serve", master, "w.db", "--control-token-file", short}, "want at least 16 characters"},
		{[]string{"serve", master, "w.db", "--tick", "1ms"}, "--tick must be at least 100ms"},
		{[]string{"serve", master, "--from-registry", "--dir", dir}, "--from-registry downloads the working databases: no --dir"},
		{[]string{"serve", master, "--from-registry", "--pull-interval", "10ms"}, "--pull-interval must be at least 1s"},
		{[]string{"serve", "etcd://127.0.0.1:1/x"}, "give working databases after etcd://127.0.0.1:1/x, --dir DIR or --from-registry"},
	} {
		_, errs, code := run(t, tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", tc.args, code, errs, exitUsage, tc.want)
		}
	}
}

// startServe runs 'pmonitor serve args...' in this process until the test
// ends and returns its base URL.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs testenv.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, append([]string{"serve"}, args...), &out, &errs) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	re := regexp.MustCompile(`on (http://[0-9.:]+)/`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no URL: %s %s", out.String(), errs.String())
	return ""
}

// startAgent runs this test binary as 'pmonitor monitor' until the test ends.
func startAgent(t *testing.T, args ...string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"monitor"}, args...)...)
	log, err := os.Create(filepath.Join(t.TempDir(), "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("agent %v log:\n%s", args, b)
		}
	})
}

// freePort returns a loopback address free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Prometheus discovers the agents through serve's /api/v1/sd, scrapes
// them and serve, and answers PromQL over both.
func TestServePrometheus(t *testing.T) {
	testenv.RequireRoot(t) // the agents probe with raw sockets
	prom := testenv.RequireCommand(t, "prometheus", "prometheus")
	dir := t.TempDir()
	master := filepath.Join(dir, "master.db")
	targets := writeFile(t, t.TempDir(), "targets.csv", "a,127.0.0.1,true\nb,127.0.0.2,true\nc,127.0.0.3,false\n")
	if _, errs, code := run(t, "init", master, targets); code != 0 {
		t.Fatal(errs)
	}
	for _, a := range []string{"127.0.0.1", "127.0.0.2"} {
		startAgent(t, master, filepath.Join(dir, "work-"+a+".db"), a, "--interval", "500ms", "--timeout", "300ms",
			"--listen", a+":0", "--log-level", "warn")
	}
	base := startServe(t, master, "--dir", dir, "--listen", "127.0.0.1:0", "--log-level", "warn")
	serveHost := strings.TrimPrefix(base, "http://")

	// Both agents advertise their URL: serve's service discovery lists them.
	awaitJSON(t, base+"/api/v1/sd", 20*time.Second, func(v any) bool {
		groups, _ := v.([]any)
		return len(groups) == 2
	})

	promDir := t.TempDir()
	promAddr := freePort(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: serve
    static_configs:
      - targets: ['%s']
  - job_name: agents
    http_sd_configs:
      - url: '%s/api/v1/sd'
        refresh_interval: 1s
`, serveHost, base)
	cfgPath := writeFile(t, promDir, "prometheus.yml", cfg)
	cmd := exec.Command(prom, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(promDir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	var promLog testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &promLog, &promLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
		}
	})
	query := func(q string) func(any) bool {
		return func(v any) bool {
			m, _ := v.(map[string]any)
			data, _ := m["data"].(map[string]any)
			res, _ := data["result"].([]any)
			if len(res) != 1 {
				return false
			}
			val, _ := res[0].(map[string]any)["value"].([]any)
			return len(val) == 2 && val[1] == "1"
		}
	}
	api := "http://" + promAddr + "/api/v1/query?query="
	for _, q := range []string{
		// serve's pair metric from the working databases
		`pmonitor_pair_up{job="serve",source="a",target="b",stable="true"}`,
		// both agents discovered through http_sd, scraped, and labelled by it
		`count(up{job="agents"} == 1) == bool 2`,
		`pmonitor_target_up{job="agents",node="b",address="127.0.0.2",target="127.0.0.1"}`,
	} {
		awaitJSON(t, api+url.QueryEscape(q), 60*time.Second, query(q))
	}
}

// awaitJSON polls url every 250 ms until ok accepts its JSON body.
func awaitJSON(t *testing.T, url string, within time.Duration, ok func(any) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			var v any
			if json.Unmarshal(b, &v) == nil && ok(v) {
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: condition not met within %v; last answer: %.600s", url, within, last)
}
