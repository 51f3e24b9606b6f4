# pmonitor developer targets. `make test` is the command CI runs (.ci/run).
GO        ?= go
PKGS      ?= ./...
BIN       ?= bin/pmonitor
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build test test-short lint bench bench-probe bench-agent bench-mesh bench-etcd demo clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/pmonitor

# The heavy tests (hundreds of agents, meshes of emulated hosts) without the
# race detector, then the full suite with it. Tests that need root
# (namespaces, raw sockets) or Debian packages (fping, mininet) skip with a
# message otherwise.
test:
	PMONITOR_HEAVY_TESTS=1 $(GO) test -count=1 -timeout 20m -run Heavy $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

# Micro-benchmarks of the store and the probe engine.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Benchmarks that print figures (root; see README "Measured").
bench-probe:
	$(GO) run ./tools/benchprobe -n 50000 -runs 5

bench-agent:
	$(GO) run ./tools/benchagent -n 10000 -interval 1s -for 60s

bench-mesh:
	$(GO) run ./tools/benchmesh -nodes 100 -interval 10s

bench-etcd:
	$(GO) run ./tools/benchetcd -agents 200 -edits 20 -idle 30s

demo: build
	$(BIN) demo

clean:
	rm -rf bin
