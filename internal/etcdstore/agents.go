package etcdstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/pmonitor/pmonitor/internal/store"
)

// agentValue is the value of a liveness key, agents/ADDRESS.
type agentValue struct {
	PID     int     `json:"pid"`
	Host    string  `json:"host,omitempty"`
	Started float64 `json:"started"` // epoch seconds
	APIURL  string  `json:"api_url,omitempty"`
}

// Agent is one live agent as its liveness key describes it.
type Agent struct {
	Address string
	PID     int
	Host    string
	Started time.Time
	APIURL  string // where it serves its working database; "" without --listen
}

// Agents returns the agents whose liveness key exists, by address.
func (r *Registry) Agents(ctx context.Context) ([]Agent, error) {
	ctx, cancel := r.op(ctx)
	defer cancel()
	resp, err := r.cli.Get(ctx, r.keys.agentDir(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read agents in registry %s: %w", r, err)
	}
	var out []Agent
	for _, kv := range resp.Kvs {
		var v agentValue
		if err := json.Unmarshal(kv.Value, &v); err != nil {
			continue // not ours
		}
		out = append(out, Agent{Address: strings.TrimPrefix(string(kv.Key), r.keys.agentDir()),
			PID: v.PID, Host: v.Host, Started: fromEpoch(v.Started), APIURL: v.APIURL})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}

// SetRunning implements store.Registry. running puts the liveness key with
// this registry's lease (granted on first use, kept alive in the
// background); false deletes it. Both stamp the heartbeat.
func (r *Registry) SetRunning(ctx context.Context, address string, running bool, pid int, now time.Time) error {
	address = store.CanonicalAddress(address)
	if !running {
		r.mu.Lock()
		delete(r.me, address)
		r.mu.Unlock()
		octx, cancel := r.op(ctx)
		defer cancel()
		if _, err := r.cli.Txn(octx).Then(clientv3.OpDelete(r.keys.agent(address)),
			clientv3.OpPut(r.keys.heartbeat(address), formatEpoch(now))).Commit(); err != nil {
			return fmt.Errorf("set running %s in registry %s: %w", address, r, err)
		}
		return nil
	}
	s, err := r.read(ctx, false)
	if err != nil {
		return fmt.Errorf("set running %s: %w", address, err)
	}
	if !s.has(address) {
		return fmt.Errorf("set running: %w %s in registry %s", store.ErrUnknownTarget, address, r)
	}
	host, _ := os.Hostname()
	v := agentValue{PID: pid, Host: host, Started: epoch(now), APIURL: r.cfg.APIURL}
	if err := r.putAlive(ctx, address, v, now); err != nil {
		return fmt.Errorf("set running %s in registry %s: %w", address, r, err)
	}
	r.mu.Lock()
	r.me[address] = v
	r.mu.Unlock()
	return nil
}

// SetAPIURL implements store.Registry: the URL lives on the running agent's
// liveness key, so it disappears with the agent; an agent not running has
// none to carry it.
func (r *Registry) SetAPIURL(ctx context.Context, address, url string) error {
	address = store.CanonicalAddress(address)
	r.mu.Lock()
	v, ok := r.me[address]
	if ok {
		v.APIURL = url
		r.me[address] = v
	}
	r.mu.Unlock()
	if !ok {
		s, err := r.read(ctx, false)
		if err != nil {
			return fmt.Errorf("set api url %s: %w", address, err)
		}
		if !s.has(address) {
			return fmt.Errorf("set api url: %w %s in registry %s", store.ErrUnknownTarget, address, r)
		}
		return nil
	}
	if err := r.putAlive(ctx, address, v, time.Now()); err != nil {
		return fmt.Errorf("set api url %s in registry %s: %w", address, r, err)
	}
	return nil
}

// Heartbeat implements store.Registry. The lease already proves liveness;
// the heartbeat key is the last sign of life, kept after the agent is gone
// (as the SQLite registry's heartbeat column) for `pmonitor agents`.
func (r *Registry) Heartbeat(ctx context.Context, address string, now time.Time) error {
	address = store.CanonicalAddress(address)
	return r.cas(ctx, "heartbeat", func(s snapshot) ([]clientv3.Op, error) {
		if !s.has(address) {
			return nil, fmt.Errorf("%w %s", store.ErrUnknownTarget, address)
		}
		return []clientv3.Op{clientv3.OpPut(r.keys.heartbeat(address), formatEpoch(now))}, nil
	})
}

// putAlive writes a liveness key with the session's lease, and the heartbeat.
func (r *Registry) putAlive(ctx context.Context, address string, v agentValue, now time.Time) error {
	s, err := r.ensureSession(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	octx, cancel := r.op(ctx)
	defer cancel()
	_, err = r.cli.Txn(octx).Then(
		clientv3.OpPut(r.keys.agent(address), string(b), clientv3.WithLease(s.Lease())),
		clientv3.OpPut(r.keys.heartbeat(address), formatEpoch(now)),
	).Commit()
	return err
}

// ensureSession returns the live session, granting a lease first if needed.
// A session whose lease expired is ErrLeaseLost: the caller reopens the
// registry and registers again.
func (r *Registry) ensureSession(ctx context.Context) (*concurrency.Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session != nil {
		select {
		case <-r.session.Done():
			return nil, ErrLeaseLost
		default:
			return r.session, nil
		}
	}
	octx, cancel := r.op(ctx)
	defer cancel()
	ttl := int64((r.cfg.TTL + time.Second - 1) / time.Second)
	g, err := r.cli.Grant(octx, ttl)
	if err != nil {
		return nil, fmt.Errorf("grant lease: %w", err)
	}
	s, err := concurrency.NewSession(r.cli, concurrency.WithLease(g.ID), concurrency.WithTTL(int(ttl)),
		concurrency.WithContext(r.life))
	if err != nil {
		return nil, fmt.Errorf("keep lease alive: %w", err)
	}
	r.session = s
	return s, nil
}

// leaseLost reports whether this registry held a lease that expired.
func (r *Registry) leaseLost() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session == nil {
		return false
	}
	select {
	case <-r.session.Done():
		return r.life.Err() == nil
	default:
		return false
	}
}

func epoch(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func formatEpoch(t time.Time) string { return strconv.FormatFloat(epoch(t), 'f', 6, 64) }

func fromEpoch(s float64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	sec := int64(s)
	return time.Unix(sec, int64((s-float64(sec))*1e9))
}
