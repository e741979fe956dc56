# meganode — `make devnet` runs a local devnet, `make test` runs every test.
GO      ?= go
BIN     := bin/meganode
E2E_NPM := e2e/node_modules/.installed
E2E_NODE := e2e/node22/node_modules/.installed
E2E_HH2  := e2e/hardhat2/node_modules/.installed

.PHONY: all build devnet test unit e2e e2e-race e2e-deps e2e-chromium check-deps vet bench clean gethdiff gethdiff-record status-screenshot fuzz contracts chaos soak

all: build

build:
	$(GO) build -o $(BIN) ./cmd/meganode

## devnet: build and run the devnet on 127.0.0.1:8545 (Ctrl-C stops it)
devnet: build
	./$(BIN) devnet --http.addr 127.0.0.1 --http.port 8545

## e2e-deps: install the clients the e2e tests drive from npm: Foundry,
## solcjs, ethers, viem, Hardhat 3 and a Hardhat 2 project's own. Node 22 comes first (node22/), and npm runs
## under it: Hardhat's native EDR package is skipped by npm under Node 20.
e2e-deps: $(E2E_NPM) $(E2E_HH2) e2e-chromium

## e2e-chromium: Debian's chromium, which drives the status page in
## e2e/TestStatusPage (installed with apt when missing; CI runs as root)
e2e-chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@chromium --version 2>/dev/null

$(E2E_NODE): e2e/node22/package.json e2e/node22/package-lock.json
	cd e2e/node22 && npm install --no-audit --no-fund --loglevel=error
	touch $@

$(E2E_NPM): e2e/package.json e2e/package-lock.json $(E2E_NODE)
	cd e2e && PATH="$(CURDIR)/e2e/node22/node_modules/.bin:$$PATH" npm install --no-audit --no-fund --loglevel=error
	touch $@

# A Hardhat 2 project has its own node_modules (Hardhat 2, its plugins and
# chai 4 cannot share Hardhat 3's).
$(E2E_HH2): e2e/hardhat2/package.json e2e/hardhat2/package-lock.json $(E2E_NODE)
	cd e2e/hardhat2 && PATH="$(CURDIR)/e2e/node22/node_modules/.bin:$$PATH" npm install --no-audit --no-fund --loglevel=error
	touch $@

## contracts: recompile the L1 contracts (contracts/src, and the L2's message
## passer) with solcjs into the committed contracts/artifacts; the contracts
## test fails when they differ from what the sources compile to
contracts: $(E2E_NPM)
	node contracts/build.js

## check-deps: enforce the package rules of DESIGN.md §3
check-deps:
	$(GO) run ./tools/checkdeps

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l . | grep -v node_modules)" || (echo "gofmt needed:"; gofmt -l . | grep -v node_modules; exit 1)

## unit: unit and golden tests with the race detector
unit:
	$(GO) test -race -count=1 ./chain/... ./storage/... ./sequencer/... ./rpc/... ./node/... ./bench/... ./p2p/... ./replica/... ./fullnode/... ./prover/... ./eigenda/... ./gateway/... ./contracts/... ./l1/... ./cmd/... ./tools/plot/...

## e2e: the built binary against Foundry, Hardhat, ethers and viem
e2e: e2e-deps
	$(GO) test -count=1 -timeout 10m ./e2e/...

## e2e-race: the e2e tests against a binary built with -race (a race report fails them;
## they take 370-560 s here, hence the longer timeout)
e2e-race: e2e-deps
	$(GO) build -race -o bin/meganode-race ./cmd/meganode
	MEGANODE_BIN=$(CURDIR)/bin/meganode-race $(GO) test -count=1 -timeout 15m ./e2e/...

