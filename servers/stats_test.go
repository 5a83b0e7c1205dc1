package servers

import (
	"path/filepath"
	"testing"
)

// The stats file carries every counter, the ones of the failure paths
// (refusals, failed accepts, timeouts) included: they are what tells a
// benchmark that its server was starved or cut connections.
func TestStatsFileRoundTrip(t *testing.T) {
	var in Stats
	in.Add(Stats{Server: "epoll", Connections: 3, Requests: 7, Refused: 1, AcceptErrors: 4, TimedOut: 2})
	in.Add(Stats{AcceptErrors: 1, TimedOut: 1})
	in.Server = "epoll"
	path := filepath.Join(t.TempDir(), "stats.json")
	if err := WriteStatsFile(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadStatsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out.AcceptErrors != 5 || out.TimedOut != 3 || out.Refused != 1 || out.Requests != 7 || out.Server != "epoll" {
		t.Errorf("wrote %+v, read %+v", in, out)
	}
}
