// Package all registers every built-in server model; import it for its side
// effect.
package all

import (
	// The raw event loops.
	_ "github.com/sockbench/sockbench/servers/epoll"
	_ "github.com/sockbench/sockbench/servers/poll"
	_ "github.com/sockbench/sockbench/servers/select"
	_ "github.com/sockbench/sockbench/servers/uring"

	// The servers on Go's net package and runtime.
	_ "github.com/sockbench/sockbench/servers/gonet"
	_ "github.com/sockbench/sockbench/servers/nethttp"
	_ "github.com/sockbench/sockbench/servers/workerpool"
)
