//go:build pmonitor_omit_etcd

package registry

import (
	"context"
	"errors"

	"github.com/pmonitor/pmonitor/internal/store"
)

// openEtcd refuses: this build (-tags pmonitor_omit_etcd, for emulations
// whose agents share one file registry) has no etcd client, whose protobuf
// and gRPC tables would cost every agent 0.5 MB of heap.
func openEtcd(context.Context, string, Options) (store.Registry, error) {
	return nil, errors.New("etcd registry: this pmonitor was built without etcd support (-tags pmonitor_omit_etcd)")
}
