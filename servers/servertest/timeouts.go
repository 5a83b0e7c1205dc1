package servertest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CheckTimeouts holds the server at addr to its header and idle timeouts
// (the knobs header_timeout and idle_timeout, set to header and idle): a
// client that sends nothing, half a head, a head a byte at a time, nothing
// after an answer, or half a head after one, is closed after the timeout
// that applies, and not before half of it, while a client asking all
// along is served throughout. It returns how many connections should have
// timed out. The idle timeout should be a few header timeouts, so a
// connection closed by the wrong one shows.
func CheckTimeouts(t *testing.T, addr string, header, idle time.Duration) (timedOut int) {
	t.Helper()
	stalls := []struct {
		name string
		// stall is what the client does; the timeout that applies, after,
		// counts from when it returns.
		stall func(c net.Conn, br *bufio.Reader, stop <-chan struct{}) error
		after time.Duration
	}{
		{"nothing sent", func(net.Conn, *bufio.Reader, <-chan struct{}) error { return nil }, header},
		{"half a head", func(c net.Conn, _ *bufio.Reader, _ <-chan struct{}) error {
			_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
			return err
		}, header},
		{"a head a byte at a time", func(c net.Conn, _ *bufio.Reader, stop <-chan struct{}) error {
			// Every byte comes well within the timeout: the deadline counts
			// from the first, and later ones do not push it back. They make
			// a longer and longer target, which no parser refuses before
			// the head is too long.
			if _, err := io.WriteString(c, "GET /"); err != nil {
				return err
			}
			go func() {
				tick := time.NewTicker(header / 10)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := io.WriteString(c, "a"); err != nil {
						return
					}
				}
			}()
			return nil
		}, header},
		{"idle after an answer", func(c net.Conn, br *bufio.Reader, _ <-chan struct{}) error {
			return Ask(c, br)
		}, idle},
		{"half a head after an answer", func(c net.Conn, br *bufio.Reader, _ <-chan struct{}) error {
			if err := Ask(c, br); err != nil {
				return err
			}
			_, err := io.WriteString(c, "GET / HT")
			return err
		}, header},
	}
	done := make(chan struct{})
	served := make(chan error, 1)
	go func() { served <- askUntil(addr, done) }()
	var wg sync.WaitGroup
	for _, tc := range stalls {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			// A hang guard: a connection never closed fails here.
			c.SetDeadline(time.Now().Add(tc.after + 10*time.Second))
			br := bufio.NewReader(c)
			if err := tc.stall(c, br, done); err != nil {
				t.Errorf("%s: %v", tc.name, err)
				return
			}
			began := time.Now()
			// Before it closes, a server may answer a head cut short with
			// an error (net/http sends 400), never with the page.
			answer, err := io.ReadAll(br)
			took := time.Since(began)
			switch {
			case len(answer) > 0 && !bytes.HasPrefix(answer, []byte("HTTP/1.1 4")):
				t.Errorf("%s: the server sent %q; want a close, with an error answer at most", tc.name, answer)
			case err != nil && !errors.Is(err, syscall.ECONNRESET):
				t.Errorf("%s: %v after %v; want the server to close the connection after %v", tc.name, err, took.Round(time.Millisecond), tc.after)
			case took < tc.after/2:
				t.Errorf("%s: closed after %v, before its timeout of %v", tc.name, took.Round(time.Millisecond), tc.after)
			}
		})
	}
	wg.Wait()
	close(done)
	if err := <-served; err != nil {
		t.Errorf("the client asking meanwhile: %v", err)
	}
	return len(stalls)
}

// Ask sends one keep-alive request for the page on c and reads its
// answer, which must be a 200.
func Ask(c net.Conn, br *bufio.Reader) error {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// askUntil asks for the page every few milliseconds on one kept-alive
// connection until done; any failure is its error. It lives longer than
// the header timeout and is never idle for long, so a deadline not moved
// on after its first request would close it.
func askUntil(addr string, done <-chan struct{}) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-done:
			if i == 0 {
				return errors.New("no request was answered")
			}
			return nil
		case <-tick.C:
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := Ask(c, br); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
	}
}
