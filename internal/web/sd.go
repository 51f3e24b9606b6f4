package web

import (
	"net/http"
	"net/url"
)

// sdGroup is one target group of Prometheus' http_sd format.
type sdGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// sd lists the agents that advertise an HTTP API in the registry, for
// Prometheus' http_sd_configs.
func (s *Server) sd(w http.ResponseWriter, r *http.Request) {
	groups := []sdGroup{}
	for _, a := range s.svc.Agents() {
		if a.URL == nil {
			continue
		}
		u, err := url.Parse(*a.URL)
		if err != nil || u.Host == "" {
			continue
		}
		labels := map[string]string{"node": a.Name, "address": a.Address, "stable": boolText(a.Stable)}
		if u.Scheme == "https" {
			labels["__scheme__"] = "https"
		}
		groups = append(groups, sdGroup{Targets: []string{u.Host}, Labels: labels})
	}
	writeJSON(w, r, groups)
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
