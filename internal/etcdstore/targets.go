package etcdstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pmonitor/pmonitor/internal/store"
)

// maxTxnOps is etcd's default --max-txn-ops: a transaction with more
// operations is refused. Only run flags set to false cost an operation each
// (the target list is one key), so the bound is about stopped targets.
const maxTxnOps = 128

// casRetries bounds the compare-and-swap loop of Add, Remove and SetRun
// against concurrent writers.
const casRetries = 20

// entry is one target in the list key; the order of the JSON array is the
// registry order.
type entry struct {
	Address string `json:"address"`
	Name    string `json:"name"`
	Stable  bool   `json:"stable"`
}

// snapshot is the registry read at one revision.
type snapshot struct {
	rev     int64 // revision of the read
	listRev int64 // mod revision of the list key, 0 if absent
	list    []entry
	stopped map[string]bool       // addresses whose run key says false
	runKeys map[string]bool       // addresses that have a run key at all
	agents  map[string]agentValue // live agents (liveness keys)
	beats   map[string]time.Time  // last heartbeats
}

// parseRun reads a run flag the way SQL would: false, 0, no, off (any
// case) stop the agent; anything else, or no key, lets it run.
func parseRun(v []byte) bool {
	switch strings.ToLower(strings.TrimSpace(string(v))) {
	case "false", "0", "no", "off", "f":
		return false
	}
	return true
}

// read fetches the list and the run flags (and the liveness keys if
// withAgents) in one transaction, so at one revision.
func (r *Registry) read(ctx context.Context, withAgents bool) (snapshot, error) {
	ctx, cancel := r.op(ctx)
	defer cancel()
	ops := []clientv3.Op{
		clientv3.OpGet(r.keys.targets()),
		clientv3.OpGet(r.keys.runDir(), clientv3.WithPrefix()),
	}
	if withAgents {
		ops = append(ops, clientv3.OpGet(r.keys.agentDir(), clientv3.WithPrefix()),
			clientv3.OpGet(r.keys.heartbeatDir(), clientv3.WithPrefix()))
	}
	resp, err := r.cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return snapshot{}, fmt.Errorf("read registry %s: %w", r, err)
	}
	s := snapshot{rev: resp.Header.Revision, stopped: map[string]bool{}, runKeys: map[string]bool{}}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		s.listRev = kvs[0].ModRevision
		if err := json.Unmarshal(kvs[0].Value, &s.list); err != nil {
			return snapshot{}, fmt.Errorf("read registry %s: key %s: %w", r, r.keys.targets(), err)
		}
	}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		a := strings.TrimPrefix(string(kv.Key), r.keys.runDir())
		s.runKeys[a] = true
		if !parseRun(kv.Value) {
			s.stopped[a] = true
		}
	}
	if withAgents {
		s.agents = map[string]agentValue{}
		for _, kv := range resp.Responses[2].GetResponseRange().Kvs {
			var v agentValue
			if json.Unmarshal(kv.Value, &v) == nil {
				s.agents[strings.TrimPrefix(string(kv.Key), r.keys.agentDir())] = v
			}
		}
		s.beats = map[string]time.Time{}
		for _, kv := range resp.Responses[3].GetResponseRange().Kvs {
			if f, err := strconv.ParseFloat(string(kv.Value), 64); err == nil {
				s.beats[strings.TrimPrefix(string(kv.Key), r.keys.heartbeatDir())] = fromEpoch(f)
			}
		}
	}
	return s, nil
}

func (s snapshot) targets() []store.Target {
	ts := make([]store.Target, 0, len(s.list))
	for _, e := range s.list {
		t := store.Target{Address: e.Address, Name: e.Name, Stable: e.Stable, Run: !s.stopped[e.Address]}
		if v, ok := s.agents[e.Address]; ok {
			t.Running, t.PID, t.APIURL = true, v.PID, v.APIURL
		}
		t.Heartbeat = s.beats[e.Address]
		ts = append(ts, t)
	}
	return ts
}

func (s snapshot) has(address string) bool {
	for _, e := range s.list {
		if e.Address == address {
			return true
		}
	}
	return false
}

// Targets implements store.Registry. Running is true while the agent's
// liveness key exists, that is while its lease lives.
func (r *Registry) Targets(ctx context.Context) ([]store.Target, error) {
	s, err := r.read(ctx, true)
	if err != nil {
		return nil, err
	}
	return s.targets(), nil
}

// Lookup implements store.Registry.
func (r *Registry) Lookup(ctx context.Context, address string) (store.Target, error) {
	address = store.CanonicalAddress(address)
	ts, err := r.Targets(ctx)
	if err != nil {
		return store.Target{}, err
	}
	for _, t := range ts {
		if t.Address == address {
			return t, nil
		}
	}
	return store.Target{}, fmt.Errorf("%w %s in registry %s", store.ErrUnknownTarget, address, r)
}

// encode checks targets (non-empty, unique addresses) and returns the list
// value and the run keys to write.
func encode(targets []store.Target, existing []entry) ([]byte, []entry, error) {
	seen := make(map[string]bool, len(existing)+len(targets))
	list := append([]entry(nil), existing...)
	for _, e := range existing {
		seen[e.Address] = true
	}
	for _, t := range targets {
		// One spelling per address, as the SQLite registry stores it.
		t.Address = store.CanonicalAddress(t.Address)
		if t.Address == "" || strings.ContainsAny(t.Address, "/ \t\n") {
			return nil, nil, fmt.Errorf("invalid target address %q", t.Address)
		}
		if seen[t.Address] {
			return nil, nil, fmt.Errorf("%w %s", store.ErrDuplicateTarget, t.Address)
		}
		seen[t.Address] = true
		list = append(list, entry{Address: t.Address, Name: t.Name, Stable: t.Stable})
	}
	b, err := json.Marshal(list)
	return b, list, err
}

