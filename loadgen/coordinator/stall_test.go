package coordinator

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const testTick = 300 * time.Millisecond

// ticks are the instants, after the watch's start, of ticks every
// testTick from from to to.
func ticks(from, to time.Duration) []time.Duration {
	var out []time.Duration
	for d := from; d <= to; d += testTick {
		out = append(out, d)
	}
	return out
}

// A gap between ticks above the threshold is a stall, one below is not; a
// stall explains a failure seen while it is still open (the failure came
// before the watch's next tick) or soon after it ended, not one that came
// long after.
func TestStallWatch(t *testing.T) {
	const (
		stop = 4 * time.Second
		// before is the last tick before the stop.
		before = 3 * testTick
	)
	for _, tc := range []struct {
		name  string
		ticks []time.Duration
		seen  time.Duration
		want  time.Duration // 0: no stall
	}{
		{"ticking on time", ticks(testTick, 3*time.Second), 3*time.Second + testTick/2, 0},
		{"a gap below the threshold", ticks(testTick, testTick), testTick + 1400*time.Millisecond, 0},
		{"stopped, failure before the next tick", ticks(testTick, before), before + stop, stop},
		{"stopped, failure after the next tick", append(ticks(testTick, before), before+stop), before + stop + testTick/2, stop},
		{"stopped long before the failure", append(ticks(testTick, before), ticks(before+stop, before+stop+4*time.Second)...), before + stop + 4*time.Second + testTick/2, 0},
	} {
		t0 := time.Now()
		w := &stallWatch{threshold: 1500 * time.Millisecond, recent: 3 * time.Second, last: t0}
		for _, d := range tc.ticks {
			w.tick(t0.Add(d))
		}
		got, stalled := w.stalled(t0.Add(tc.seen))
		if stalled != (tc.want > 0) || got != tc.want {
			t.Errorf("%s: stalled %v for %s, want %s", tc.name, stalled, got, tc.want)
		}
	}
}

// The error of a stall says the coordinator stopped, for how long, and
// what the failure seemed to be; without a stall there is none.
func TestAStallIsTheCoordinatorsOwn(t *testing.T) {
	agentErr := &AgentError{Agent: "198.18.0.2:7000", Err: errors.New("nothing heard from it")}
	w := &stallWatch{threshold: time.Second, recent: 2 * time.Second, last: time.Now().Add(-5 * time.Second)}
	err := w.stallError(agentErr)
	var lost *LostError
	if !errors.As(err, &lost) || !strings.Contains(err.Error(), "this coordinator was itself stopped for 5s") || !strings.Contains(err.Error(), "agent 198.18.0.2:7000: nothing heard") {
		t.Errorf("after a stall: %v (%T)", err, err)
	}
	if err := (&stallWatch{threshold: time.Second, recent: 2 * time.Second, last: time.Now()}).stallError(agentErr); err != nil {
		t.Errorf("with no stall: %v", err)
	}
}
