package coordinator

import (
	"fmt"
	"sync"
	"time"
)

// stallWatch notices this process being stopped (SIGSTOP, a suspended
// VM, a machine starved of CPU): it ticks, and a tick due long before it
// came means nothing in the process ran meanwhile, so the agents' silence
// over that time, and the streams they dropped for want of an answer,
// say nothing about them. The monotonic clock runs on while a process is
// stopped; its timers fire all at once when it resumes.
type stallWatch struct {
	// A gap between ticks above threshold is a stall; one that ended
	// within recent of a failure explains it.
	threshold, recent time.Duration
	done              chan struct{}

	mu   sync.Mutex
	last time.Time
	// gap is the latest stall, and gapEnd the tick that ended it.
	gap    time.Duration
	gapEnd time.Time
}

// watchStalls starts a watch whose ticks are ten to an agent's allowed
// silence: a stall of half that silence, five ticks missed, is one that
// could have cost an agent's heartbeats.
func watchStalls(silence time.Duration) *stallWatch {
	w := &stallWatch{threshold: silence / 2, recent: silence, done: make(chan struct{}), last: time.Now()}
	go func() {
		t := time.NewTicker(silence / 10)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				w.tick(time.Now())
			case <-w.done:
				return
			}
		}
	}()
	return w
}

func (w *stallWatch) stop() { close(w.done) }

func (w *stallWatch) tick(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if gap := now.Sub(w.last); gap > w.threshold {
		w.gap, w.gapEnd = gap, now
	}
	w.last = now
}

// stalled reports a stall that explains a failure seen at now: one still
// open (the watch has not ticked since the process resumed, the failure
// came first) or one that ended within recent.
func (w *stallWatch) stalled(now time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if open := now.Sub(w.last); open > w.threshold {
		return open, true
	}
	if w.gap > 0 && now.Sub(w.gapEnd) < w.recent {
		return w.gap, true
	}
	return 0, false
}

// stallError is the error to give instead of err when a stall of this
// process explains it, nil when none does: after a stall nothing measured
// can be trusted, whichever agent seemed to fail.
func (w *stallWatch) stallError(err error) error {
	d, ok := w.stalled(time.Now())
	if !ok {
		return nil
	}
	return &LostError{Err: fmt.Errorf("this coordinator was itself stopped for %s (suspended, or starved of CPU) and could not hear the agents meanwhile, so the attack is void: what it then took for a failure (%v) was its own stop",
		d.Round(100*time.Millisecond), err)}
}
