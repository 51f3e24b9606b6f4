//go:build !pmonitor_omit_etcd

package registry

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmonitor/pmonitor/internal/etcdstore"
	"github.com/pmonitor/pmonitor/internal/store"
)

func TestOpenSelectsBackend(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.db")
	if _, err := Open(ctx, path, Options{}); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("Open of a missing SQLite file: %v, want ErrNotExist", err)
	}
	r, err := Create(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*store.SQLiteRegistry); !ok {
		t.Errorf("Create(%s) = %T", path, r)
	}
	r.Close()
	r, err = Open(ctx, "etcd://127.0.0.1:1/x", Options{}) // no connection until used (without auth)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*etcdstore.Registry); !ok {
		t.Errorf("Open(etcd://...) = %T", r)
	}
	r.Close()
}

func TestTLSOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Cert: "c.pem"}, "--etcd-cert and --etcd-key go together"},
		{Options{CACert: filepath.Join(dir, "none.pem")}, "etcd CA certificate: open"},
		{Options{Cert: filepath.Join(dir, "c.pem"), Key: filepath.Join(dir, "k.pem")}, "etcd client certificate: open"},
	} {
		_, err := tc.o.tlsConfig()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tlsConfig(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
	if c, err := (Options{}).tlsConfig(); c != nil || err != nil {
		t.Errorf("no TLS flags: %v, %v", c, err)
	}
}

// TestIsEtcdAgreesWithEtcdstore: IsEtcd does not import etcdstore (builds
// without etcd support still recognise the URLs), so it must agree with it.
func TestIsEtcdAgreesWithEtcdstore(t *testing.T) {
	for _, s := range []string{"etcd://127.0.0.1:2379/p", "etcd://h:1,h:2", "master.db", "./etcd:/x", "ETCD://h/p", "", "etcd:/x"} {
		if got, want := IsEtcd(s), etcdstore.IsURL(s); got != want {
			t.Errorf("IsEtcd(%q) = %v, etcdstore.IsURL = %v", s, got, want)
		}
	}
}
