package loadgen

import (
	"fmt"
	"net/url"
	"strings"
)

// DefaultMaxErrors is the share of failed requests above which an attack
// fails its check.
const DefaultMaxErrors = 0.01

// Check says whether the attack measured what it set out to: it fails, in
// one sentence that names the main error and its cause, when no request
// succeeded (unfinished ones are no successes; in stream mode, when no
// byte was written), or when more than maxErrors of the requests failed,
// wrong statuses included (in stream mode, errors per connection). An
// attack that fails its check measured the server's failure, not its
// speed.
func (r *Result) Check(maxErrors float64) error {
	if r.Mode == Stream {
		return r.checkStream(maxErrors)
	}
	e := r.Errors
	failed := e.Total()
	tried := r.Requests + failed
	switch {
	case r.Requests == 0 && tried == 0 && r.Unfinished > 0:
		return fmt.Errorf("no request was answered in the %s window: all %d sent were still waiting when it closed (the server at %s accepts connections but does not answer, or is slower than the window)",
			fmtSeconds(r.Duration), r.Unfinished, r.host())
	case r.Requests == 0 && tried == 0:
		return fmt.Errorf("no request was sent in the %s window", fmtSeconds(r.Duration))
	case r.Requests == 0:
		return fmt.Errorf("no request succeeded: %s", r.mainError())
	case float64(failed) > maxErrors*float64(tried):
		return fmt.Errorf("%d of %d requests (%s) failed, more than the %s allowed: %s",
			failed, tried, fmtShare(float64(failed)/float64(tried)), fmtShare(maxErrors), r.mainError())
	}
	return nil
}

func (r *Result) checkStream(maxErrors float64) error {
	failed := r.Errors.Total()
	switch {
	case r.BytesWritten == 0 && failed == 0:
		return fmt.Errorf("no byte was written in the %s window", fmtSeconds(r.Duration))
	case r.BytesWritten == 0:
		return fmt.Errorf("no byte was written: %s", r.mainError())
	case float64(failed) > maxErrors*float64(r.Connections):
		return fmt.Errorf("%d stream errors on %d connections, more than the %s allowed: %s",
			failed, r.Connections, fmtShare(maxErrors), r.mainError())
	}
	return nil
}

// mainError names the most frequent kind of error, with its count, its
// first cause and, where the cause has a usual fix, the fix.
func (r *Result) mainError() string {
	e := r.Errors
	kinds := []struct {
		name string
		n    int64
	}{
		{"connect", e.Connect}, {"read", e.Read}, {"write", e.Write},
		{"timeout", e.Timeout}, {"malformed", e.Malformed}, {"status", e.Status},
	}
	top := kinds[0]
	for _, k := range kinds[1:] {
		if k.n > top.n {
			top = k
		}
	}
	if top.name == "status" {
		return fmt.Sprintf("%d answers had a status other than %d (%s)", top.n, r.successStatus(), r.otherStatuses())
	}
	what := fmt.Sprintf("%d %s errors", top.n, top.name)
	if top.name == "malformed" {
		what = fmt.Sprintf("%d malformed responses", top.n)
	}
	cause := r.ErrorCauses[top.name]
	if cause == "" {
		return what
	}
	what += ": " + cause
	if fix := r.fix(top.name, cause); fix != "" {
		what += " — " + fix
	}
	return what
}

// fix is the usual remedy for an error's cause, or "".
func (r *Result) fix(kind, cause string) string {
	has := func(s string) bool { return strings.Contains(cause, s) }
	switch {
	case has("too many open files"):
		if n := readSystemLimits().openFiles; n > 0 {
			return fmt.Sprintf("the open-file limit is %d: raise it (ulimit -n) or use fewer connections", n)
		}
		return "raise the open-file limit (ulimit -n) or use fewer connections"
	case has("cannot assign requested address"):
		return "the local ports are used up: every connection the client closes keeps its port for 60s in TIME_WAIT, so open fewer (no --close, or a lower --rate), widen net.ipv4.ip_local_port_range or set net.ipv4.tcp_tw_reuse"
	case has("connection refused"):
		return fmt.Sprintf("nothing accepts connections at %s any more: did the server stop?", r.host())
	case kind == "malformed" && (has("version is not HTTP/1.0 or HTTP/1.1") || has("malformed HTTP response") || has("before any request")):
		return fmt.Sprintf("what answers at %s is not an HTTP/1.1 server", r.host())
	case kind == "timeout" && has("no answer"):
		return "the server is slower than that, or stopped answering"
	}
	return ""
}

// host is the target's host:port.
func (r *Result) host() string {
	if u, err := url.Parse(r.URL); err == nil && u.Host != "" {
		return u.Host
	}
	return r.URL
}

// fmtShare writes a share as a percentage with the digits it needs.
func fmtShare(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f*100), "0"), ".") + "%"
}
