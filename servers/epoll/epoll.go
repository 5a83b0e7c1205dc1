// Package epoll registers the raw epoll(7) server: level-triggered epoll
// from internal/netpoll (epoll_linux.go) driving the shared loop in
// servers/eventloop. Its knobs are the ones the thread varied on its epoll
// server: loops, accept batch size and persistent vs oneshot registration.
package epoll

import (
	"github.com/sockbench/sockbench/internal/netpoll"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/eventloop"
)

func init() {
	servers.Register(servers.Model{
		Name:    "epoll",
		Summary: "raw epoll event loop(s) on non-blocking sockets, no net package",
		New: func(o servers.Options) (servers.Server, error) {
			return eventloop.New(netpoll.KindEpoll, "epoll", o)
		},
	})
}