## chaos: the long form of e2e/TestChaos (docs/operations.md, "Chaos testing"):
## every role killed, stopped, partitioned and wiped in turn under load
## through the gateway, CHAOS_ROUNDS times; `make e2e` runs the short form.
## CHAOS_RATE (tx/s), CHAOS_SENDERS, CHAOS_SUBS size the load; CHAOS_FAULTS /
## CHAOS_SKIP (regexps over fault names) pick faults.
CHAOS_ROUNDS ?= 10
chaos: build
	CHAOS_LONG=1 CHAOS_ROUNDS=$(CHAOS_ROUNDS) MEGANODE_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -v -run 'TestChaos$$' -timeout 60m ./e2e/

## soak: the long form of e2e/TestSoak (docs/operations.md, "Soak"): the chaos
## network for SOAK_DURATION (30m) after a 5 min warmup at SOAK_RATE (1000
## tx/s), RSS, goroutines, open files and the mini-block interval p99 of every
## process sampled each minute, their slopes reported and bounded; `make e2e`
## runs the short form. SOAK_JSON=file keeps the samples.
soak: build
	SOAK_LONG=1 MEGANODE_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -v -run 'TestSoak$$' -timeout 60m ./e2e/

## fuzz: run every native Go fuzz target (FuzzXxx) with -fuzz, one after the
## other, FUZZTIME each (default 30s; the long run is FUZZTIME=30m). FUZZ picks
## targets by regexp (FUZZ=FuzzServe), FUZZPARALLEL the workers (default: one
## per CPU). `make test` runs only their seed corpora (f.Add and
## testdata/fuzz/), as ordinary tests. A crasher is written to
## <pkg>/testdata/fuzz/<target>/: commit it with the fix as a regression seed.
FUZZTIME ?= 30s
FUZZ ?= ^Fuzz
FUZZPARALLEL ?=
FUZZ_PKGS := ./chain ./storage ./p2p ./eigenda ./rpc ./rpc/jsonrpc ./gateway
fuzz:
	@failed=""; for pkg in $(FUZZ_PKGS); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' | grep -E '$(FUZZ)'); do \
	    echo "fuzz: $$pkg $$t for $(FUZZTIME)"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $(if $(FUZZPARALLEL),-parallel $(FUZZPARALLEL)) || failed="$$failed $$pkg:$$t"; \
	  done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi; echo "fuzz: no target failed"

## geth: go-ethereum v1.17.5 for the differential test, built once into bin/
GETH := bin/geth-v1.17.5
$(GETH):
	GOBIN=$(CURDIR)/bin/.geth GOFLAGS= $(GO) install github.com/ethereum/go-ethereum/cmd/geth@v1.17.5
	mv bin/.geth/geth $@ && rmdir bin/.geth

## gethdiff: ask a live geth the differential suite and check its answers are
## still the recorded ones the unit tests replay against meganode
gethdiff: $(GETH)
	rm -rf bin/gethdiff && $(GO) run ./tools/gethdiff -geth $(GETH) -out bin/gethdiff
	diff -r rpc/testdata/geth bin/gethdiff && echo "gethdiff: geth's answers match the recorded ones"

## gethdiff-record: re-record geth's answers (after changing the suite or chain)
gethdiff-record: $(GETH)
	$(GO) run ./tools/gethdiff -geth $(GETH)

## test: everything CI runs
test: check-deps vet unit gethdiff e2e e2e-race

## bench: side-by-side load test against anvil and geth --dev; writes docs/benchmarks.md,
## its results in docs/benchdata and their pictures in docs/img (tools/plot)
bench: build e2e-deps $(GETH)
	bash bench/run.sh

## status-screenshot: re-take docs/status-page.png from e2e/TestStatusPage
status-screenshot: e2e-chromium
	STATUS_PAGE_PNG=$(CURDIR)/docs/status-page.png $(GO) test -count=1 -run 'TestStatusPage$$' ./e2e/

clean:
	rm -rf bin e2e/node_modules e2e/node22/node_modules e2e/hardhat2/node_modules e2e/foundry/out e2e/foundry/cache e2e/foundry/broadcast
