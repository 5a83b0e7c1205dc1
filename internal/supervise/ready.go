package supervise

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// readyPoll is how often WaitReady checks again.
const readyPoll = 10 * time.Millisecond

// Check says whether a started process is ready: nil when it is, otherwise
// what is missing. ctx ends when WaitReady gives up.
type Check func(ctx context.Context) error

// WaitReady calls check, and again every few milliseconds, until it passes,
// the process exits, limit passes or ctx ends. An exit is reported with the
// exit status and the end of the output, a timeout with check's last
// error, an ended ctx with ctx.Err(). A check that passes while the process
// has exited counts as the exit: what answered was something else.
func (p *Process) WaitReady(ctx context.Context, limit time.Duration, check Check) error {
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	poll := time.NewTicker(readyPoll)
	defer poll.Stop()
	for {
		err := check(cctx)
		if p.HasExited() {
			return p.exitedEarly()
		}
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return p.exitedEarly()
		case <-cctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s was not ready within %v: %v", p.name, limit, err)
		case <-poll.C:
		}
	}
}

func (p *Process) exitedEarly() error {
	return fmt.Errorf("%s exited before it was ready (%s): %s", p.name, p.ExitText(), p.OutputLine())
}

// attemptLimit bounds one connect or request of the checks below, so that
// a process that accepts but never answers is tried again rather than
// waited for.
const attemptLimit = 500 * time.Millisecond

// Accepts is a Check that passes once addr (host:port) accepts a TCP
// connection.
func Accepts(addr string) Check {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, attemptLimit)
		defer cancel()
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// AnswersHTTP is a Check that passes once a GET of url gets a response, of
// any status.
func AnswersHTTP(url string) Check {
	// No keep-alive: a connection left open by the check would still be
	// open, idle, while the server is measured.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, attemptLimit)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
}
