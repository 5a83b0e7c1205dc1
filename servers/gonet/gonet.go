// Package gonet registers the goroutine-per-connection server: Go's net
// package and runtime poller, with sockbench's own HTTP/1.1 code from
// servers/http1. Beside nethttp it isolates what net/http itself costs;
// beside epoll it shows what the runtime's netpoller and goroutines cost.
package gonet

import (
	"context"
	"net"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/http1"
	"github.com/sockbench/sockbench/servers/netserver"
)

func init() {
	servers.Register(servers.Model{
		Name:    "gonet",
		Summary: "one goroutine per connection on the net package, sockbench's parser",
		New:     New,
	})
}

type server struct {
	*netserver.Base
	page     *http1.Page
	stream   bool
	timeouts http1.Timeouts
}

// New binds the listeners of a gonet server.
func New(opts servers.Options) (servers.Server, error) {
	page, err := http1.NewPage("sockbench-gonet", opts)
	if err != nil {
		return nil, err
	}
	base, err := netserver.New("gonet", opts)
	if err != nil {
		return nil, err
	}
	return &server{Base: base, page: page, stream: opts.Stream, timeouts: http1.TimeoutsOf(opts)}, nil
}

// Serve implements servers.Server.
func (s *server) Serve(ctx context.Context) error {
	return s.Accept(ctx, func(nc net.Conn) { go s.handle(nc) })
}

func (s *server) handle(nc net.Conn) {
	b := http1.GetBuffers()
	var ctr http1.Counters
	var t http1.Traffic
	if s.stream {
		http1.Discard(nc, b, &t)
	} else {
		var c http1.Conn
		c.Reset(s.page, &ctr, netserver.ClientAddr(nc))
		http1.ServeBlocking(nc, &c, b, &t, s.timeouts)
	}
	http1.PutBuffers(b)
	s.Done(nc, ctr, t)
}
