// Package poll registers the raw poll(2) server: the pollfd array of
// internal/netpoll (poll_linux.go), kept in step with the open connections,
// driving the shared loop in servers/eventloop. The thread found poll ahead
// of epoll with fewer than 20 watched descriptors (post #1).
package poll

import (
	"github.com/sockbench/sockbench/internal/netpoll"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/eventloop"
)

func init() {
	servers.Register(servers.Model{
		Name:    "poll",
		Summary: "raw poll(2) loop(s), the pollfd set kept in step with the connections",
		New: func(o servers.Options) (servers.Server, error) {
			return eventloop.New(netpoll.KindPoll, "poll", o)
		},
	})
}
