// Package all registers every built-in server model; import it for its side
// effect.
package all

import (
	// The raw event loops.
	_ "github.com/sockbench/sockbench/servers/epoll"
	_ "github.com/sockbench/sockbench/servers/poll"
	_ "github.com/sockbench/sockbench/servers/select"
)
