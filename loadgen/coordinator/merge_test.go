package coordinator

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// newHist has the settings of loadgen's histograms (result.go): the
// merge's exactness rests on them being the same everywhere.
func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60_000_000, 3) }

// The percentiles of a merged result are those of one histogram fed the
// union of every agent's samples, overall and second by second, whatever
// the agents' clocks read.
func TestMergedPercentilesAreThoseOfTheUnion(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 7))
	agreed := time.Date(2026, 3, 1, 12, 0, 0, 700_000_000, time.UTC)
	const seconds = 4
	union := newHist()
	unionSec := make([]*hdrhistogram.Histogram, seconds)
	for i := range unionSec {
		unionSec[i] = newHist()
	}
	// Three agents with their own latency distributions and clocks: one
	// 40 ms ahead, one 2.5 s behind (its seconds fall in other wall-clock
	// seconds than the others').
	offsets := []time.Duration{0, 40 * time.Millisecond, -2500 * time.Millisecond}
	a := &attack{}
	for i, off := range offsets {
		total := newHist()
		r := &loadgen.Result{
			FormatVersion: loadgen.FormatVersion, Mode: loadgen.Closed, URL: "http://198.18.0.1/",
			Connections: 10, Threads: 1, LatencyKind: loadgen.ResponseTime, Duration: seconds,
			// The agent's clock read this when it started, 200µs late.
			Start: agreed.Add(off + 200*time.Microsecond),
		}
		for s := range seconds {
			h := newHist()
			for range 2000 + 700*i {
				// Log-normal around 100µs·(i+1), a long tail.
				v := int64(math.Exp(rng.NormFloat64()*0.8)*100*float64(i+1)) + 1
				h.RecordValue(v)
				total.RecordValue(v)
				union.RecordValue(v)
				unionSec[s].RecordValue(v)
			}
			enc, _ := h.EncodeV2()
			r.Series = append(r.Series, loadgen.Second{T: float64(s), Requests: h.TotalCount(), Hist: string(enc)})
			r.Requests += h.TotalCount()
		}
		enc, _ := total.EncodeV2()
		r.LatencyHistogram = string(enc)
		// Through the wire format, as the coordinator gets it.
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeResult(data)
		if err != nil {
			t.Fatal(err)
		}
		a.finals = append(a.finals, got)
		a.shares = append(a.shares, loadgen.Options{Connections: 10})
		a.agents = append(a.agents, &agentConn{label: "agent", hello: &agentpb.HelloReply{}, clock: clockSample{offset: off, rtt: 80 * time.Microsecond}})
	}
	res, err := a.merge(agreed)
	if err != nil {
		t.Fatal(err)
	}
	m := res
	ps := []float64{0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100}
	mh, err := m.Histogram()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if got, want := mh.ValueAtPercentile(p), union.ValueAtPercentile(p); got != want {
			t.Errorf("p%g: merged %d µs, union %d µs", p, got, want)
		}
	}
	l := m.Latency
	if l.P50US != float64(union.ValueAtPercentile(50)) || l.P99US != float64(union.ValueAtPercentile(99)) ||
		l.P9999US != float64(union.ValueAtPercentile(99.99)) || l.MaxUS != float64(union.Max()) || l.MinUS != float64(union.Min()) ||
		l.MeanUS != union.Mean() || l.Recorded != union.TotalCount() || m.Requests != union.TotalCount() {
		t.Errorf("merged summary %+v, requests %d; the union has p50 %d p99 %d max %d, %d samples",
			l, m.Requests, union.ValueAtPercentile(50), union.ValueAtPercentile(99), union.Max(), union.TotalCount())
	}
	if len(m.Series) != seconds {
		t.Fatalf("%d merged seconds, want %d: the agents' seconds were not lined up", len(m.Series), seconds)
	}
	for s, sec := range m.Series {
		h, err := hdrhistogram.Decode([]byte(sec.Hist))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if got, want := h.ValueAtPercentile(p), unionSec[s].ValueAtPercentile(p); got != want {
				t.Errorf("second %d, p%g: merged %d µs, union %d µs", s, p, got, want)
			}
		}
		if sec.Requests != unionSec[s].TotalCount() || sec.T != float64(s) {
			t.Errorf("second %d (t=%g): %d requests, the union %d", s, sec.T, sec.Requests, unionSec[s].TotalCount())
		}
	}
	if !m.Start.Equal(agreed) || m.Connections != 30 || m.Client.Hosts != 3 {
		t.Errorf("merged start %s, %d connections, %d hosts; want %s, 30, 3", m.Start, m.Connections, m.Client.Hosts, agreed)
	}
	for i, f := range res.Agents {
		if math.Abs(f.StartSkewUS-200) > 0.001 || f.ClockOffsetUS != micros(offsets[i]) {
			t.Errorf("agent %d: skew %.3fµs, offset %.0fµs; want 200µs and %s", i, f.StartSkewUS, f.ClockOffsetUS, offsets[i])
		}
	}
}

