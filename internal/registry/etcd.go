//go:build !pmonitor_omit_etcd

package registry

import (
	"context"
	"strings"

	"github.com/pmonitor/pmonitor/internal/etcdstore"
	"github.com/pmonitor/pmonitor/internal/store"
)

// openEtcd opens the etcd registry that spec names.
func openEtcd(ctx context.Context, spec string, o Options) (store.Registry, error) {
	eps, prefix, err := etcdstore.ParseURL(spec)
	if err != nil {
		return nil, err
	}
	cfg := etcdstore.Config{Endpoints: eps, Prefix: prefix, TTL: o.TTL, APIURL: o.APIURL, Logger: o.Logger}
	if cfg.TLS, err = o.tlsConfig(); err != nil {
		return nil, err
	}
	cfg.Username, cfg.Password = o.User, o.Password
	if u, p, ok := strings.Cut(o.User, ":"); ok {
		cfg.Username, cfg.Password = u, p
	}
	return etcdstore.Open(ctx, cfg)
}
