package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/bench/peers/page"
)

// TestServesSplitAndPipelinedRequests runs the real gnet engine on loopback.
func TestServesSplitAndPipelinedRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- run(ctx, addr, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start within 10s")
	}
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10s")
		}
	}()

	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// The first bytes of a head alone must get no answer — and must not be
	// lost when the rest arrives in a later read.
	if _, err := c.Write([]byte("GET / HT")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !isTimeout(err) {
		t.Fatalf("answer to half a request head: %d bytes, %v", n, err)
	}
	rest := "TP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2) +
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	if _, err := c.Write([]byte(rest)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(c) // the last request closes the connection
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(all, []byte("HTTP/1.1 200 OK\r\n")); n != 4 {
		t.Fatalf("%d responses to 4 requests:\n%s", n, all)
	}
	if n := bytes.Count(all, page.Body); n != 4 {
		t.Fatalf("%d page bodies in 4 responses", n)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
