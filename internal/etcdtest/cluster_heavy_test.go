package etcdtest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pmonitor/pmonitor/internal/emu"
	"github.com/pmonitor/pmonitor/internal/emu/emutest"
	"github.com/pmonitor/pmonitor/internal/etcdstore"
	"github.com/pmonitor/pmonitor/internal/etcdtest"
	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// leaseTTL is the agents' --lease-ttl in the cluster tests.
const leaseTTL = 2 * time.Second

// editBound is the bound on edit-to-every-agent latency (p99).
const editBound = time.Second

// mesh is three etcd members and n agents, each in its own emulated host
// on one bridge, and a "client" host from which the test reaches them: its
// etcd client dials from there and its pmonitor commands run there.
type mesh struct {
	net     *emu.Network
	cluster *etcdtest.Cluster
	client  *emu.Host
	url     string
	reg     *etcdstore.Registry // the orchestrator's handle, dialing from client
	etcd    []netip.Addr
	agents  []*agentProc
	subnet  int
}

func (m *mesh) addr(host, i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(m.subnet), byte(host), byte(i)})
}

func newMesh(t *testing.T, nAgents int) *mesh {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommand(t, etcdtest.Binary, "etcd-server")
	ctx := context.Background()
	m := &mesh{net: emutest.New(t, emu.Options{}), subnet: 200 + rand.IntN(50)}
	// Checked last (cleanups run in reverse), while the bridges still exist.
	t.Cleanup(func() { assertRootOffSegment(t, m.net) })
	var err error
	if m.client, err = m.net.AddHost(ctx, "client", netip.PrefixFrom(m.addr(255, 254), 16)); err != nil {
		t.Fatal(err)
	}
	dial := dialFrom(m.client)

	m.cluster = etcdtest.New(t, 3)
	hosts := map[string]*emu.Host{}
	for i, mb := range m.cluster.Members {
		a := m.addr(0, i+1)
		h, err := m.net.AddHost(ctx, "e"+fmt.Sprint(i), netip.PrefixFrom(a, 16))
		if err != nil {
			t.Fatal(err)
		}
		hosts[mb.Name] = h
		m.etcd = append(m.etcd, a)
		m.cluster.SetAddresses(i, a.String())
	}
	m.cluster.Command = func(mb *etcdtest.Member, argv []string) *exec.Cmd {
		return hosts[mb.Name].Command(context.Background(), argv[0], argv[1:]...)
	}
	m.cluster.Dial = dial
	m.cluster.StartAll()
	m.url = m.cluster.URL("/mesh")
	eps, prefix, _ := etcdstore.ParseURL(m.url)
	m.reg, err = etcdstore.Open(ctx, etcdstore.Config{Endpoints: eps, Prefix: prefix,
		Dial: func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, "tcp", addr) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.reg.Close() })

	var targets []store.Target
	for i := range nAgents {
		targets = append(targets, store.Target{Address: m.addr(1, i+1).String(), Name: fmt.Sprintf("a%d", i), Stable: true, Run: true})
	}
	if err := m.reg.Replace(ctx, targets); err != nil {
		t.Fatal(err)
	}
	for i, tg := range targets {
		h, err := m.net.AddHost(ctx, tg.Name, netip.PrefixFrom(m.addr(1, i+1), 16))
		if err != nil {
			t.Fatal(err)
		}
		p := newAgentProc(h, tg.Address, t.TempDir(), nil) // a private directory per agent
		p.args = []string{m.url, p.Work, tg.Address,
			"--interval", "1s", "--timeout", "1s", "--lease-ttl", leaseTTL.String(),
			"--listen", "0.0.0.0:9310", "--log-level", "debug", "--log-format", "json"}
		m.agents = append(m.agents, p)
		t.Cleanup(p.kill)
	}
	start := time.Now()
	for _, p := range m.agents {
		p.start(t)
	}
	ds := latencies(t, m.agents, start, 60*time.Second, applied(nAgents-1))
	t.Logf("%d agents converged (applied %d targets): %s after start", nAgents, nAgents-1, figure(ds))
	m.awaitRunning(t, nAgents, 30*time.Second)
	assertRootOffSegment(t, m.net)
	return m
}

// awaitRunning waits until n agents hold a liveness key.
func (m *mesh) awaitRunning(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		as, err := m.reg.Agents(context.Background())
		if err == nil && len(as) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d agents registered after %v, want %d (err %v)", len(as), within, n, err)
		}
		time.Sleep(100 * time.Millisecond) // leases of other processes: nothing to wait on here
	}
}

