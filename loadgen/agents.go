package loadgen

// AgentFigures are one agent's share of a distributed attack, kept beside
// the merged figures so that an uneven, failing or saturated agent shows.
type AgentFigures struct {
	// Agent is the address the coordinator reached it at; Host is the
	// agent's own host name.
	Agent string `json:"agent"`
	Host  string `json:"host,omitempty"`
	// Connections and Rate are its share of the attack's.
	Connections int     `json:"connections"`
	Rate        float64 `json:"rate,omitempty"`
	Requests    int64   `json:"requests"`
	// RequestsPerS and BytesPerS are over its own window.
	RequestsPerS float64 `json:"requests_per_sec"`
	BytesPerS    float64 `json:"bytes_per_sec"`
	Errors       Errors  `json:"errors"`
	Unfinished   int64   `json:"unfinished,omitempty"`
	// The agent's own CPU over its window, as Client has it.
	UserSeconds     float64 `json:"user_seconds"`
	SysSeconds      float64 `json:"sys_seconds"`
	CPUPerRequestUS float64 `json:"cpu_per_request_us"`
	Busiest         float64 `json:"busiest"`
	Saturated       bool    `json:"saturated"`
	// ClockOffsetUS is the agent's clock minus the coordinator's, as
	// measured before the start (NTP-style, the round trip of
	// ClockRTTUS); StartSkewUS is how long after the agreed instant,
	// on the coordinator's clock, the agent's attack began.
	ClockOffsetUS float64 `json:"clock_offset_us"`
	ClockRTTUS    float64 `json:"clock_rtt_us"`
	StartSkewUS   float64 `json:"start_skew_us"`
}