func TestSplitDealsOutRemainders(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     loadgen.Options
		n     int
		conns []int
		rates []float64
		reqs  []int64
		loops []int
	}{
		{"even", loadgen.Options{Connections: 10, Rate: 1000}, 2, []int{5, 5}, []float64{500, 500}, []int64{0, 0}, []int{0, 0}},
		{"remainders", loadgen.Options{Connections: 10, Rate: 1001, MaxRequests: 100, Threads: 4}, 3, []int{4, 3, 3}, []float64{334, 334, 333}, []int64{34, 33, 33}, []int{2, 1, 1}},
		{"fractional rate", loadgen.Options{Connections: 4, Rate: 10.5}, 2, []int{2, 2}, []float64{5.25, 5.25}, []int64{0, 0}, []int{0, 0}},
		{"fewer loops than agents", loadgen.Options{Connections: 4, Threads: 1}, 2, []int{2, 2}, []float64{0, 0}, []int64{0, 0}, []int{1, 1}},
	} {
		shares, err := split(tc.o, tc.n)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var sumC int
		var sumR float64
		for i, s := range shares {
			sumC += s.Connections
			sumR += s.Rate
			if s.Connections != tc.conns[i] || s.Rate != tc.rates[i] || s.MaxRequests != tc.reqs[i] || s.Threads != tc.loops[i] {
				t.Errorf("%s: agent %d gets %d connections, %g/s, %d requests, %d loops; want %d, %g, %d, %d",
					tc.name, i, s.Connections, s.Rate, s.MaxRequests, s.Threads, tc.conns[i], tc.rates[i], tc.reqs[i], tc.loops[i])
			}
		}
		if sumC != tc.o.Connections || sumR != tc.o.Rate {
			t.Errorf("%s: shares add up to %d connections and %g/s", tc.name, sumC, sumR)
		}
	}
	for _, o := range []loadgen.Options{{Connections: 1}, {Connections: 4, MaxRequests: 1}} {
		if _, err := split(o, 2); err == nil {
			t.Errorf("split(%+v, 2) succeeded; an agent would get nothing (or, with requests, no limit)", o)
		}
	}
}

// NTP's arithmetic: with symmetric delays the offset is exact, with
// asymmetric ones off by half the asymmetry, and the sample with the
// smallest round trip wins.
func TestClockSamples(t *testing.T) {
	const skew = int64(3 * time.Second)
	us := int64(time.Microsecond)
	// Sent at 1000µs; 50µs each way; the agent takes 10µs.
	sym := newClockSample(1000*us, 1050*us+skew, 1060*us+skew, 1110*us, 110*time.Microsecond)
	if sym.offset != time.Duration(skew) || sym.rtt != 100*time.Microsecond {
		t.Errorf("symmetric: offset %s, rtt %s", sym.offset, sym.rtt)
	}
	// 500µs out, 50µs back: off by 225µs.
	asym := newClockSample(1000*us, 1500*us+skew, 1510*us+skew, 1560*us, 560*time.Microsecond)
	if asym.offset != time.Duration(skew+225*us) || asym.rtt != 550*time.Microsecond {
		t.Errorf("asymmetric: offset %s, rtt %s", asym.offset, asym.rtt)
	}
	if b := best([]clockSample{asym, sym, asym}); b != sym {
		t.Errorf("best picked %+v, want the symmetric, shorter one", b)
	}
}
