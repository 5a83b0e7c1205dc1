package http1

import (
	"testing"

	"github.com/sockbench/sockbench/servers"
)

// FuzzParseRequest feeds arbitrary bytes to the parser and the connection
// state machine. Beyond "no panic", it checks the invariants the servers
// rely on: a complete head is never longer than the input, parsing is a
// pure function of the bytes, and a prefix of a valid head is never
// rejected as malformed before the head is complete.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"GET / HTTP/1.1\r\nHost: x\r\n b\r\n\r\n",
		"GET http://h/?q HTTP/1.1\r\nHost: h\r\n\r\n",
		"\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	p, err := NewPage("fuzz", servers.Options{Handler: servers.HandlerTemplate, Body: servers.BodySmall})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r1, r2 Request
		n, st := ParseRequest(in, &r1)
		n2, st2 := ParseRequest(append([]byte(nil), in...), &r2)
		if n != n2 || st != st2 {
			t.Fatalf("not deterministic: %d/%d vs %d/%d", n, st, n2, st2)
		}
		if n < 0 || n > len(in) || (st == StatusOK) != (n > 0) {
			t.Fatalf("n=%d status=%d for %d bytes", n, st, len(in))
		}
		if st == StatusOK {
			for i := 0; i < n; i++ {
				if _, pst := ParseRequest(in[:i], &r2); pst != StatusIncomplete {
					t.Fatalf("prefix %d of a valid head gave %d", i, pst)
				}
			}
		}
		var c Conn
		c.Reset(p, &Counters{}, loopback)
		consumed, out, closeAfter := c.Serve(in, nil)
		if consumed > len(in) {
			t.Fatalf("consumed %d of %d", consumed, len(in))
		}
		if consumed < len(in) && !closeAfter && len(out) < OutputBudget {
			// Whatever is left must be an incomplete head or body, and
			// serving it again changes nothing.
			if again, _, _ := c.Serve(in[consumed:], nil); again != 0 && c.discard == 0 {
				t.Fatalf("left %d bytes that a second call consumed", len(in)-consumed)
			}
		}
	})
}
