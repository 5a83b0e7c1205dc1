package loadgen

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// responses feeds stream to a parser in pieces of at most piece bytes and
// lists what it made of it: the status of each complete response, then
// "error" if the stream stopped being HTTP.
func responses(t *testing.T, stream []byte, piece int, head bool) []int {
	var p respParser
	p.noBody = head
	var got []int
	for len(stream) > 0 {
		chunk := stream[:min(piece, len(stream))]
		for len(chunk) > 0 {
			n, done, err := p.next(chunk)
			if err != nil {
				return append(got, -1)
			}
			if n <= 0 || n > len(chunk) {
				t.Fatalf("next used %d of %d bytes", n, len(chunk))
			}
			if done {
				got = append(got, p.status)
			}
			chunk = chunk[n:]
			stream = stream[n:]
		}
	}
	if p.eof() {
		got = append(got, p.status)
	}
	return got
}

// FuzzResponseParser: the parser reads any byte stream without a panic or
// a stall, and what it makes of the stream does not depend on how the
// reads cut it: whole, byte by byte, or in pieces of any size.
func FuzzResponseParser(f *testing.F) {
	page := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	f.Add([]byte(page+page), 3, false)
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\n"+page), 1, false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n"), 7, false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"), 4, false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"+page), 2, true)
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"), 5, false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"), 5, false)
	f.Add([]byte("SSH-2.0-OpenSSH_9.2\r\n"), 1, false)
	f.Fuzz(func(t *testing.T, stream []byte, piece int, head bool) {
		if piece < 1 {
			piece = 1 - piece%64
		}
		whole := responses(t, stream, len(stream)+1, head)
		cut := responses(t, stream, piece, head)
		if !slices.Equal(whole, cut) {
			t.Fatalf("whole: %v, in pieces of %d: %v", whole, piece, cut)
		}
	})
}

// FuzzParseHeader: a header flag is a name and a value that fit on one
// request line, or an error.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"Host: x", "X-A:b", ":x", "A B: c", "A: b\r\nC: d", "A:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHeader(s)
		if err != nil {
			return
		}
		if h.Name == "" || strings.ContainsAny(h.Name, " \t\r\n:") || strings.ContainsAny(h.Value, "\r\n") {
			t.Fatalf("%q parsed to %q: %q, which does not fit a request line", s, h.Name, h.Value)
		}
	})
}

// FuzzReadFile: a result file someone cut short or edited is a result or
// an error naming the file.
func FuzzReadFile(f *testing.F) {
	// A stored repetition holds a whole result under "load".
	data, err := os.ReadFile(filepath.Join("..", "report", "testdata", "run-a", "cells", "c1", "rep-1.json"))
	if err != nil {
		f.Fatal(err)
	}
	var rep struct {
		Load json.RawMessage `json:"load"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(rep.Load))
	f.Add([]byte(rep.Load[:len(rep.Load)/2]))
	f.Add([]byte(`{"format_version": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "r.json")
		os.WriteFile(path, data, 0o644)
		r, err := ReadFile(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if _, err := r.Histogram(); err != nil {
			t.Fatalf("a result whose histogram does not decode was accepted: %v", err)
		}
	})
}
