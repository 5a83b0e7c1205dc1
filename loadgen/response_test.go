package loadgen

import (
	"strconv"
	"strings"
	"testing"
)

// feed gives the parser s in pieces of the given size and returns the
// responses it completed, as "status/size/close".
func feed(t *testing.T, s string, piece int, noBody bool) ([]string, error) {
	t.Helper()
	p := respParser{noBody: noBody}
	var got []string
	for i := 0; i < len(s); i += piece {
		b := []byte(s[i:min(i+piece, len(s))])
		for len(b) > 0 {
			n, complete, err := p.next(b)
			if err != nil {
				return got, err
			}
			if n == 0 {
				t.Fatalf("parser made no progress at byte %d", i)
			}
			b = b[n:]
			if complete {
				got = append(got, summary(&p))
			}
		}
	}
	if p.eof() {
		got = append(got, summary(&p))
	}
	return got, nil
}

func summary(p *respParser) string {
	c := "keep"
	if p.close {
		c = "close"
	}
	return strings.Join([]string{strconv.Itoa(p.status), strconv.Itoa(p.size), c}, "/")
}

func TestResponsesParseWhateverTheReadSizes(t *testing.T) {
	length := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
	closing := "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
	http10 := "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
	toEOF := "HTTP/1.1 200 OK\r\n\r\nbody until the end"
	interim := "HTTP/1.1 100 Continue\r\n\r\n" + length
	for _, tc := range []struct {
		name, stream string
		noBody       bool
		want         []string
	}{
		{"content-length, pipelined", length + length, false, []string{"200/43/keep", "200/43/keep"}},
		{"chunked with trailer", chunked, false, []string{"200/" + strconv.Itoa(len(chunked)) + "/keep"}},
		{"connection close", closing, false, []string{"404/" + strconv.Itoa(len(closing)) + "/close"}},
		{"HTTP/1.0", http10, false, []string{"200/" + strconv.Itoa(len(http10)) + "/close"}},
		{"body to EOF", toEOF, false, []string{"200/" + strconv.Itoa(len(toEOF)) + "/close"}},
		{"1xx skipped", interim, false, []string{"200/43/keep"}},
		{"HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, []string{"200/38/keep"}},
	} {
		for _, piece := range []int{1, 2, 3, 7, 1 << 20} {
			got, err := feed(t, tc.stream, piece, tc.noBody)
			if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("%s in %d-byte reads: got %v, %v; want %v", tc.name, piece, got, err, tc.want)
			}
		}
	}
}

func TestMalformedResponsesAreErrors(t *testing.T) {
	for _, s := range []string{
		"SMTP ready\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxResponseHead) + "\r\n\r\n",
	} {
		for _, piece := range []int{1, 1 << 20} {
			if _, err := feed(t, s, piece, false); err == nil {
				t.Errorf("%.40q in %d-byte reads parsed without error", s, piece)
			}
		}
	}
}
