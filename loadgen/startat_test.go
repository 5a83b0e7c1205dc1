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
	const lead = 300 * time.Millisecond
	at := time.Now().Add(lead)
	r, err := Run(context.Background(), Options{URL: url, Connections: 1, Duration: 100 * time.Millisecond, StartAt: at})
	if err != nil {
		t.Fatal(err)
	}
	// Ignoring StartAt starts a lead early, waiting twice a lead late;
	// half of it is room for a busy machine's delays.
	if late := r.Start.Sub(at); late < 0 || late > lead/2 {
		t.Errorf("started %s after StartAt, want at it (within %s)", late, lead/2)
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
