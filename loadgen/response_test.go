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

// Responses in each of the framings the parser knows.
const (
	respLength  = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	respChunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
	respClosing = "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
	respHTTP10  = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
	respToEOF   = "HTTP/1.1 200 OK\r\n\r\nbody until the end"
	respInterim = "HTTP/1.1 100 Continue\r\n\r\n" + respLength
)

func TestResponsesParseWhateverTheReadSizes(t *testing.T) {
	for _, tc := range []struct {
		name, stream string
		noBody       bool
		want         []string
	}{
		{"content-length, pipelined", respLength + respLength, false, []string{"200/43/keep", "200/43/keep"}},
		{"chunked with trailer", respChunked, false, []string{"200/" + strconv.Itoa(len(respChunked)) + "/keep"}},
		{"connection close", respClosing, false, []string{"404/" + strconv.Itoa(len(respClosing)) + "/close"}},
		{"HTTP/1.0", respHTTP10, false, []string{"200/" + strconv.Itoa(len(respHTTP10)) + "/close"}},
		{"body to EOF", respToEOF, false, []string{"200/" + strconv.Itoa(len(respToEOF)) + "/close"}},
		{"1xx skipped", respInterim, false, []string{"200/43/keep"}},
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

// A peer that is no HTTP server is malformed as soon as its first bytes
// say so, in pieces of any size, before a head could end: otherwise an SSH
// banner or a TLS record would wait for "\r\n\r\n" and count as timeouts.
// Read whole, the message is `sockbench verify`'s; read in pieces, it
// quotes what had arrived.
func TestNonHTTPPeersAreMalformedAtOnce(t *testing.T) {
	const notHTTP = "version is not HTTP/1.0 or HTTP/1.1"
	for _, tc := range []struct{ stream, why, whole string }{
		{"SSH-2.0-OpenSSH_9.2\r\n", notHTTP, `status line "SSH-2.0-OpenSSH_9.2": ` + notHTTP},
		{"\x16\x03\x01\x00\xa5\x01\x00", notHTTP, `status line "\x16\x03\x01\x00\xa5\x01\x00": ` + notHTTP},
		{"HTTP/2 200\r\n", notHTTP, `status line "HTTP/2 200": ` + notHTTP},
		{"HTTP/1.1 2x0 OK\r\nContent-Le", "status code is not three digits", `status line "HTTP/1.1 2x0 OK": status code is not three digits`},
		{"HTTP/1.1200 OK", "want a single space", `status line "HTTP/1.1200 OK": want a single space around a three-digit status code`},
	} {
		for _, piece := range []int{1, 3, 1 << 20} {
			want := tc.why
			if piece > len(tc.stream) {
				want = tc.whole
			}
			_, err := feed(t, tc.stream, piece, false)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q in %d-byte reads: %v, want %q", tc.stream, piece, err, want)
			}
		}
	}
	// The start of a good head, cut anywhere, is no error.
	for _, start := range []string{"H", "HTTP/1.0", "HTTP/1.1 ", "HTTP/1.1 200 OK\r", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"} {
		for _, piece := range []int{1, 2, 1 << 20} {
			if _, err := feed(t, start, piece, false); err != nil {
				t.Errorf("%q in %d-byte reads: %v", start, piece, err)
			}
		}
	}
}

// The parser runs for every answer the closed-loop engine reads: it must
// not allocate, whatever the framing and however the reads split it (a
// split head is carried over in a buffer that must be reused, not grown
// again). The total over many responses is checked, so an allocation
// every so many responses shows too.
func TestResponseParserAllocatesNothing(t *testing.T) {
	for _, tc := range []struct {
		name, stream string
		// responses is how many responses the stream holds.
		responses int
	}{
		{"content-length, pipelined", respLength + respLength + respClosing, 3},
		{"chunked with trailer", respChunked + respChunked, 2},
		{"1xx skipped", respInterim + respHTTP10, 2},
		{"body to EOF", respToEOF, 1},
	} {
		for _, piece := range []int{1, 7, len(tc.stream)} {
			p := respParser{}
			stream := []byte(tc.stream)
			parsed := 0
			parse := func() {
				for i := 0; i < len(stream); i += piece {
					b := stream[i:min(i+piece, len(stream))]
					for len(b) > 0 {
						n, complete, err := p.next(b)
						if err != nil {
							t.Fatalf("%s in %d-byte reads: %v", tc.name, piece, err)
						}
						b = b[n:]
						if complete {
							parsed++
						}
					}
				}
				if p.eof() {
					parsed++
				}
			}
			const streams = 1000
			allocs := testing.AllocsPerRun(1, func() {
				for range streams {
					parse()
				}
			})
			if allocs != 0 {
				t.Errorf("%s in %d-byte reads: %v allocations in %d streams, want none", tc.name, piece, allocs, streams)
			}
			// A warming run and the measured one.
			if want := 2 * streams * tc.responses; parsed != want {
				t.Errorf("%s in %d-byte reads: %d responses parsed, want %d", tc.name, piece, parsed, want)
			}
		}
	}
}
