package all

import (
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"
)

// close_after_response: every model answers, then ends the connection
// itself, with no Connection: close in the answer (thread post #5's
// servers: wrk counted each such close as a read error), and answers
// nothing pipelined behind the first request. The counters still count
// every connection and every answer.
func TestCloseAfterResponse(t *testing.T) {
	for _, m := range servers.Models() {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			addr, stop := servertest.Start(t, m, servers.Options{CloseAfterResponse: true})
			const single = 5
			for i := range single {
				c, br := dial(t, addr)
				c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				io.Copy(io.Discard, resp.Body)
				if resp.StatusCode != 200 || resp.Header.Get("Connection") != "" {
					t.Fatalf("connection %d: status %d, Connection %q; want 200 and no Connection header", i, resp.StatusCode, resp.Header.Get("Connection"))
				}
				if _, err := br.ReadByte(); err != io.EOF {
					t.Fatalf("connection %d: after the answer read %v, want the server's close (EOF)", i, err)
				}
				c.Close()
			}

			c, br := dial(t, addr)
			c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			if code := readStatus(t, br); code != 200 {
				t.Fatalf("pipelined: first answer %d", code)
			}
			if _, err := br.ReadByte(); err == nil || !(errors.Is(err, io.EOF) || isReset(err)) {
				t.Fatalf("pipelined: after the first answer read %v, want the connection closed", err)
			}
			c.Close()

			st := stop()
			if st.Connections != single+1 || st.Requests != single+1 {
				t.Errorf("stats: %d connections, %d requests; want %d of each", st.Connections, st.Requests, single+1)
			}
		})
	}
}

// isReset reports a connection the server reset: a close with the
// client's pipelined request still unread can end that way.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
