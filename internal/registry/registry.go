// Package registry opens the registry a command names by MASTER_DB: a
// SQLite file path (the embedded default, one machine) or an etcd URL
// etcd://host:port[,host:port...]/PREFIX (agents on several machines). Every
// command opens it through Open or Create, so they all accept both.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/pmonitor/pmonitor/internal/store"
)

// Options are the connection settings of an etcd registry; a SQLite
// registry ignores them. The names follow etcdctl.
type Options struct {
	CACert   string // --etcd-cacert: verify the members' certificates with this CA bundle
	Cert     string // --etcd-cert: client certificate
	Key      string // --etcd-key: its key
	User     string // --etcd-user: "user:password", or "user" with Password
	Password string // --etcd-password

	TTL    time.Duration // agent liveness lease; 0 takes etcdstore's default
	APIURL string        // advertised by a running agent (monitor --listen)
	Logger *slog.Logger
}

// IsEtcd reports whether spec names an etcd registry.
func IsEtcd(spec string) bool { return strings.HasPrefix(spec, "etcd://") }

// Open opens the existing registry spec. A SQLite file must exist.
func Open(ctx context.Context, spec string, o Options) (store.Registry, error) {
	if IsEtcd(spec) {
		return openEtcd(ctx, spec, o)
	}
	return store.OpenRegistry(ctx, spec)
}

// Create opens the registry spec, creating a SQLite file if needed (an
// etcd prefix needs no creation).
func Create(ctx context.Context, spec string, o Options) (store.Registry, error) {
	if IsEtcd(spec) {
		return openEtcd(ctx, spec, o)
	}
	return store.CreateRegistry(ctx, spec)
}

// tlsConfig builds the client TLS settings; nil when no TLS flag is set.
func (o Options) tlsConfig() (*tls.Config, error) {
	if o.CACert == "" && o.Cert == "" && o.Key == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CACert != "" {
		pem, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, fmt.Errorf("etcd CA certificate: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd CA certificate %s: no PEM certificate", o.CACert)
		}
	}
	if (o.Cert == "") != (o.Key == "") {
		return nil, errors.New("etcd client certificate: --etcd-cert and --etcd-key go together")
	}
	if o.Cert != "" {
		kp, err := tls.LoadX509KeyPair(o.Cert, o.Key)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{kp}
	}
	return c, nil
}

// APIURLs returns where the running agents serve their API (and their
// working databases), by agent address: the SQLite registry's api_url
// column, or the agents' liveness keys in etcd.
func APIURLs(ctx context.Context, reg store.Registry) (map[string]string, error) {
	ts, err := reg.Targets(ctx)
	if err != nil {
		return nil, err
	}
	return APIURLsOf(ts), nil
}

// APIURLsOf is APIURLs over targets already read (store.ReadRegistry reads
// a SQLite registry without opening it for writing).
func APIURLsOf(ts []store.Target) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		if t.Running && t.APIURL != "" {
			m[t.Address] = t.APIURL
		}
	}
	return m
}
