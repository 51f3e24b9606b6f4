# pmonitor developer targets. `make test` is the command CI runs (.ci/run).
GO        ?= go
PKGS      ?= ./...
BIN       ?= bin/pmonitor
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build build-emulation test test-short lint bench bench-probe bench-agent bench-mesh bench-mesh-250 bench-idle bench-serve bench-etcd demo clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/pmonitor

# The agent for emulations (one file registry): no etcd client, 0.5 MB less
# heap per agent (README "Agents").
build-emulation:
	$(GO) build -tags pmonitor_omit_etcd -o $(BIN) ./cmd/pmonitor

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

# The scale figures of issue 11 (a quiet machine; the 1,000-node run takes
# about 5 minutes and 2 GB of kernel memory).
bench-mesh:
	$(GO) run ./tools/benchmesh -nodes 1000 -interval 30s

bench-mesh-250:
	$(GO) run ./tools/benchmesh -nodes 250 -interval 10s

bench-idle:
	$(GO) run ./tools/benchmesh -idle

bench-serve:
	$(GO) run ./tools/benchserve -mesh 250 -live 100 -clients 5 -for 60s

# Refresh the dashboard's vendored uPlot from the version pinned in
# tools/webvendor/package-lock.json (npm ci; the built file, its CSS and
# licence are committed, node_modules is not).
.PHONY: web-vendor
WEBVENDOR := tools/webvendor
VENDOR    := internal/web/static/vendor
web-vendor:
	cd $(WEBVENDOR) && npm ci --ignore-scripts --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp $(WEBVENDOR)/node_modules/uplot/dist/uPlot.iife.min.js $(VENDOR)/uPlot.iife.min.js
	cp $(WEBVENDOR)/node_modules/uplot/dist/uPlot.min.css $(VENDOR)/uPlot.min.css
	cp $(WEBVENDOR)/node_modules/uplot/LICENSE $(VENDOR)/uPlot.LICENSE
	printf 'uplot %s from npm (tools/webvendor/package-lock.json), refreshed by make web-vendor\n' \
		"$$(node -p 'require("./$(WEBVENDOR)/node_modules/uplot/package.json").version')" > $(VENDOR)/VERSION

bench-etcd:
	$(GO) run ./tools/benchetcd -agents 200 -edits 20 -idle 30s

demo: build
	$(BIN) demo

clean:
	rm -rf bin