// edit applies one target edit and returns when every agent in ps applied it.
func (m *mesh) edit(t *testing.T, ps []*agentProc, add bool, want int) []time.Duration {
	t.Helper()
	ctx := context.Background()
	extra := m.addr(0, 1).String() // an etcd host: it answers pings
	since := time.Now()
	var err error
	if add {
		err = m.reg.Add(ctx, store.Target{Address: extra, Name: "extra", Stable: true, Run: true})
	} else {
		err = m.reg.Remove(ctx, extra)
	}
	if err != nil {
		t.Fatal(err)
	}
	return latencies(t, ps, since, 30*time.Second, applied(want))
}

// editRounds adds and removes a target rounds times and checks that p99
// stays within bound.
func (m *mesh) editRounds(t *testing.T, what string, ps []*agentProc, rounds int, bound time.Duration) {
	t.Helper()
	n := len(m.agents) - 1
	var all []time.Duration
	slowest, worst := -1, time.Duration(0)
	for range rounds {
		for _, add := range []bool{true, false} {
			want := n
			if add {
				want = n + 1
			}
			ds := m.edit(t, ps, add, want)
			for i, d := range ds {
				if d > worst {
					slowest, worst = i, d
				}
			}
			all = append(all, ds...)
		}
	}
	t.Logf("%s: edit to every agent: %s", what, figure(all))
	if p99 := quantile(all, 0.99); p99 > bound {
		log, _ := os.ReadFile(filepath.Join(ps[slowest].Dir, "agent.log"))
		t.Errorf("%s: edit latency p99 %v > %v (slowest: agent %s, %v); its log ends:\n%s",
			what, p99, bound, ps[slowest].Addr, worst, log[max(0, len(log)-3000):])
	}
}

// pmonitor runs a pmonitor command inside the client host.
func (m *mesh) pmonitor(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return runIn(t, m.client, args...)
}

