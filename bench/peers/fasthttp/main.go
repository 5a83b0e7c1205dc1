// Command fasthttp serves the sockbench page with valyala/fasthttp, the
// worker-pool design sockbench's workerpool model is measured against.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/sockbench/sockbench/bench/peers/page"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	procs := flag.Int("gomaxprocs", 1, "GOMAXPROCS for the server")
	flag.Parse()
	if err := run(*addr, *procs); err != nil {
		fmt.Fprintln(os.Stderr, "fasthttp:", err)
		os.Exit(1)
	}
}

func run(addr string, procs int) error {
	if procs > 0 {
		runtime.GOMAXPROCS(procs)
	}
	srv := &fasthttp.Server{
		Name:    "fasthttp",
		Handler: handle,
		// fasthttp caches the Date header per second itself.
	}
	// net.Listen asks for the kernel's largest backlog (somaxconn).
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	fmt.Printf("fasthttp listening on %s\n", ln.Addr())
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}
	// Idle keep-alive connections are closed at once; a bound keeps a stuck
	// client from holding the process.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

func handle(ctx *fasthttp.RequestCtx) {
	switch {
	case string(ctx.Path()) != "/":
		ctx.Error("not found", fasthttp.StatusNotFound)
	case !ctx.IsGet() && !ctx.IsHead():
		ctx.Error("method not allowed", fasthttp.StatusMethodNotAllowed)
	default:
		ctx.SetContentType(page.ContentType)
		ctx.SetBody(page.Body)
	}
}
