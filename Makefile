# sockbench — the two commands a new user needs are `make run` and `make test`.
GO        ?= go
BIN       := bin/sockbench
# Packages whose tests exercise goroutines and shared state run under -race.
RACE_PKGS := ./servers/... ./loadgen/... ./verify/... ./internal/... ./runner/...
# The rest: end-to-end tests that start processes, and the benchmark tools.
TEST_PKGS := ./cmd/... ./bench/... ./report/...
BENCH_FLAGS ?=

.PHONY: all deps deps-run deps-test deps-bench deps-forum build test run vet fuzz clean peers proto forum bench-tools bench-servers bench-loadgen bench-paced

all: build

# What each command needs from Debian's packages, installed when missing:
# one list in scripts/deps, by group (make run needs strace alone; make
# test the whole list). `make deps` is the whole list.
deps: deps-test
deps-run deps-test deps-bench deps-forum:
	@scripts/deps $(@:deps-%=%)

build:
	$(GO) build -o $(BIN) ./cmd/sockbench

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

test: deps-test vet build
	$(GO) test -race -count=1 $(RACE_PKGS)
	$(GO) test -count=1 $(TEST_PKGS)
	cd bench/peers && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 ./...

# Every built-in server, keep-alive and close, in under two minutes; prints
# the summary and where the report is (results/latest/report/index.html).
run: deps-run build
	$(BIN) run configs/quick.yaml

# The forum thread's experiments (configs/forum/, issue #13), one run each
# into results/forum/<stamp>/, and the verdict on every claim of
# configs/forum/claims.yaml in results/forum/<stamp>/REPORT.md; about 35
# minutes on a 2-core machine. FORUM_SCALE=smoke runs the whole path with
# short windows in minutes (numbers not to quote).
forum: deps-forum build
	scripts/forum

# Every fuzz target of the module for FUZZTIME each (their seed corpora run
# in `make test`): the parsers of requests, responses, configurations,
# stored results, strace tables, /proc files, CPU lists and headers.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$f ($$pkg) for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# The agent protocol's Go code, checked in, regenerated from its .proto with
# Debian's protoc and the Go plugins pinned as tool dependencies in go.mod
# (loadgen/agentpb's tests fail when the checked-in code is stale).
PROTO_DIR := loadgen/agentpb
proto: deps-test
	protoc --proto_path=$(PROTO_DIR) \
		--plugin=protoc-gen-go=$$($(GO) tool -n protoc-gen-go) \
		--plugin=protoc-gen-go-grpc=$$($(GO) tool -n protoc-gen-go-grpc) \
		--go_out=$(PROTO_DIR) --go_opt=paths=source_relative \
		--go-grpc_out=$(PROTO_DIR) --go-grpc_opt=paths=source_relative \
		agent.proto

# The peer servers (fasthttp, gnet) are a separate module, bench/peers, so the
# main module never depends on them.
peers:
	cd bench/peers && $(GO) build -o bin/ ./...

bench-tools: build
	$(GO) build -o bin/compare ./bench/compare

# Our servers beside nginx, fasthttp and gnet: server on CPU 0, wrk on CPU 1,
# interleaved rounds, medians. BENCH_FLAGS="--rounds 5 --duration 10s" for more.
bench-servers: deps-bench bench-tools peers
	./bin/compare servers --sockbench $(BIN) --peers bench/peers/bin $(BENCH_FLAGS)

# Our closed-loop engine beside wrk and vegeta against one nginx: generator
# CPU per request is the headline (nginx is the limit of req/s); a race
# pipelining 16 deep, where it is not; and the paced rows beside wrk2 when
# WRK2=path/to/wrk2 is given (not packaged in Debian: `compare loadgen -h`
# says how to build it).
WRK2 ?=
bench-loadgen: deps-bench bench-tools
	./bin/compare loadgen --sockbench $(BIN) --race 16 --wrk2 "$(WRK2)" $(BENCH_FLAGS)

# Paced mode against wrk2 alone, as issue #11 measured it: 50 connections at
# 5k, 20k and 50k req/s, generator CPU per request and the ratio to wrk2's
# in the same round. On a quiet machine: make bench-paced WRK2=/path/to/wrk2
bench-paced: deps-bench bench-tools
	./bin/compare loadgen --sockbench $(BIN) --generators "" --connections 50 --rounds 5 --wrk2 "$(WRK2)" $(BENCH_FLAGS)

clean:
	rm -rf bin bench/peers/bin
