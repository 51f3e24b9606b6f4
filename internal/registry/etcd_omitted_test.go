//go:build pmonitor_omit_etcd

package registry

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmonitor/pmonitor/internal/store"
)

func TestWithoutEtcd(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "etcd://127.0.0.1:1/x", Options{}); err == nil || !strings.Contains(err.Error(), "built without etcd support") {
		t.Errorf("Open(etcd://...) = %v, want the build's refusal", err)
	}
	r, err := Create(ctx, filepath.Join(t.TempDir(), "master.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok := r.(*store.SQLiteRegistry); !ok {
		t.Errorf("Create(file) = %T", r)
	}
}
