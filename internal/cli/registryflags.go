package cli

import (
	"context"
	"os"

	"github.com/pmonitor/pmonitor/internal/registry"
	"github.com/pmonitor/pmonitor/internal/store"
)

// registryFlags are the connection flags of an etcd MASTER_DB
// (etcd://host:port[,host:port...]/PREFIX), named as etcdctl names them and
// defaulting, as etcdctl does, to ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY,
// ETCDCTL_USER ("user:password") and ETCDCTL_PASSWORD. A SQLite MASTER_DB
// ignores them.
type registryFlags struct {
	cacert, cert, key, user, password *string
	opts                              registry.Options // TTL, APIURL: set by monitor
}

func addRegistryFlags(fs *flagSet) *registryFlags {
	return &registryFlags{
		cacert:   fs.String("etcd-cacert", os.Getenv("ETCDCTL_CACERT"), "etcd MASTER_DB: CA bundle that signs the members' certificates (TLS)"),
		cert:     fs.String("etcd-cert", os.Getenv("ETCDCTL_CERT"), "etcd MASTER_DB: client certificate (TLS)"),
		key:      fs.String("etcd-key", os.Getenv("ETCDCTL_KEY"), "etcd MASTER_DB: client certificate key (TLS)"),
		user:     fs.String("etcd-user", os.Getenv("ETCDCTL_USER"), `etcd MASTER_DB: "user:password" or "user" (then --etcd-password)`),
		password: fs.String("etcd-password", os.Getenv("ETCDCTL_PASSWORD"), "etcd MASTER_DB: password of --etcd-user"),
	}
}

func (rf *registryFlags) options() registry.Options {
	o := rf.opts
	o.CACert, o.Cert, o.Key, o.User, o.Password = *rf.cacert, *rf.cert, *rf.key, *rf.user, *rf.password
	return o
}

// open opens the existing registry spec (a SQLite path or an etcd URL).
func (rf *registryFlags) open(ctx context.Context, spec string) (store.Registry, error) {
	return registry.Open(ctx, spec, rf.options())
}

// create opens the registry spec, creating a SQLite file if needed.
func (rf *registryFlags) create(ctx context.Context, spec string) (store.Registry, error) {
	return registry.Create(ctx, spec, rf.options())
}

// readTargets reads the registry's targets for a report: a SQLite file is
// read without being written, migrated or converted to WAL.
func (rf *registryFlags) readTargets(ctx context.Context, spec string) ([]store.Target, error) {
	if !registry.IsEtcd(spec) {
		return store.ReadRegistry(ctx, spec)
	}
	reg, err := rf.open(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	return reg.Targets(ctx)
}
