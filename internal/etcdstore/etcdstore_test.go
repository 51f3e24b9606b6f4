package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pmonitor/pmonitor/internal/etcdtest"
	"github.com/pmonitor/pmonitor/internal/store"
	"github.com/pmonitor/pmonitor/internal/store/storetest"
)

var prefixes atomic.Int64

// open returns a registry on a fresh prefix of c, closed with the test.
func open(t *testing.T, c *etcdtest.Cluster, mod ...func(*Config)) *Registry {
	t.Helper()
	cfg := Config{Endpoints: c.Endpoints(), Prefix: fmt.Sprintf("/test%d", prefixes.Add(1)), TTL: 2 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func samePrefix(r *Registry) func(*Config) { return func(c *Config) { c.Prefix = r.cfg.Prefix } }

func TestConformance(t *testing.T) {
	c := etcdtest.Start(t, 1)
	storetest.Run(t, func(t *testing.T) store.Registry { return open(t, c) })
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, prefix, err string
		eps             []string
	}{
		{in: "etcd://127.0.0.1:2379/mesh", eps: []string{"127.0.0.1:2379"}, prefix: "/mesh"},
		{in: "etcd://a:1,b:2,[::1]:3/x/y/", eps: []string{"a:1", "b:2", "[::1]:3"}, prefix: "/x/y"},
		{in: "etcd://a:1", eps: []string{"a:1"}, prefix: DefaultPrefix},
		{in: "etcd:///p", err: `registry URL "etcd:///p": no endpoint`},
		{in: "etcd://a/p", err: `registry URL "etcd://a/p": endpoint "a" is not host:port`},
		{in: "master.db", err: `registry URL "master.db": want etcd://host:port[,host:port...]/PREFIX`},
	} {
		eps, prefix, err := ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseURL(%q) err = %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(eps) != fmt.Sprint(tc.eps) || prefix != tc.prefix {
			t.Errorf("ParseURL(%q) = %v %q %v, want %v %q", tc.in, eps, prefix, err, tc.eps, tc.prefix)
		}
	}
}

// TestWatch: another writer's edit and an etcdctl-style run key wake the
// agent's registry; its own liveness and heartbeat writes do not.
func TestWatch(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 1)
	agent := open(t, c)
	orch := open(t, c, samePrefix(agent))
	must(t, orch.Replace(ctx, []store.Target{{Address: "127.0.0.1", Name: "a", Run: true}, {Address: "127.0.0.2", Name: "b", Run: true}}))
	notify, _ := agent.Changes()
	if ch, err := agent.Changed(ctx); err != nil || !ch {
		t.Fatalf("first Changed = %v, %v", ch, err)
	}
	drain(notify)
	must(t, agent.SetRunning(ctx, "127.0.0.1", true, 1, time.Now()))
	must(t, agent.Heartbeat(ctx, "127.0.0.1", time.Now()))
	must(t, orch.Heartbeat(ctx, "127.0.0.2", time.Now()))
	// An edit after the own writes: the first notification must be for it.
	must(t, orch.Add(ctx, store.Target{Address: "127.0.0.3", Name: "c", Run: true}))
	<-notify
	if ch, err := agent.Changed(ctx); err != nil || !ch {
		t.Fatalf("Changed after Add = %v, %v", ch, err)
	}
	if ch, _ := agent.Changed(ctx); ch {
		t.Fatalf("Changed twice for one edit")
	}
	// The run flag as an orchestrator sets it with etcdctl.
	if _, err := orch.Client().Put(ctx, orch.keys.run("127.0.0.1"), "false"); err != nil {
		t.Fatal(err)
	}
	<-notify
	if ch, _ := agent.Changed(ctx); !ch {
		t.Fatalf("run key put by etcdctl not seen")
	}
	me, err := agent.Lookup(ctx, "127.0.0.1")
	must(t, err)
	if me.Run || !me.Running || me.PID != 1 {
		t.Errorf("after etcdctl put run=false: %+v", me)
	}
}

// TestWatchFromNotify: the watch starts with Notify, so an edit made after
// an agent started but before its first poll (Changed) wakes it at once.
func TestWatchFromNotify(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 1)
	agent := open(t, c)
	orch := open(t, c, samePrefix(agent))
	must(t, orch.Replace(ctx, []store.Target{{Address: "127.0.0.1", Name: "a", Run: true}}))
	notify, _ := agent.Changes()
	<-agent.watcher().created
	must(t, orch.Add(ctx, store.Target{Address: "127.0.0.2", Name: "b", Run: true}))
	<-notify // never called Changed: the watch woke it
	if ch, err := agent.Changed(ctx); err != nil || !ch {
		t.Fatalf("Changed after the wake-up = %v, %v", ch, err)
	}
	if ch, _ := agent.Changed(ctx); ch {
		t.Fatalf("Changed twice for one edit")
	}
}

// TestLeaseExpires: an agent that dies without cleaning up (its lease no
// longer kept alive) is not running once the TTL passed.
func TestLeaseExpires(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 1)
	agent := open(t, c)
	must(t, agent.Replace(ctx, []store.Target{{Address: "127.0.0.1", Name: "a", Run: true}}))
	must(t, agent.SetRunning(ctx, "127.0.0.1", true, 7, time.Now()))
	orch := open(t, c, samePrefix(agent))
	if me, _ := orch.Lookup(ctx, "127.0.0.1"); !me.Running {
		t.Fatalf("not running after SetRunning: %+v", me)
	}
	agent.session.Orphan() // stop the keep-alives, as kill -9 would
	w := orch.Client().Watch(ctx, orch.keys.agent("127.0.0.1"))
	for resp := range w {
		if len(resp.Events) > 0 && resp.Events[0].Type == clientv3.EventTypeDelete {
			break
		}
	}
	if me, _ := orch.Lookup(ctx, "127.0.0.1"); me.Running || me.Heartbeat.IsZero() {
		t.Errorf("after the lease expired: %+v (want not running, last heartbeat kept)", me)
	}
	if _, err := agent.Changed(ctx); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Changed after the lease expired: %v, want ErrLeaseLost", err)
	}
}

// TestCompacted: a watch asked to resume from a compacted revision reports
// a change (a full re-read) and follows from the current revision.
func TestCompacted(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t, 1)
	r := open(t, c)
	must(t, r.Replace(ctx, []store.Target{{Address: "127.0.0.1", Name: "a", Run: true}}))
	old, err := r.currentRev()
	must(t, err)
	for i := range 5 {
		must(t, r.SetRun(ctx, "127.0.0.1", i%2 == 0))
	}
	cur, err := r.currentRev()
	must(t, err)
	if _, err := r.Client().Compact(ctx, cur-1); err != nil {
		t.Fatal(err)
	}
	w := newWatchState()
	w.dirty = false
	r.wg.Add(1)
	go r.watchLoop(w, old)
	<-w.notify
	w.mu.Lock()
	dirty, werr := w.dirty, w.err
	w.dirty = false
	w.mu.Unlock()
	if !dirty || werr != nil {
		t.Fatalf("after compaction: dirty %v, err %v", dirty, werr)
	}
	must(t, r.SetRun(ctx, "127.0.0.1", false))
	<-w.notify
	w.mu.Lock()
	dirty = w.dirty
	w.mu.Unlock()
	if !dirty {
		t.Fatalf("edit after the re-read not seen")
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
