package agent

import (
	"net"
	"time"
)

// WithResolver is cfg resolving target names with r (tests only).
func WithResolver(cfg Config, r resolver) Config {
	cfg.resolver = r
	return cfg
}

// WithClockSkew is cfg with a clock d ahead of the machine's (tests only).
func WithClockSkew(cfg Config, d time.Duration) Config {
	cfg.clockSkew = d
	return cfg
}

// WithListener is cfg serving on wrap of its listening socket (tests only:
// to count what the agent reads).
func WithListener(cfg Config, wrap func(net.Listener) net.Listener) Config {
	cfg.wrapListener = wrap
	return cfg
}
