package main

import (
	"bytes"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/sockbench/sockbench/bench/peers/page"
)

func TestHandler(t *testing.T) {
	cases := []struct {
		method, path string
		status       int
		body         []byte
	}{
		{"GET", "/", 200, page.Body},
		{"HEAD", "/", 200, nil},
		{"GET", "/other", 404, nil},
		{"POST", "/", 405, nil},
	}
	for _, c := range cases {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(c.method)
		ctx.Request.SetRequestURI(c.path)
		handle(&ctx)
		if got := ctx.Response.StatusCode(); got != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, got, c.status)
		}
		if c.status != 200 {
			continue
		}
		if ct := string(ctx.Response.Header.ContentType()); ct != page.ContentType {
			t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
		}
		if c.body != nil && !bytes.Equal(ctx.Response.Body(), c.body) {
			t.Errorf("%s %s: body differs from the page", c.method, c.path)
		}
	}
}
