package coordinator

import (
	"fmt"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// merge combines the results of the agents that sent one. Every agent
// began within its start skew of the agreed instant, so each result's
// start is taken to be that instant, on the coordinator's clock:
// loadgen.Merge then lines their seconds up by their place in the window,
// whatever the agents' clocks say, and the merged result starts at the
// common start. The skew itself is kept among the agent's figures. The
// agents lost are named, with why, in LostAgents; with none left, nothing
// is.
func (a *attack) merge(agreed time.Time) (*loadgen.Result, error) {
	var (
		aligned []*loadgen.Result
		figures []loadgen.AgentFigures
		lost    []loadgen.LostAgent
		why     []string
	)
	for i, r := range a.finals {
		ag := a.agents[i]
		if r == nil {
			lost = append(lost, loadgen.LostAgent{Agent: ag.label, Reason: a.lost[i].Error()})
			why = append(why, (&AgentError{Agent: ag.label, Err: a.lost[i]}).Error())
			continue
		}
		figures = append(figures, loadgen.AgentFigures{
			Agent: ag.label, Host: ag.hello.GetHostname(),
			Connections: a.shares[i].Connections, Rate: a.shares[i].Rate,
			Requests: r.Requests, RequestsPerS: r.RequestsPerS, BytesPerS: r.BytesPerS,
			Errors: r.Errors, Unfinished: r.Unfinished,
			UserSeconds: r.Client.UserSeconds, SysSeconds: r.Client.SysSeconds,
			CPUPerRequestUS: r.Client.CPUPerRequestUS, Busiest: r.Client.Busiest, Saturated: r.Saturated,
			ClockOffsetUS: micros(ag.clock.offset), ClockRTTUS: micros(ag.clock.rtt),
			StartSkewUS: micros(r.Start.Sub(agreed) - ag.clock.offset),
		})
		c := *r
		c.Start = agreed
		aligned = append(aligned, &c)
	}
	if len(aligned) == 0 {
		return nil, &LostError{Err: fmt.Errorf("every agent was lost mid-attack, so nothing measured is kept: %s", strings.Join(why, "; "))}
	}
	m, err := loadgen.Merge(aligned...)
	if err != nil {
		return nil, err
	}
	m.Agents = figures
	m.LostAgents = lost
	return m, nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// seconds merges the agents' live seconds: second k goes to progress once
// every agent has sent its own second k.
type seconds struct {
	mu       sync.Mutex
	n        int
	progress func(loadgen.Second)
	pending  map[float64]*pendingSecond
}

type pendingSecond struct {
	s       loadgen.Second
	h       *hdrhistogram.Histogram
	reports int
}

func newSeconds(n int, progress func(loadgen.Second)) *seconds {
	return &seconds{n: n, progress: progress, pending: map[float64]*pendingSecond{}}
}

func (s *seconds) add(sec *agentpb.Second) {
	if s.progress == nil {
		return
	}
	s.mu.Lock()
	p := s.pending[sec.GetT()]
	if p == nil {
		p = &pendingSecond{s: loadgen.Second{T: sec.GetT()}}
		s.pending[sec.GetT()] = p
	}
	p.s.Requests += sec.GetRequests()
	p.s.Errors += sec.GetErrors()
	p.s.Bytes += sec.GetBytes()
	if len(sec.GetHistogram()) > 0 {
		// The first histogram decoded takes the others in: each has
		// loadgen's settings, so no second copy of them is needed here.
		if h, err := hdrhistogram.Decode(sec.GetHistogram()); err == nil {
			if p.h == nil {
				p.h = h
			} else {
				p.h.Merge(h)
			}
		}
	}
	p.reports++
	done := p.reports == s.n
	if done {
		delete(s.pending, sec.GetT())
	}
	s.mu.Unlock()
	if done {
		if err := fillSecond(&p.s, p.h); err == nil {
			s.progress(p.s)
		}
	}
}

// fillSecond sets the percentiles and the encoded histogram of a merged
// second.
func fillSecond(s *loadgen.Second, h *hdrhistogram.Histogram) error {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	enc, err := h.EncodeV2()
	if err != nil {
		return fmt.Errorf("encoding a merged second: %w", err)
	}
	s.Hist = string(enc)
	s.P50US = float64(h.ValueAtPercentile(50))
	s.P99US = float64(h.ValueAtPercentile(99))
	s.MaxUS = float64(h.Max())
	return nil
}