// Replace implements store.Registry: the list and every run flag change in
// one transaction. The liveness keys of running agents whose addresses stay
// are kept; those of removed addresses go with them, as their rows do in
// the SQLite registry.
func (r *Registry) Replace(ctx context.Context, targets []store.Target) error {
	return r.cas(ctx, "replace targets", func(s snapshot) ([]clientv3.Op, error) {
		val, list, err := encode(targets, nil)
		if err != nil {
			return nil, err
		}
		ops := []clientv3.Op{
			clientv3.OpPut(r.keys.targets(), string(val)),
			clientv3.OpDelete(r.keys.runDir(), clientv3.WithPrefix()),
		}
		for _, t := range targets {
			if !t.Run {
				ops = append(ops, clientv3.OpPut(r.keys.run(store.CanonicalAddress(t.Address)), "false"))
			}
		}
		keep := make(map[string]bool, len(list))
		for _, e := range list {
			keep[e.Address] = true
		}
		for _, e := range s.list {
			if !keep[e.Address] {
				ops = append(ops, r.forget(e.Address)...)
			}
		}
		return ops, nil
	})
}

// forget deletes what the registry knows of an address's agent.
func (r *Registry) forget(address string) []clientv3.Op {
	return []clientv3.Op{clientv3.OpDelete(r.keys.agent(address)), clientv3.OpDelete(r.keys.heartbeat(address))}
}

// Add implements store.Registry with a compare-and-swap on the list key.
func (r *Registry) Add(ctx context.Context, targets ...store.Target) error {
	return r.cas(ctx, "add targets", func(s snapshot) ([]clientv3.Op, error) {
		val, _, err := encode(targets, s.list)
		if err != nil {
			return nil, err
		}
		ops := []clientv3.Op{clientv3.OpPut(r.keys.targets(), string(val))}
		for _, t := range targets {
			switch {
			case !t.Run:
				ops = append(ops, clientv3.OpPut(r.keys.run(store.CanonicalAddress(t.Address)), "false"))
			case s.runKeys[store.CanonicalAddress(t.Address)]: // left over from an earlier target
				ops = append(ops, clientv3.OpDelete(r.keys.run(store.CanonicalAddress(t.Address))))
			}
		}
		return ops, nil
	})
}

// Remove implements store.Registry with a compare-and-swap on the list key.
func (r *Registry) Remove(ctx context.Context, addresses ...string) error {
	addresses = slices.Clone(addresses)
	for i, a := range addresses {
		addresses[i] = store.CanonicalAddress(a)
	}
	return r.cas(ctx, "remove targets", func(s snapshot) ([]clientv3.Op, error) {
		gone := make(map[string]bool, len(addresses))
		for _, a := range addresses {
			if !s.has(a) {
				return nil, fmt.Errorf("%w %s", store.ErrUnknownTarget, a)
			}
			gone[a] = true
		}
		var keep []entry
		for _, e := range s.list {
			if !gone[e.Address] {
				keep = append(keep, e)
			}
		}
		val, err := json.Marshal(keep)
		if err != nil {
			return nil, err
		}
		ops := []clientv3.Op{clientv3.OpPut(r.keys.targets(), string(val))}
		for a := range gone {
			if s.runKeys[a] {
				ops = append(ops, clientv3.OpDelete(r.keys.run(a)))
			}
			ops = append(ops, r.forget(a)...)
		}
		return ops, nil
	})
}

// SetRun implements store.Registry. Orchestrators may equally run
// "etcdctl put PREFIX/run/ADDRESS false".
func (r *Registry) SetRun(ctx context.Context, address string, run bool) error {
	address = store.CanonicalAddress(address)
	return r.cas(ctx, "set run", func(s snapshot) ([]clientv3.Op, error) {
		if !s.has(address) {
			return nil, fmt.Errorf("%w %s", store.ErrUnknownTarget, address)
		}
		return []clientv3.Op{clientv3.OpPut(r.keys.run(address), strconv.FormatBool(run))}, nil
	})
}

// errConflict reports a compare-and-swap that lost against another writer.
var errConflict = errors.New("concurrent change")

// cas reads the registry, builds the writes with fn and commits them if the
// list key did not change meanwhile, retrying a few times if it did.
func (r *Registry) cas(ctx context.Context, what string, fn func(snapshot) ([]clientv3.Op, error)) error {
	for range casRetries {
		s, err := r.read(ctx, false)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		ops, err := fn(s)
		if err != nil {
			return fmt.Errorf("%s in registry %s: %w", what, r, err)
		}
		if len(ops) > maxTxnOps {
			return fmt.Errorf("%s in registry %s: %d writes, at most %d in one etcd transaction", what, r, len(ops), maxTxnOps)
		}
		octx, cancel := r.op(ctx)
		resp, err := r.cli.Txn(octx).
			If(clientv3.Compare(clientv3.ModRevision(r.keys.targets()), "=", s.listRev)).
			Then(ops...).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("%s in registry %s: %w", what, r, err)
		}
		if resp.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("%s in registry %s: %w", what, r, errConflict)
}
