package agent

import "time"

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
