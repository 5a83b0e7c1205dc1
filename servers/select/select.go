// Package selectloop registers the raw select(2) server: the fd_set bitmaps
// of internal/netpoll (select_linux.go) driving the shared loop in
// servers/eventloop. select cannot watch descriptors at or above FD_SETSIZE
// (1024); such connections are closed at once, counted as refused, and the
// server says so on stderr. (The folder is named for the syscall; "select"
// is a Go keyword, so the package name differs.)
package selectloop

import (
	"github.com/sockbench/sockbench/internal/netpoll"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/eventloop"
)

func init() {
	servers.Register(servers.Model{
		Name:    "select",
		Summary: "raw select(2) loop(s); refuses descriptors past FD_SETSIZE",
		New: func(o servers.Options) (servers.Server, error) {
			return eventloop.New(netpoll.KindSelect, "select", o)
		},
	})
}
