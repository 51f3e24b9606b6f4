package store

import (
	"context"
	"errors"
	"time"
)

// ErrUnknownTarget reports an address that the registry does not hold.
var ErrUnknownTarget = errors.New("unknown target")

// ErrDuplicateTarget reports an address that the registry already holds.
var ErrDuplicateTarget = errors.New("duplicate target")

// ErrRegistryGone reports that the registry was deleted or replaced while
// open: close it and open it again.
var ErrRegistryGone = errors.New("registry file deleted or replaced")

// Target is one registry row: a node address and what the orchestrator says
// about its agent.
type Target struct {
	Address   string
	Name      string
	Stable    bool      // expected always reachable (a satellite) or not (a ground station)
	Run       bool      // may this node's agent run?
	Running   bool      // is this node's agent running?
	Heartbeat time.Time // last sign of life of the running agent; zero if none
	PID       int       // process id of the agent that set running
	APIURL    string    // the running agent's HTTP API (http://host:port); "" when it has none
}

// Registry is the shared list of targets and the control flags of the
// agents. The SQLite implementation is the default; a distributed backend
// implements the same interface, and storetest runs one conformance suite
// against every implementation.
//
// Implementations are safe for concurrent use.
type Registry interface {
	// Targets returns every target in registry (insertion) order.
	Targets(ctx context.Context) ([]Target, error)
	// Lookup returns the target with that address, or ErrUnknownTarget.
	Lookup(ctx context.Context, address string) (Target, error)
	// Replace makes the registry hold exactly targets, in that order, in one
	// transaction: on error nothing changes.
	Replace(ctx context.Context, targets []Target) error
	// Add appends targets; an address already present is ErrDuplicateTarget
	// and nothing is added.
	Add(ctx context.Context, targets ...Target) error
	// Remove deletes the targets with these addresses; an unknown one is
	// ErrUnknownTarget and nothing is removed.
	Remove(ctx context.Context, addresses ...string) error
	// SetRun sets the run flag (false asks the agent to stop).
	SetRun(ctx context.Context, address string, run bool) error
	// SetRunning records whether the agent at address runs, with its pid,
	// at now (the agent's clock); it also sets the heartbeat to now.
	SetRunning(ctx context.Context, address string, running bool, pid int, now time.Time) error
	// SetAPIURL records where the agent at address serves its HTTP API
	// ("" clears it); dashboards and Prometheus service discovery read it.
	SetAPIURL(ctx context.Context, address, url string) error
	// Heartbeat refreshes the running agent's sign of life.
	Heartbeat(ctx context.Context, address string, now time.Time) error
	// Changed reports cheaply whether the registry may have changed since
	// the previous call (the first call reports true). Writes made through
	// this same Registry do not count.
	Changed(ctx context.Context) (bool, error)
	// Close releases the registry.
	Close() error
}
