package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
)

// With StartAt, Run checks first and starts at the instant: the result's
// start is the instant, within the spin's precision, not when Run was
// called.
func TestRunStartsAtStartAt(t *testing.T) {
	url, _ := startModel(t, "epoll", servers.Options{})
	at := time.Now().Add(300 * time.Millisecond)
	r, err := Run(context.Background(), Options{URL: url, Connections: 1, Duration: 100 * time.Millisecond, StartAt: at})
	if err != nil {
		t.Fatal(err)
	}
	if late := r.Start.Sub(at); late < 0 || late > 5*time.Millisecond {
		t.Errorf("started %s after StartAt, want within 5ms after it", late)
	}
	if r.Requests == 0 {
		t.Error("no requests")
	}
}

func TestCancelledBeforeStartAt(t *testing.T) {
	url, _ := startModel(t, "epoll", servers.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := Run(ctx, Options{URL: url, Connections: 1, Duration: time.Second, StartAt: time.Now().Add(time.Minute)})
	if err == nil || !strings.Contains(err.Error(), "before its start") {
		t.Fatalf("err = %v, want a stop before the start", err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("took %s to notice the cancel", took)
	}
}
