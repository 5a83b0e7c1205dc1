package all

import (
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"
)

// Issue #9, defect 3: a client that sends half a request, or nothing, or
// nothing more after an answer, is closed after the header or idle
// timeout, on every model, while a normal client is served throughout.
// Without the timeouts a thousand such clients were held for ever, and
// ten thousand locked the worker pool out.
func TestTimeoutsCloseStalledConnections(t *testing.T) {
	// The idle timeout is three header timeouts, so a connection closed
	// by the wrong one shows.
	const header, idle = 200 * time.Millisecond, 600 * time.Millisecond
	for _, m := range servers.Models() {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			addr, stop := servertest.Start(t, m, servers.Options{HeaderTimeout: header, IdleTimeout: idle})
			stalled := servertest.CheckTimeouts(t, addr, header, idle)
			st := stop()
			// net/http closes its connections itself, unseen.
			if m.Name != "nethttp" && st.TimedOut != uint64(stalled) {
				t.Errorf("stats count %d connections timed out, want %d", st.TimedOut, stalled)
			}
		})
	}
}
