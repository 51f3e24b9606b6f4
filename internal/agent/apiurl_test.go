package agent

import (
	"context"
	"testing"
	"time"
)

// The agent advertises its API URL in the registry while it runs and clears
// it on a clean stop (serve's /api/v1/sd lists agents by it).
func TestAgentAdvertisesAPIURL(t *testing.T) {
	const url = "http://127.0.0.1:9310"
	ta := startAgent(t, "10.0.0.1", targets("10.0.0.1", "10.0.0.2"), func(c *Config) { c.APIURL = url })
	ta.awaitSQL(t, `SELECT COUNT(*) FROM targets WHERE total_count > 0`, 1)
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		me, err := ta.reg.Lookup(ctx, "10.0.0.1")
		if err == nil && me.APIURL == url {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry row = %+v, %v; want api url %s", me, err, url)
		}
		<-ta.prober.sends
	}
	if err := ta.stop(t); err != nil {
		t.Fatal(err)
	}
	if me, _ := ta.reg.Lookup(ctx, "10.0.0.1"); me.APIURL != "" {
		t.Errorf("api url %q still advertised after a clean stop", me.APIURL)
	}
}
