package cli

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/pmonitor/pmonitor/internal/resultapi"
)

// withWorkingDB adds GET /api/v1/working.db (a snapshot of the agent's
// working database, behind the optional bearer token) to the agent's API.
func withWorkingDB(agentAPI http.Handler, workingPath, token string, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(resultapi.Path, resultapi.Handler(workingPath, token, log))
	mux.Handle("/", agentAPI)
	return mux
}

// advertisedURL is the URL the agent publishes in the registry for its
// API: explicit, or the bound address, with the agent's own address in
// place of a wildcard host (0.0.0.0:9310 is reached at SRC_ADDRESS:9310).
func advertisedURL(explicit, bound string, self netip.Addr) (string, error) {
	if explicit != "" {
		if !strings.HasPrefix(explicit, "http://") && !strings.HasPrefix(explicit, "https://") {
			return "", usageErrorf("monitor: --advertise-url %q: want http://host:port", explicit)
		}
		return strings.TrimSuffix(explicit, "/"), nil
	}
	host, port, err := net.SplitHostPort(bound)
	if err != nil {
		return "", fmt.Errorf("monitor: listen address %s: %w", bound, err)
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = self.String()
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
