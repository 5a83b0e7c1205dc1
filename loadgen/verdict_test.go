package loadgen

import (
	"strings"
	"testing"
)

// An attack that measured no success, or too many failures, fails its
// check with one sentence naming the main error, its cause and its fix.
func TestCheckNamesTheMainErrorAndItsCause(t *testing.T) {
	const url = "http://127.0.0.1:8080/"
	for _, tc := range []struct {
		name      string
		r         Result
		maxErrors float64
		want      string // "" passes
	}{
		{"all well", Result{Requests: 1000}, DefaultMaxErrors, ""},
		{"errors within the share", Result{Requests: 1000, Errors: Errors{Read: 10}}, DefaultMaxErrors, ""},
		{"all unfinished", Result{Unfinished: 4, Duration: 1}, DefaultMaxErrors,
			"no request was answered in the 1.00s window: all 4 sent were still waiting when it closed (the server at 127.0.0.1:8080 accepts connections but does not answer, or is slower than the window)"},
		{"nothing sent", Result{Duration: 0.01}, DefaultMaxErrors, "no request was sent in the 0.01s window"},
		{"out of descriptors", Result{Errors: Errors{Connect: 80000, Timeout: 5}, ErrorCauses: map[string]string{"connect": "too many open files", "timeout": "no answer within --timeout 2s"}}, DefaultMaxErrors,
			"no request succeeded: 80000 connect errors: too many open files — the open-file limit is "},
		{"out of ports", Result{Requests: 10, Errors: Errors{Connect: 900}, ErrorCauses: map[string]string{"connect": "cannot assign requested address"}}, DefaultMaxErrors,
			"900 of 910 requests (98.9%) failed, more than the 1% allowed: 900 connect errors: cannot assign requested address — the local ports are used up: every connection the client closes keeps its port for 60s in TIME_WAIT"},
		{"wrong statuses", Result{Requests: 100, Errors: Errors{Status: 10}, Statuses: map[int]int{200: 100, 404: 10}}, DefaultMaxErrors,
			"10 of 110 requests (9.09%) failed, more than the 1% allowed: 10 answers had a status other than 200 (10×404)"},
		{"wrong statuses allowed", Result{Requests: 100, Errors: Errors{Status: 10}, Statuses: map[int]int{200: 100, 404: 10}}, 0.1, ""},
		{"timeouts", Result{Requests: 5, Errors: Errors{Timeout: 50}, ErrorCauses: map[string]string{"timeout": "no answer within --timeout 2s"}}, DefaultMaxErrors,
			"50 timeout errors: no answer within --timeout 2s — the server is slower than that, or stopped answering"},
		{"refused", Result{Errors: Errors{Connect: 7}, ErrorCauses: map[string]string{"connect": "connection refused"}}, DefaultMaxErrors,
			"7 connect errors: connection refused — nothing accepts connections at 127.0.0.1:8080 any more: did the server stop?"},
		{"not HTTP", Result{Errors: Errors{Malformed: 12}, ErrorCauses: map[string]string{"malformed": `status line "SSH-2.0-OpenSSH_9.2": version is not HTTP/1.0 or HTTP/1.1`}}, 1,
			`no request succeeded: 12 malformed responses: status line "SSH-2.0-OpenSSH_9.2": version is not HTTP/1.0 or HTTP/1.1 — what answers at 127.0.0.1:8080 is not an HTTP/1.1 server`},
		{"stream, nothing written", Result{Mode: Stream, Connections: 2, Duration: 1}, DefaultMaxErrors, "no byte was written in the 1.00s window"},
		{"stream, stalled", Result{Mode: Stream, Connections: 2, BytesWritten: 1 << 20, Errors: Errors{Timeout: 2}, ErrorCauses: map[string]string{"timeout": "writes made no progress for --timeout 500ms: the server stopped reading"}}, DefaultMaxErrors,
			"2 stream errors on 2 connections, more than the 1% allowed: 2 timeout errors: writes made no progress for --timeout 500ms: the server stopped reading"},
		{"stream, well", Result{Mode: Stream, Connections: 2, BytesWritten: 1 << 20}, DefaultMaxErrors, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.URL = url
			if r.Mode == "" {
				r.Mode = Closed
			}
			err := r.Check(tc.maxErrors)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("failed: %v", err)
			case tc.want == "":
			case err == nil:
				t.Errorf("passed, want %q", tc.want)
			case !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want):
				t.Errorf("%q\nwant %q", err, tc.want)
			case strings.Contains(err.Error(), "\n"):
				t.Errorf("%q is more than one line", err)
			}
		})
	}
}
