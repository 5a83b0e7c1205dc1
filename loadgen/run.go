package loadgen

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"time"
)

// An engine drives the load of one mode. It makes every recorder it will
// use (col.recorder) before any of them records, returns when the window
// has ended or ctx is done, and by then has called finish on each.
type engine func(ctx context.Context, o Options, target *url.URL, col *collector) error

var engines = map[Mode]engine{}

// Run carries out one attack and returns what it measured. Cancelling ctx
// (Ctrl-C) ends the attack early; Run then still returns the result of the
// time measured so far, marked Interrupted, and a nil error. An error means
// the attack could not run at all: bad options, more connections than
// the open-file limit or the local ports allow, or a target that refuses
// every connection.
func Run(ctx context.Context, o Options) (*Result, error) {
	o = o.withDefaults(nil)
	target, err := o.check(FlagName)
	if err != nil {
		return nil, err
	}
	if err := o.checkLimits(FlagName, target, readSystemLimits()); err != nil {
		return nil, err
	}
	// The attack allocates next to nothing, so the heap it starts with is
	// the one it keeps: without the setup's garbage, and with the
	// collector's own pages in use already, which its first cycle (forced
	// after two minutes) would otherwise add to a long run's memory only.
	// Before StartAt's wait, so that it cannot delay the start.
	runtime.GC()
	if err := waitUntil(ctx, o.StartAt); err != nil {
		return nil, fmt.Errorf("stopped before its start: %w", err)
	}
	windowStart := time.Now().Add(o.Warmup)
	col := newCollector(windowStart, o.Duration, o.Progress)
	windowEnded := WatchWindow(o.OnWindow, windowStart, o.Duration)
	cpuUser, cpuSys := processCPU()
	err = engines[o.Mode](ctx, o, target, col)
	windowEnded()
	if err != nil {
		return nil, err
	}
	end := time.Now()
	user, sys := processCPU()
	// The loops have stopped: the garbage of the whole run goes now, so
	// that encoding and writing the result start from the live heap and a
	// long run's peak memory is a short one's.
	runtime.GC()
	r, err := col.result(o, end)
	if err != nil {
		return nil, err
	}
	// Warm-up is excluded from the generator's CPU by scaling: the
	// engines' work per second is the same before and inside the window.
	if total := end.Sub(windowStart.Add(-o.Warmup)); total > 0 && r.Duration > 0 {
		share := r.Duration / total.Seconds()
		r.Client.UserSeconds = (user - cpuUser).Seconds() * share
		r.Client.SysSeconds = (sys - cpuSys).Seconds() * share
	}
	r.finish()
	return r, nil
}

// WatchWindow calls hook (when not nil) as a window of length opening at
// open opens and closes, on one goroutine of its own, the edges in order.
// The returned function ends the watch: a window not yet open never
// opens, and one open closes at once (an attack ended early); the hook
// has returned when it does.
func WatchWindow(hook func(open bool), open time.Time, length time.Duration) (ended func()) {
	if hook == nil {
		return func() {}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(time.Until(open))
		defer t.Stop()
		select {
		case <-t.C:
		case <-stop:
			return
		}
		hook(true)
		t.Reset(time.Until(open.Add(length)))
		select {
		case <-t.C:
		case <-stop:
		}
		hook(false)
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(stop) })
		<-done
	}
}
