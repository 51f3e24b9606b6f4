// Package etcdstore is the store.Registry kept in etcd, for agents on
// different machines that cannot share a SQLite file. etcd carries only the
// registry (small metadata); results stay in each agent's working database.
//
// The key layout is documented in README.md next to this file. In short,
// under PREFIX: one key "targets" holds the whole list in insertion order,
// "run/ADDRESS" holds a run flag an orchestrator may set with etcdctl, and
// "agents/ADDRESS" exists while the agent at ADDRESS lives (it is put with
// the agent's lease).
package etcdstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/pmonitor/pmonitor/internal/store"
)

// Scheme is the URL scheme that selects this registry: etcd://host:port[,host:port...]/PREFIX.
const Scheme = "etcd"

// DefaultPrefix is used when the URL has no path.
const DefaultPrefix = "/pmonitor"

// ErrLeaseLost reports that the agent's lease expired (etcd was unreachable
// for longer than its TTL): its liveness key is gone; reopen and register again.
var ErrLeaseLost = errors.New("etcd lease lost")

// Config describes how to reach the cluster.
type Config struct {
	Endpoints []string // host:port of the members
	Prefix    string   // every key lives under it; default DefaultPrefix

	TLS                *tls.Config // nil: plain TCP
	Username, Password string      // optional etcd authentication

	TTL       time.Duration // lease of the agent's liveness key; default 10s, at least 2s
	OpTimeout time.Duration // bound of one request; default 5s
	APIURL    string        // advertised in the agent's liveness key (its --listen URL)

	// Dial, when set, opens the client's TCP connections to the members
	// (addr is host:port), for instance from inside a network namespace;
	// nil dials as net.Dialer does.
	Dial func(ctx context.Context, addr string) (net.Conn, error)

	Logger *slog.Logger
}

// IsURL reports whether s names an etcd registry rather than a SQLite file.
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme+"://") }

// ParseURL splits etcd://host:port[,host:port...]/PREFIX into endpoints and
// a key prefix (without trailing slash, DefaultPrefix when empty).
func ParseURL(s string) (endpoints []string, prefix string, err error) {
	if !IsURL(s) {
		return nil, "", fmt.Errorf("registry URL %q: want etcd://host:port[,host:port...]/PREFIX", s)
	}
	rest := strings.TrimPrefix(s, Scheme+"://")
	hosts, path, _ := strings.Cut(rest, "/")
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		u, err := url.Parse("//" + h)
		if err != nil || u.Host != h || u.Port() == "" {
			return nil, "", fmt.Errorf("registry URL %q: endpoint %q is not host:port", s, h)
		}
		endpoints = append(endpoints, h)
	}
	if len(endpoints) == 0 {
		return nil, "", fmt.Errorf("registry URL %q: no endpoint", s)
	}
	prefix = "/" + strings.Trim(path, "/")
	if prefix == "/" {
		prefix = DefaultPrefix
	}
	return endpoints, prefix, nil
}

// Registry is the store.Registry in etcd. It is safe for concurrent use.
type Registry struct {
	cfg  Config
	cli  *clientv3.Client
	keys keys
	log  *slog.Logger

	life   context.Context // ends at Close: the watch and the lease keep-alive
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	session *concurrency.Session // nil until an agent registers
	me      map[string]agentValue
	watch   *watchState // nil until Notify or the first Changed
}

var _ store.Registry = (*Registry)(nil)

// Open connects to the cluster. Without authentication it does not wait
// for it: the first request reports an unreachable cluster. With a user it
// authenticates first, so an unreachable cluster fails Open after
// OpTimeout. Either way an agent then starts on its cached list.
func Open(ctx context.Context, cfg Config) (*Registry, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd registry: no endpoints")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.Prefix = "/" + strings.Trim(cfg.Prefix, "/")
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Second
	}
	cfg.TTL = max(cfg.TTL, 2*time.Second) // etcd's smallest lease with default election timeouts
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var dialOpts []grpc.DialOption
	if cfg.Dial != nil {
		dialOpts = append(dialOpts, grpc.WithContextDialer(cfg.Dial))
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.OpTimeout,
		// gRPC keep-alives notice a silently dropped connection (a
		// partition) in seconds rather than at the TCP timeout; etcd
		// refuses pings more often than every 5 s (too_many_pings).
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		TLS:                  cfg.TLS,
		Username:             cfg.Username,
		Password:             cfg.Password,
		Logger:               zap.NewNop(),
		Context:              context.WithoutCancel(ctx),
		DialOptions:          dialOpts,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd registry %s: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &Registry{
		cfg: cfg, cli: cli, keys: keys{cfg.Prefix}, log: cfg.Logger,
		life: life, cancel: cancel, me: map[string]agentValue{},
	}, nil
}

// Client exposes the etcd client for tools and tests.
func (r *Registry) Client() *clientv3.Client { return r.cli }

// String names the registry in messages: etcd://endpoints/prefix.
func (r *Registry) String() string {
	return Scheme + "://" + strings.Join(r.cfg.Endpoints, ",") + r.cfg.Prefix
}

// op bounds one request.
func (r *Registry) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.OpTimeout)
}

// Close stops the watch, revokes the lease (its liveness keys disappear at
// once; if etcd is unreachable they expire with the TTL) and disconnects.
func (r *Registry) Close() error {
	r.cancel()
	r.mu.Lock()
	s := r.session
	r.session = nil
	r.mu.Unlock()
	if s != nil {
		s.Orphan()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r.cli.Revoke(ctx, s.Lease())
		cancel()
	}
	r.wg.Wait()
	return r.cli.Close()
}

// keys builds the key names; see README.md.
type keys struct{ prefix string }

func (k keys) targets() string             { return k.prefix + "/targets" }
func (k keys) runDir() string              { return k.prefix + "/run/" }
func (k keys) run(address string) string   { return k.runDir() + address }
func (k keys) agentDir() string            { return k.prefix + "/agents/" }
func (k keys) agent(address string) string { return k.agentDir() + address }
func (k keys) heartbeatDir() string        { return k.prefix + "/heartbeat/" }
func (k keys) heartbeat(address string) string {
	return k.heartbeatDir() + address
}
