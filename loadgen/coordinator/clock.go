package coordinator

import (
	"context"
	"fmt"
	"time"

	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// clockSample is one exchange of NTP's on-wire protocol (RFC 5905 section
// 8): t0 the coordinator's send, t1 and t2 the agent's receive and
// transmit, t3 the coordinator's receive, each on its own side's clock.
type clockSample struct {
	offset time.Duration // agent clock − coordinator clock
	rtt    time.Duration // the round trip, less the agent's own time
}

func newClockSample(t0, t1, t2, t3 int64, rtt time.Duration) clockSample {
	return clockSample{
		offset: time.Duration(((t1 - t0) + (t2 - t3)) / 2),
		rtt:    rtt - time.Duration(t2-t1),
	}
}

// best is the sample with the smallest round trip: its offset has the
// smallest error bound, rtt/2 (NTP's clock filter, RFC 5905 section 10).
func best(samples []clockSample) clockSample {
	b := samples[0]
	for _, s := range samples[1:] {
		if s.rtt < b.rtt {
			b = s
		}
	}
	return b
}

// measureClock asks the agent for its clock n times and keeps the best
// sample.
func measureClock(ctx context.Context, c agentpb.AgentClient, n int) (clockSample, error) {
	samples := make([]clockSample, 0, n)
	for range n {
		start := time.Now()
		t0 := start.UnixNano()
		rep, err := c.Clock(ctx, &agentpb.ClockRequest{})
		if err != nil {
			return clockSample{}, fmt.Errorf("reading its clock: %w", err)
		}
		end := time.Now()
		// The round trip on the monotonic clock, so that a step of the
		// wall clock during the exchange does not count.
		samples = append(samples, newClockSample(t0, rep.GetReceiveUnixNano(), rep.GetTransmitUnixNano(), end.UnixNano(), end.Sub(start)))
	}
	return best(samples), nil
}
