package loadgen

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// waitUntil returns at t (at once when t is zero or past), or when ctx is
// done. A timer wakes late by up to a millisecond, so it sleeps to a
// millisecond before t and spins the rest, yielding the CPU to other
// processes as it does: the start skew of a distributed attack's agents
// is what this costs.
func waitUntil(ctx context.Context, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	const spin = time.Millisecond
	if d := time.Until(t) - spin; d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
	for time.Now().Before(t) {
		if err := ctx.Err(); err != nil {
			return err
		}
		unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
	}
	return nil
}
