package browsertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestHeavyBrowserStreamRecovers breaks the page's stream twice, as a
// restarting serve would: the first connection ends after two pushes (the
// browser retries by itself), the retry is refused with a 503 (the
// browser gives up, the page tries again); the indicator shows the trouble
// and comes back to "connected", and pushes flow again.
func TestHeavyBrowserStreamRecovers(t *testing.T) {
	f := newFixture(6)
	f.tick = 200 * time.Millisecond
	f.streams = []int{2, -503}
	url := f.serve(t)
	b := newBrowser(t)
	b.do("open", chromedp.Navigate(url+"/"))
	b.wait("page ready", `document.body.dataset.ready === '1'`)
	b.do("watch the indicator", chromedp.Evaluate[chromedp.Void](connStatesJS))
	b.wait("disconnected", `window.connStates.includes('error') && document.getElementById('conn').textContent === 'disconnected'`)
	b.wait("connected again", `document.getElementById('conn').dataset.state === 'open' && document.getElementById('conn').textContent === 'connected'`)
	f.mu.Lock()
	gen := f.gen
	f.mu.Unlock()
	b.wait("pushes again", fmt.Sprintf(`Number(document.getElementById('foot-time').textContent.match(/generation (\d+)/)?.[1] ?? 0) > %d`, gen))
	t.Logf("indicator states: %v", eval[[]string](b, `window.connStates`))
	// The refused stream logs a failed load: expected here, nothing else.
	b.mu.Lock()
	var other []string
	for _, e := range b.errors {
		if !strings.Contains(e, "api/v1/stream") {
			other = append(other, e)
		}
	}
	b.errors = other
	b.mu.Unlock()
	b.noErrors()
}
