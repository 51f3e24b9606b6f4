package resultapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Fetch downloads the working database served at base (an agent's
// advertised URL, e.g. http://10.0.0.1:9310) into dest, created with mode
// 0600. A partial download leaves no file behind.
func Fetch(ctx context.Context, client *http.Client, base, token, dest string) (int64, error) {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Minute}
	}
	u := strings.TrimSuffix(base, "/") + Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", u, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("fetch %s: %s", u, resp.Status)
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", u, err)
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
	}
	if err != nil {
		os.Remove(dest)
		return 0, fmt.Errorf("fetch %s: %w", u, err)
	}
	return n, nil
}
