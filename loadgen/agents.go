package loadgen

import (
	"fmt"
	"strings"
)

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

// LostAgent is an agent lost in the middle of a distributed attack: its
// share of the load is missing from the result.
type LostAgent struct {
	Agent  string `json:"agent"`
	Reason string `json:"reason"`
}

// CheckComplete says, in one sentence, which agents a partial result
// lost and why; nil when it lost none.
func (r *Result) CheckComplete() error {
	if len(r.LostAgents) == 0 {
		return nil
	}
	lost := make([]string, len(r.LostAgents))
	for i, l := range r.LostAgents {
		lost[i] = fmt.Sprintf("agent %s (%s)", l.Agent, l.Reason)
	}
	return fmt.Errorf("partial result: %d of %d agents lost mid-attack, %s; the figures are the others' until they were stopped",
		len(lost), len(lost)+len(r.Agents), strings.Join(lost, ", "))
}

// writeAgents adds the table of a distributed attack's agents to its
// summary, so that an uneven, failing or saturated agent shows.
func (r *Result) writeAgents(b *strings.Builder) {
	if len(r.Agents) == 0 {
		return
	}
	rate := "Req/sec"
	if r.Mode == Stream {
		rate = "Bytes/sec"
	}
	if len(r.LostAgents) > 0 {
		fmt.Fprintf(b, "Agents: %d, and %d lost\n", len(r.Agents), len(r.LostAgents))
	} else {
		fmt.Fprintf(b, "Agents: %d\n", len(r.Agents))
	}
	fmt.Fprintf(b, "  %-24s %6s %12s %9s %12s %9s %10s %11s %10s\n", "Agent", "Conns", rate, "Errors", "CPU µs/req", "Busiest", "Offset", "Start skew", "Saturated")
	for _, a := range r.Agents {
		perS := fmt.Sprintf("%.0f", a.RequestsPerS)
		if r.Mode == Stream {
			perS = fmtBytes(a.BytesPerS)
		}
		sat := "no"
		if a.Saturated {
			sat = "YES"
		}
		fmt.Fprintf(b, "  %-24s %6d %12s %9d %12.2f %8.0f%% %10s %11s %10s\n", a.Agent, a.Connections, perS, a.Errors.Total(),
			a.CPUPerRequestUS, a.Busiest*100, signedUS(a.ClockOffsetUS), signedUS(a.StartSkewUS), sat)
	}
	for _, l := range r.LostAgents {
		fmt.Fprintf(b, "  %-24s LOST: %s\n", l.Agent, l.Reason)
	}
	if len(r.LostAgents) > 0 {
		fmt.Fprintf(b, "PARTIAL: %d of %d agents were lost mid-attack: these numbers are the others' only, until they were stopped.\n",
			len(r.LostAgents), len(r.LostAgents)+len(r.Agents))
	}
}

// signedUS is fmtUS with the sign of us.
func signedUS(us float64) string {
	if us < 0 {
		return "-" + fmtUS(-us)
	}
	return fmtUS(us)
}