// TestHeavyEtcdCluster runs the scenarios on three etcd members and
// twenty agents, every one in its own emulated host.
func TestHeavyEtcdCluster(t *testing.T) {
	testenv.Heavy(t)
	ctx := context.Background()
	m := newMesh(t, 20)
	n := len(m.agents)

	t.Run("EditsAndStop", func(t *testing.T) {
		m.editRounds(t, "healthy cluster", m.agents, 3, editBound)
		p := m.agents[3]
		t0 := time.Now()
		if err := m.reg.SetRun(ctx, p.Addr, false); err != nil {
			t.Fatal(err)
		}
		e, ok := p.await(t0, 10*time.Second, func(e event) bool { return strings.Contains(e.Msg, "stopped by the registry") })
		if !ok {
			t.Fatal("agent did not stop on run = false")
		}
		t.Logf("stop via run reached the agent in %v", e.At.Sub(t0).Round(time.Millisecond))
		if d := e.At.Sub(t0); d > editBound {
			t.Errorf("stop took %v > %v", d, editBound)
		}
		if err := m.reg.SetRun(ctx, p.Addr, true); err != nil {
			t.Fatal(err)
		}
		p.start(t)
		m.awaitRunning(t, n, 10*time.Second)
	})

	t.Run("KillOneMember", func(t *testing.T) {
		m.cluster.Kill(0)
		m.agents[0].awaitProbing(t, 2*(n-1), 10*time.Second)
		m.editRounds(t, "one member killed", m.agents, 2, editBound)
		if out, code := m.pmonitor(t, "agents", m.url); code != 0 || strings.Count(out, " yes ") < n {
			t.Errorf("agents with one member down: exit %d\n%s", code, out)
		}
		m.cluster.Restart(0)
	})

	t.Run("CutOneAgent", func(t *testing.T) {
		p, h := m.agents[5], m.net.Host("a5")
		w := m.reg.Client().Watch(ctx, "/mesh/agents/"+p.Addr)
		t0 := time.Now()
		if err := h.Drop(ctx, emu.Both, m.etcd...); err != nil {
			t.Fatal(err)
		}
		for resp := range w {
			if len(resp.Events) > 0 && resp.Events[0].Type == clientv3.EventTypeDelete {
				break
			}
		}
		expired := time.Since(t0)
		t.Logf("cut agent's liveness key expired %v after the cut (TTL %v)", expired.Round(time.Millisecond), leaseTTL)
		if expired > leaseTTL+time.Second { // the server checks expiries every 500 ms
			t.Errorf("liveness key expired %v after the cut, TTL %v", expired, leaseTTL)
		}
		p.awaitProbing(t, 2*(n-1), 10*time.Second)
		others := append(append([]*agentProc{}, m.agents[:5]...), m.agents[6:]...)
		if ds := m.edit(t, others, true, n); quantile(ds, 0.99) > editBound {
			t.Errorf("edit during the cut: %s", figure(ds))
		}
		healed := time.Now()
		if err := h.ClearDrops(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := p.await(healed, 30*time.Second, applied(n)); !ok {
			t.Fatal("the edit made during the cut never reached the healed agent")
		}
		m.awaitRunning(t, n, 30*time.Second)
		t.Logf("healed agent re-registered and caught up %v after the heal", time.Since(healed).Round(time.Millisecond))
		m.edit(t, m.agents, false, n-1)
	})

	t.Run("StopAllMembers", func(t *testing.T) {
		stopped := time.Now()
		for i := range m.cluster.Members {
			m.cluster.Stop(i)
		}
		for _, p := range m.agents[:3] {
			p.awaitProbing(t, 2*(n-1), 10*time.Second)
		}
		for i := range m.cluster.Members {
			m.cluster.RestartNoWait(i)
		}
		for i := range m.cluster.Members {
			m.cluster.WaitHealthy(i, 30*time.Second)
		}
		healthy := time.Now()
		m.awaitRunning(t, n, 30*time.Second)
		// An agent whose lease ran out during the outage reconnects with
		// backoff (its old liveness key may still be listed meanwhile):
		// edits are measured once every agent has resumed.
		resumed, reconnected := time.Duration(0), 0
		for _, p := range m.agents {
			if !p.alive() {
				t.Errorf("agent %s exited while etcd was down", p.Addr)
				continue
			}
			if _, lost := p.await(stopped, 0, logged(msgUnavailable)); !lost {
				continue
			}
			e, ok := p.await(stopped, 30*time.Second, logged(msgAvailable))
			if !ok {
				t.Fatalf("agent %s did not reach the restarted cluster", p.Addr)
			}
			resumed, reconnected = max(resumed, e.At.Sub(healthy)), reconnected+1
		}
		t.Logf("%d agents lost their lease and reconnected, the last %v after the cluster was healthy again",
			reconnected, resumed.Round(time.Millisecond))
		// The issue asks only that agents resume; with 2 s leases on a
		// loaded machine some renew late and re-register once more, so
		// the figure is logged and bounded loosely: a lease that runs out
		// just after the cluster healed costs a reconnect after a backoff
		// of up to 5 s (seen in CI: 5.5 s against an earlier 5 s bound).
		m.editRounds(t, "after restarting every member", m.agents, 1, 10*time.Second)
	})

	t.Run("KillAgent", func(t *testing.T) {
		p := m.agents[7]
		t0 := time.Now()
		p.kill()
		deadline := t0.Add(leaseTTL + 5*time.Second)
		for {
			me, err := m.reg.Lookup(ctx, p.Addr)
			if err == nil && !me.Running {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("killed agent still running after %v", time.Since(t0))
			}
			time.Sleep(50 * time.Millisecond) // the lease expires in etcd: nothing to wait on here
		}
		gone := time.Since(t0)
		t.Logf("agents shows a kill -9'd agent not running %v after the kill (TTL %v)", gone.Round(time.Millisecond), leaseTTL)
		if gone > leaseTTL+time.Second {
			t.Errorf("not running only %v after kill -9, TTL %v", gone, leaseTTL)
		}
	})

	// Every agent's working database is in a directory of its own: the
	// results travel over HTTP only.
	t.Run("ConsolidateAndServeFromRegistry", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "analysis.db")
		text, code := m.pmonitor(t, "consolidate", m.url, out, "--from-registry")
		if code != 0 || !strings.Contains(text, fmt.Sprintf("%d registry targets, %d working databases merged, 0 skipped", n, n-1)) {
			t.Errorf("consolidate --from-registry: exit %d\n%s", code, text)
		}
		var serveOut testenv.SyncBuffer
		startIn(t, m.client, &serveOut, "serve", m.url, "--from-registry", "--pull-interval", "1s",
			"--listen", "127.0.0.1:9300", "--log-level", "warn")
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dialFrom(m.client)}}
		var sum struct {
			Now struct {
				Stable        struct{ Good, Total int }
				AgentsRunning int `json:"agents_running"`
			}
			Lost []any
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := getJSON(hc, "http://127.0.0.1:9300/api/v1/summary", &sum)
			// n-1 agents run (one was killed), each with n-1 targets that answer.
			if err == nil && sum.Now.AgentsRunning == n-1 && sum.Now.Stable.Total >= (n-1)*(n-2) && len(sum.Lost) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve --from-registry: summary %+v (err %v)\n%s", sum, err, serveOut.String())
			}
			time.Sleep(250 * time.Millisecond) // serve refreshes every second: poll its API
		}
		t.Logf("serve --from-registry: %d agents running, %d/%d stable pairs good", sum.Now.AgentsRunning, sum.Now.Stable.Good, sum.Now.Stable.Total)
	})
}
