package all

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
	const request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	cases := []struct {
		name string
		// stall is what the client does; it returns when the timeout that
		// applies, timeout, starts to count.
		stall   func(t *testing.T, c net.Conn, br *bufio.Reader, stop <-chan struct{})
		timeout time.Duration
	}{
		{"nothing sent", func(*testing.T, net.Conn, *bufio.Reader, <-chan struct{}) {}, header},
		{"half a head", func(t *testing.T, c net.Conn, br *bufio.Reader, _ <-chan struct{}) {
			write(t, c, "GET / HTTP/1.1\r\nHost: x\r\n")
		}, header},
		{"a head a byte at a time", func(t *testing.T, c net.Conn, _ *bufio.Reader, stop <-chan struct{}) {
			// Each byte comes well within the timeout: the deadline is
			// counted from the first, not pushed back by every read.
			write(t, c, "G")
			go func() {
				for range time.Tick(header / 10) {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := c.Write([]byte("X")); err != nil {
						return
					}
				}
			}()
		}, header},
		{"idle after an answer", func(t *testing.T, c net.Conn, br *bufio.Reader, _ <-chan struct{}) {
			write(t, c, request)
			readAnswer(t, br)
		}, idle},
		{"half a head after an answer", func(t *testing.T, c net.Conn, br *bufio.Reader, _ <-chan struct{}) {
			write(t, c, request)
			readAnswer(t, br)
			write(t, c, "GET / HT")
		}, header},
	}
	for _, m := range servers.Models() {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			addr, stop := servertest.Start(t, m, servers.Options{HeaderTimeout: header, IdleTimeout: idle})
			done := make(chan struct{})
			served := make(chan error, 1)
			go func() { served <- askUntil(addr, request, done) }()
			var wg sync.WaitGroup
			for _, tc := range cases {
				wg.Go(func() {
					c, err := net.DialTimeout("tcp", addr, 2*time.Second)
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					// Bounded: a connection never closed fails here.
					c.SetDeadline(time.Now().Add(tc.timeout + 3*time.Second))
					br := bufio.NewReader(c)
					tc.stall(t, c, br, done)
					began := time.Now()
					// Before it closes, a server may answer a head cut
					// short with an error (net/http sends 400), never with
					// the page.
					answer, err := io.ReadAll(br)
					took := time.Since(began)
					switch {
					case len(answer) > 0 && !bytes.HasPrefix(answer, []byte("HTTP/1.1 4")):
						t.Errorf("%s: the server sent %q; want a close, with an error answer at most", tc.name, answer)
					case err != nil && !errors.Is(err, syscall.ECONNRESET):
						t.Errorf("%s: %v after %v; want the server to close the connection after %v", tc.name, err, took.Round(time.Millisecond), tc.timeout)
					case took < tc.timeout/2:
						t.Errorf("%s: closed after %v, before its timeout of %v", tc.name, took.Round(time.Millisecond), tc.timeout)
					}
				})
			}
			wg.Wait()
			close(done)
			if err := <-served; err != nil {
				t.Errorf("the client sending requests meanwhile: %v", err)
			}
			st := stop()
			// net/http closes its connections itself, unseen.
			if m.Name != "nethttp" && st.TimedOut != uint64(len(cases)) {
				t.Errorf("stats count %d connections timed out, want %d", st.TimedOut, len(cases))
			}
		})
	}
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Error(err)
	}
}

// readAnswer reads one answer, which must be the page.
func readAnswer(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if err := readPage(br); err != nil {
		t.Error(err)
	}
}

func readPage(br *bufio.Reader) error {
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

// askUntil sends a request every few milliseconds on one kept-alive
// connection and reads each answer, until done; any failure is its error.
// Its connection is never idle for long, and it lives for longer than
// the header timeout: a deadline not moved on after the first request
// would close it.
func askUntil(addr, request string, done <-chan struct{}) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; ; i++ {
		select {
		case <-done:
			if i == 0 {
				return errors.New("no request was answered")
			}
			return nil
		case <-time.After(10 * time.Millisecond):
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte(request)); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		if err := readPage(br); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
	}
}
