package etcdtest_test

import (
	"os"
	"testing"

	"github.com/pmonitor/pmonitor/internal/cli"
	"github.com/pmonitor/pmonitor/internal/emu"
)

// asPmonitor makes this test binary act as pmonitor: the agents of the
// cluster tests are this binary, started inside emulated hosts.
const asPmonitor = "PMONITOR_ETCDTEST_AS_PMONITOR"

func TestMain(m *testing.M) {
	emu.MaybeReexec()
	if os.Getenv(asPmonitor) != "" {
		os.Exit(cli.Main())
	}
	os.Exit(m.Run())
}
