package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pmonitor/pmonitor/internal/store"
)

// watchGrace is how long a broken watch may retry before Changed reports
// it: a leader election after a member died takes about a second and must
// not make every agent reconnect.
const watchGrace = 3 * time.Second

var _ store.Notifier = (*Registry)(nil)

// watchState is what the watch goroutine tells Changed. Changed only reads
// it under a mutex: it costs no request.
type watchState struct {
	notify  chan struct{} // capacity 1: one pending wake-up is enough
	created chan struct{} // closed when the first watch is in place

	createdOnce sync.Once
	mu          sync.Mutex
	dirty       bool
	err         error // the watch's last failure, nil while it works
	errSince    time.Time
}

func newWatchState() *watchState {
	return &watchState{notify: make(chan struct{}, 1), created: make(chan struct{}), dirty: true}
}

// setCreated records that the watch is in place: every later change is seen.
func (w *watchState) setCreated() { w.createdOnce.Do(func() { close(w.created) }) }

// lastErr returns the watch's last failure.
func (w *watchState) lastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *watchState) mark() {
	w.mu.Lock()
	w.dirty = true
	w.err = nil
	w.mu.Unlock()
	w.wake()
}

func (w *watchState) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *watchState) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.errSince = time.Now()
	}
	w.err = err
	w.mu.Unlock()
	w.wake()
}

func (w *watchState) ok() {
	w.mu.Lock()
	w.err = nil
	w.mu.Unlock()
}

// Changes implements store.Notifier with etcd's watch: the channel
// receives a value soon after a target or run flag changes, and when the
// watch breaks; the agent then calls Changed. Writes to liveness and
// heartbeat keys do not wake it. The first call starts the watch at once,
// so that an edit made soon after an agent started wakes it too (not only
// its safety poll).
func (r *Registry) Changes() (<-chan struct{}, error) {
	return r.watcher().notify, nil
}

// watcher returns the watch state, starting the watch on first use.
func (r *Registry) watcher() *watchState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.watch == nil {
		r.watch = newWatchState()
		r.wg.Add(1)
		go r.watchLoop(r.watch, 0)
	}
	return r.watch
}

// Changed implements store.Registry from the watch: the first call waits
// until the watch is in place (at most OpTimeout; an unreachable cluster is
// an error) and reports a change, so the caller's read that follows misses
// nothing; later calls only read what the watch recorded. An expired lease
// (ErrLeaseLost) or a watch broken for longer than watchGrace is an error:
// the agent reopens the registry, registers again and re-reads everything.
func (r *Registry) Changed(ctx context.Context) (bool, error) {
	w := r.watcher()
	select {
	case <-w.created:
	default:
		octx, cancel := r.op(ctx)
		defer cancel()
		select {
		case <-w.created:
		case <-octx.Done():
			err := w.lastErr()
			if err == nil {
				err = octx.Err()
			}
			return false, fmt.Errorf("watch registry %s: %w", r, err)
		}
	}
	if r.leaseLost() {
		return false, fmt.Errorf("registry %s: %w", r, ErrLeaseLost)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil && time.Since(w.errSince) > watchGrace {
		return false, fmt.Errorf("watch registry %s: %w", r, w.err)
	}
	ch := w.dirty
	w.dirty = false
	return ch, nil
}

// watchLoop follows PREFIX/run/ up to PREFIX/targets (the run flags and the
// list; see README.md) from revision rev (0: from now) until Close. A watch
// that ends is resumed from the revision after the last one seen; a
// compacted revision cannot be resumed, so everything is marked changed (a
// full re-read) and the watch restarts from the current revision.
func (r *Registry) watchLoop(w *watchState, rev int64) {
	defer r.wg.Done()
	backoff := 100 * time.Millisecond
	for r.life.Err() == nil {
		ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(r.life))
		opts := []clientv3.OpOption{clientv3.WithRange(r.keys.targets() + "\x00"), clientv3.WithCreatedNotify()}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		wch := r.cli.Watch(ctx, r.keys.runDir(), opts...)
		for resp := range wch {
			if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
				next, err := r.currentRev()
				if err != nil {
					w.fail(err)
					break
				}
				rev = next
				w.mark()
				break
			}
			if err := resp.Err(); err != nil {
				w.fail(err)
				break
			}
			backoff = 100 * time.Millisecond
			if resp.Created || resp.IsProgressNotify() {
				if resp.Created && rev == 0 {
					// Watching from now: the creation's revision is the
					// last one this watch does not report.
					rev = resp.Header.Revision + 1
				}
				if resp.Created {
					w.setCreated()
				}
				w.ok()
				continue
			}
			rev = resp.Header.Revision + 1
			if len(resp.Events) > 0 {
				w.mark()
			} else {
				w.ok()
			}
		}
		cancel()
		select {
		case <-r.life.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// currentRev returns the revision after the store's current one.
func (r *Registry) currentRev() (int64, error) {
	ctx, cancel := r.op(r.life)
	defer cancel()
	resp, err := r.cli.Get(ctx, r.keys.targets(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision + 1, nil
}
