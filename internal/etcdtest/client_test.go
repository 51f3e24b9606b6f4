package etcdtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/pmonitor/pmonitor/internal/emu"
	"github.com/pmonitor/pmonitor/internal/testenv"
)

// The test process lives in the root namespace and must never send to an
// emulated host from there: its own etcd client, health checks and
// pmonitor commands work from inside an emulated "client" host, and no
// link of the network is in the root namespace.

// dialFrom returns a dialer whose TCP sockets are created inside h's
// namespace (a socket keeps the namespace it was made in).
func dialFrom(h *emu.Host) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := h.Do(func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// runIn runs this test binary as pmonitor with args inside h's namespace
// and returns its output (stdout then stderr) and exit code.
func runIn(t *testing.T, h *emu.Host, args ...string) (string, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := h.Command(context.Background(), exe, args...)
	cmd.Env = append(cmd.Env, asPmonitor+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String() + errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("pmonitor %v in host %s: %v", args, h.Name(), err)
	}
	return out.String() + errb.String(), 0
}

// assertRootOffSegment fails t if the root namespace holds a link of the
// network (its bridges live in the network's switch namespace), so that
// nothing in the root namespace has a way onto the segment.
func assertRootOffSegment(t *testing.T, n *emu.Network) {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, n.Prefix()+"-") {
			t.Errorf("root namespace has link %s of the network", l.Attrs().Name)
		}
	}
}

// startIn starts this test binary as pmonitor with args inside h's
// namespace until the test ends; its output goes to out.
func startIn(t *testing.T, h *emu.Host, out *testenv.SyncBuffer, args ...string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := h.Command(context.Background(), exe, args...)
	cmd.Env = append(cmd.Env, asPmonitor+"=1")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("pmonitor %v:\n%s", args, out.String())
		}
	})
}

// getJSON fetches url with client into v.
func getJSON(client *http.Client, url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
