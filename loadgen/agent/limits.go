package agent

import (
	"fmt"
	"math"
	"time"

	"github.com/sockbench/sockbench/loadgen"
)

// Limits bound what one attack may ask of an agent; zero is no limit.
type Limits struct {
	// MaxDuration bounds warm-up plus measured window.
	MaxDuration time.Duration
	// MaxConnections bounds the connections of one attack.
	MaxConnections int
	// MaxRate bounds the requests/s an attack may ask for at its peak; with
	// it, an attack must have a rate (an unpaced closed loop or a stream
	// has no bound).
	MaxRate float64
}

// Defaults of the agent's limits.
const (
	DefaultMaxDuration    = 10 * time.Minute
	DefaultMaxConnections = 10000
)

// check reports, as a sentence naming the agent's flag, why o asks more
// than l allows. o has its defaults filled in.
func (l Limits) check(o loadgen.Options) error {
	if total := o.Warmup + o.Duration; l.MaxDuration > 0 && total > l.MaxDuration {
		what := fmt.Sprintf("duration %s", o.Duration)
		if o.Warmup > 0 {
			what = fmt.Sprintf("warm-up %s + duration %s = %s", o.Warmup, o.Duration, total)
		}
		return fmt.Errorf("the attack lasts too long for this agent: %s is above its --max-duration %s", what, l.MaxDuration)
	}
	if l.MaxConnections > 0 && o.Connections > l.MaxConnections {
		return fmt.Errorf("the attack asks too many connections of this agent: %d is above its --max-connections %d", o.Connections, l.MaxConnections)
	}
	if l.MaxRate > 0 {
		peak := peakRate(o)
		switch {
		case peak == 0 && o.Mode == loadgen.Stream:
			return fmt.Errorf("this agent has --max-rate %g requests/s, and a stream has no rate to bound", l.MaxRate)
		case peak == 0:
			return fmt.Errorf("this agent has --max-rate %g requests/s: an unpaced closed loop has no bound; give the attack a rate", l.MaxRate)
		case peak > l.MaxRate:
			return fmt.Errorf("the attack's rate is too high for this agent: %g requests/s at its peak is above its --max-rate %g", peak, l.MaxRate)
		}
	}
	return nil
}

// peakRate is the highest rate o sends at; 0 when it is not paced.
func peakRate(o loadgen.Options) float64 {
	switch {
	case o.Mode == loadgen.Open && o.Pacer == loadgen.PacerLinear:
		return math.Max(o.Rate, o.RateTo)
	case o.Mode == loadgen.Open && o.Pacer == loadgen.PacerSine:
		return o.Rate + o.Amplitude
	}
	return o.Rate
}
