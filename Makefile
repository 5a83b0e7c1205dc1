# sockbench — the two commands a new user needs are `make run` and `make test`.
GO        ?= go
BIN       := bin/sockbench
# Packages whose tests exercise goroutines and shared state run under -race.
RACE_PKGS := ./servers/... ./loadgen/... ./verify/... ./internal/...

.PHONY: all build test run vet fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/sockbench

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

test: vet build
	$(GO) test -race -count=1 $(RACE_PKGS)
	$(GO) test -count=1 ./cmd/...

# For now: start the default server on 127.0.0.1:8080 (Ctrl-C stops it).
run: build
	$(BIN) serve epoll --addr 127.0.0.1:8080

# Run the request parser's fuzzer for a while (its seed corpus runs in `make test`).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseRequest -fuzztime 60s ./servers/http1/

clean:
	rm -rf bin
