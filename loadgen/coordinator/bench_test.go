package coordinator

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/supervise"
	"github.com/sockbench/sockbench/loadgen"
)

// The start skew of two agent processes: how far from the agreed instant
// each began (skew), and how far apart the two began (spread), median and
// max over the starts (-benchtime=20x for 20). The goal is under 1 ms.
// The agents are not pinned: on one CPU, one's start would wait for the
// other's, which agents on machines of their own never do.
func BenchmarkStartSkew(b *testing.B) {
	for _, ns := range []bool{false, true} {
		name := "loopback"
		if ns {
			name = "namespaces"
		}
		b.Run(name, func(b *testing.B) {
			tb := newTestbedOf(b, 2, ns)
			if ns && !tb.namespaces {
				b.Skip("no network namespaces here (see the note above)")
			}
			tb.startAgent(b, 0)
			tb.startAgent(b, 1)
			url, _ := tb.startServer(b)
			c := tb.coordinator(b)
			o := loadgen.Options{URL: url, Connections: 2, Threads: 1, Duration: 100 * time.Millisecond, Rate: 200}
			var skews, spreads []float64
			b.ResetTimer()
			for range b.N {
				res, err := c.Run(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				s0, s1 := res.Agents[0].StartSkewUS, res.Agents[1].StartSkewUS
				skews = append(skews, s0, s1)
				spreads = append(spreads, max(s0, s1)-min(s0, s1))
			}
			b.StopTimer()
			b.ReportMetric(median(skews), "median-skew-µs")
			b.ReportMetric(slices.Max(skews), "max-skew-µs")
			b.ReportMetric(median(spreads), "median-spread-µs")
			b.ReportMetric(slices.Max(spreads), "max-spread-µs")
		})
	}
}

// An agent's CPU per request beside a local `sockbench attack` with the
// same options, each pinned to the same CPU (the server to another),
// interleaved: one round is one of each (-benchtime=5x for 5).
func BenchmarkAgentCPUPerRequest(b *testing.B) {
	tb := newTestbedOf(b, 1, false)
	if runtime.NumCPU() >= 2 {
		tb.agentCPUs = []int{1}
	}
	tb.startAgent(b, 0)
	url, _ := tb.startServer(b)
	c := tb.coordinator(b)
	o := loadgen.Options{URL: url, Connections: 16, Threads: 1, Duration: time.Second}
	var local, remote []float64
	b.ResetTimer()
	for i := range b.N {
		out := filepath.Join(b.TempDir(), "local.json")
		p, err := supervise.Start(supervise.Spec{Name: "attack", CPUs: tb.agentCPUs, Argv: []string{tb.bin, "attack", url,
			"-c", "16", "-t", "1", "-d", "1s", "-q", "-o", out}})
		if err != nil {
			b.Fatal(err)
		}
		<-p.Exited()
		if err := p.Err(); err != nil {
			b.Fatalf("round %d: local attack: %v: %s", i, err, p.OutputLine())
		}
		data, err := os.ReadFile(out)
		if err != nil {
			b.Fatal(err)
		}
		var r loadgen.Result
		if err := json.Unmarshal(data, &r); err != nil {
			b.Fatal(err)
		}
		local = append(local, r.Client.CPUPerRequestUS)
		res, err := c.Run(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		remote = append(remote, res.Agents[0].CPUPerRequestUS)
	}
	b.StopTimer()
	b.ReportMetric(median(local), "local-µs/req")
	b.ReportMetric(median(remote), "agent-µs/req")
	b.ReportMetric(median(remote)/median(local), "agent/local")
}

// Two agents on two cores beside one agent on one, against an epoll
// server of two loops that may run on either core: the issue asks for
// ≥ 1.8× the requests (closed) or bytes (stream) a second. On a machine
// of two cores the server shares the agents' cores, so what this shows
// there is how much of the one agent's rate was the server's limit
// rather than the agent's. One round is one of each, interleaved
// (-benchtime=5x for 5).
func BenchmarkTwoAgents(b *testing.B) {
	if runtime.NumCPU() < 2 {
		b.Skip("two agents on two cores need two CPUs")
	}
	for _, mode := range []loadgen.Mode{loadgen.Closed, loadgen.Stream} {
		b.Run(string(mode), func(b *testing.B) {
			tb := newTestbedOf(b, 2, false)
			tb.serverArgs, tb.serverUnpinned = []string{"--loops", "2"}, true
			if mode == loadgen.Stream {
				tb.serverArgs = append(tb.serverArgs, "--stream")
			}
			tb.agentCPUs = []int{1}
			tb.startAgent(b, 0)
			tb.agentCPUs = []int{0}
			tb.startAgent(b, 1)
			url, _ := tb.startServer(b)
			if mode == loadgen.Stream {
				url = "tcp://" + strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
			}
			one, two := tb.coordinator(b, 1), tb.coordinator(b)
			o := loadgen.Options{URL: url, Mode: mode, Connections: 32, Threads: 1, Duration: time.Second}
			rate := func(c *Coordinator) float64 {
				res, err := c.Run(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				if mode == loadgen.Stream {
					return res.BytesPerS
				}
				return res.RequestsPerS
			}
			var ones, twos, ratios []float64
			b.ResetTimer()
			for range b.N {
				// Each agent runs one thread: the split gives every agent
				// at least one.
				r1, r2 := rate(one), rate(two)
				ones, twos, ratios = append(ones, r1), append(twos, r2), append(ratios, r2/r1)
			}
			b.StopTimer()
			unit := "req/s"
			if mode == loadgen.Stream {
				unit = "B/s"
			}
			b.ReportMetric(median(ones), "one-agent-"+unit)
			b.ReportMetric(median(twos), "two-agents-"+unit)
			b.ReportMetric(median(ratios), "two/one")
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
