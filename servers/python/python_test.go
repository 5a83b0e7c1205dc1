// Package python holds the tests of the Python servers beside it
// (serve.py and its modules, README.md): the thread's own stacks, started
// as processes under Debian's interpreters, held to what sockbench asks of
// its Go servers.
package python

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
	_ "github.com/sockbench/sockbench/servers/all"
	"github.com/sockbench/sockbench/servers/servertest"
	"github.com/sockbench/sockbench/verify"
)

// stack is one Python server: an interpreter, a layer and its flags.
type stack struct {
	interp string
	layer  string
	flags  []string
}

func (s stack) String() string {
	return strings.Join(append([]string{filepath.Base(s.interp), s.layer}, s.flags...), " ")
}

func (s stack) with(flags ...string) stack {
	return stack{s.interp, s.layer, append(slices.Clone(s.flags), flags...)}
}

var rawLayers = []string{"epoll", "poll", "selectors"}

// stacks are the thread's stacks under the interpreters that can run
// them: all six under CPython with httptools; under PyPy those whose
// modules it can import (jinja2 and trio are pure Python, and Debian's
// pypy3 finds them in /usr/lib/python3/dist-packages; httptools and uvloop
// are CPython extensions), with the pure-Python parser.
func stacks() []stack {
	var out []stack
	for _, l := range append(slices.Clone(rawLayers), "asyncio", "uvloop", "trio") {
		out = append(out, stack{cpython, l, nil})
	}
	for _, l := range append(slices.Clone(rawLayers), "asyncio", "trio") {
		out = append(out, stack{pypy, l, []string{"--parser", "pure"}})
	}
	return out
}

// deviations are the verify cases a server started with these flags
// fails by design: those of every sockbench knob the flags set away from
// its default (servers.Knobs' Deviations: close_after_response's), the
// same cases the Go servers skip. The Python servers have none of their
// own: every one passes every case.
func deviations(flags []string) map[string]string {
	out := map[string]string{}
	for _, k := range servers.Knobs {
		for i, f := range flags {
			name, text, hasValue := strings.Cut(f, "=")
			if name != "--"+k.Flag() {
				continue
			}
			if !hasValue && k.Type() == "bool" {
				text = "true"
			} else if !hasValue && i+1 < len(flags) {
				text = flags[i+1]
			}
			if v, err := k.Parse(text); err == nil && v != k.Default {
				maps.Copy(out, k.Deviations)
			}
		}
	}
	return out
}

// Every Python server passes sockbench's conformance gate, with each
// knob that changes its code path; with close_after_response it fails
// exactly that knob's deviations, which the runner skips.
func TestPythonServersPassVerify(t *testing.T) {
	cases := stacks()
	for _, l := range append(slices.Clone(rawLayers), "asyncio", "uvloop", "trio") {
		base := stack{cpython, l, nil}
		cases = append(cases, base.with("--parser", "pure"), base.with("--close-after-response"))
	}
	for _, l := range rawLayers {
		cases = append(cases, stack{cpython, l, []string{"--rearm", "oneshot"}})
	}
	cases = append(cases,
		stack{cpython, "epoll", []string{"--backlog", "1", "--accept-batch", "1"}},
		stack{cpython, "epoll", []string{"--reuseport", "--listeners", "2"}},
		stack{cpython, "uvloop", []string{"--reuseport=true", "--listeners=2"}},
		stack{cpython, "trio", []string{"--reuseport", "--listeners", "2", "--nodelay=false"}},
		stack{cpython, "epoll", []string{"--handler", "enable-async"}},
		stack{cpython, "trio", []string{"--handler", "enable-async"}},
		stack{cpython, "poll", []string{"--handler", "template-reparse", "--body", "large"}},
		stack{cpython, "selectors", []string{"--handler", "static"}},
		stack{cpython, "asyncio", []string{"--body", "large", "--backlog", "1"}},
		stack{pypy, "epoll", []string{"--parser", "pure", "--close-after-response", "--rearm", "oneshot"}},
	)
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			need(t, c.interp)
			s := start(t, c.interp, c.layer, c.flags...)
			expect := []string{"<title>sockbench</title>"}
			if !slices.Contains(c.flags, "static") {
				expect = append(expect, "Your address is 127.0.0.1.")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := verify.Run(ctx, "http://"+s.addr+"/", verify.Options{ExpectBodyContains: expect})
			if err != nil {
				t.Fatal(err)
			}
			want := deviations(c.flags)
			for _, f := range rep.Failures() {
				if _, ok := want[f.Name]; !ok {
					t.Errorf("%s: sent %s, got %s: %s", f.Name, f.Sent, f.Got, f.Reason)
				}
				delete(want, f.Name)
			}
			for name, why := range want {
				t.Errorf("%s passes, but is listed as failing by design (%s): drop it", name, why)
			}
			s.stop()
		})
	}
}

// Every Python server serves wrk (-t1 -c10 -d1s) without an error, and
// its own counters agree. With close_after_response wrk counts each
// close as a read error, as in the thread's post #5; then the server's
// counters say what happened: one connection per answer, no error.
func TestPythonServersServeWrk(t *testing.T) {
	cases := stacks()
	for _, l := range append(slices.Clone(rawLayers), "asyncio", "uvloop", "trio") {
		cases = append(cases, stack{cpython, l, []string{"--close-after-response"}})
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			need(t, c.interp)
			s := start(t, c.interp, c.layer, c.flags...)
			r := runWrk(t, s.addr)
			st := s.stop()
			closing := slices.Contains(c.flags, "--close-after-response")
			switch {
			case r.requests == 0:
				t.Fatalf("wrk got no answer:\n%s", r.output)
			case r.non2xx > 0 || r.connect > 0 || r.write > 0 || r.timeouts > 0 || (!closing && r.read > 0):
				t.Fatalf("wrk counted errors:\n%s", r.output)
			case st.Errors > 0:
				t.Fatalf("the server answered %d errors", st.Errors)
			case st.Requests < r.requests:
				t.Fatalf("the server counted %d requests, wrk %d", st.Requests, r.requests)
			case closing && st.Connections < st.Requests:
				t.Fatalf("close_after_response: %d connections for %d answers, want one each", st.Connections, st.Requests)
			case closing && r.read > st.Requests:
				t.Fatalf("wrk counted %d read errors for the server's %d closes", r.read, st.Requests)
			}
		})
	}
}

// SIGTERM stops every server cleanly, and the stats file it writes counts
// exactly what happened, in servers.Stats' format; the raw layers count
// their accepts, wakeups and syscalls. With SO_REUSEPORT the processes'
// counters are merged.
func TestStatsFileOnSIGTERM(t *testing.T) {
	cases := stacks()
	cases = append(cases,
		stack{cpython, "epoll", []string{"--reuseport", "--listeners", "2"}},
		stack{cpython, "uvloop", []string{"--reuseport", "--listeners", "2"}},
		stack{cpython, "trio", []string{"--reuseport", "--listeners", "2"}},
	)
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			need(t, c.interp)
			s := start(t, c.interp, c.layer, c.flags...)
			const keepAlive = 3
			conn, br := dial(t, s.addr)
			for i := range keepAlive {
				fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				if status, _ := readResponse(t, br, false); status != 200 {
					t.Fatalf("request %d: status %d", i, status)
				}
			}
			conn.Close()
			conn, br = dial(t, s.addr)
			fmt.Fprintf(conn, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if status, _ := readResponse(t, br, false); status != 404 {
				t.Fatalf("unknown path: status %d", status)
			}
			conn.Close()
			st := s.stop()
			if st.Connections != 2 || st.Requests != keepAlive+1 || st.Errors != 1 || st.BytesRead == 0 || st.BytesWritten == 0 {
				t.Errorf("stats %+v, want 2 connections, %d requests, 1 error, bytes both ways", st, keepAlive+1)
			}
			if !slices.Contains(rawLayers, c.layer) {
				return
			}
			if st.AcceptCalls < 2 || st.ListenerWakeups < 1 || st.AcceptsPerWakeup <= 0 {
				t.Errorf("raw layer: %d accept calls, %d listener wakeups, %.2f accepts per wakeup", st.AcceptCalls, st.ListenerWakeups, st.AcceptsPerWakeup)
			}
			wait := map[string]string{"epoll": "epoll_wait", "poll": "poll", "selectors": "epoll_wait"}[c.layer]
			for _, name := range []string{wait, "accept4", "recvfrom", "sendto", "close"} {
				if st.Syscalls[name] == 0 {
					t.Errorf("no %s counted: %v", name, st.Syscalls)
				}
			}
			if st.Syscalls["accept4"] != st.AcceptCalls {
				t.Errorf("%d accept4 syscalls, %d accept calls", st.Syscalls["accept4"], st.AcceptCalls)
			}
		})
	}
}

// The Python servers answer with the bytes sockbench's Go servers send,
// apart from the Server header and the time: the same page (read from
// the Go templates), the same error answers, the same Connection headers.
func TestSameAnswersAsGo(t *testing.T) {
	need(t, cpython)
	requests := []struct {
		req  string
		head bool
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"GET /?q HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.0\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false},
		{"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", false},
		{"GET / HTTP/1.1\r\n\r\n", false},
		{"GET / HTTP/2.0\r\nHost: x\r\n\r\n", false},
		{"GET /?" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Pad: aaaaaaaaaaaaaaaa\r\n", 400) + "\r\n", false},
	}
	for _, body := range []servers.Body{servers.BodySmall, servers.BodyLarge} {
		m, err := servers.Lookup("epoll")
		if err != nil {
			t.Fatal(err)
		}
		goAddr, _ := servertest.Start(t, m, servers.Options{Body: body})
		for _, parser := range []string{"httptools", "pure"} {
			py := start(t, cpython, "epoll", "--body", string(body), "--parser", parser)
			for _, r := range requests {
				want := answer(t, goAddr, r.req, r.head)
				if got := answer(t, py.addr, r.req, r.head); got != want {
					t.Errorf("body %s, parser %s: %q\nanswered\n%s\nthe Go server answers\n%s", body, parser, r.req, got, want)
				}
			}
			if body == servers.BodySmall {
				if _, page := answerParts(t, py.addr, requests[0].req, false); len(page) != 379 {
					t.Errorf("the small page is %d bytes, the thread's is 379", len(page))
				}
			}
			py.stop()
		}
	}
}

var (
	serverLineRE = regexp.MustCompile(`(?m)^Server: .*\r$`)
	dateLineRE   = regexp.MustCompile(`(?m)^Date: .*\r$`)
	pageTimeRE   = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`)
)

// answer is the server's answer to req, with what differs between
// servers and seconds (Server, Date, the time on the page) blanked.
func answer(t *testing.T, addr, req string, head bool) string {
	t.Helper()
	h, body := answerParts(t, addr, req, head)
	a := serverLineRE.ReplaceAllString(h+body, "Server: -\r")
	a = dateLineRE.ReplaceAllString(a, "Date: -\r")
	return pageTimeRE.ReplaceAllString(a, "TIME")
}

func answerParts(t *testing.T, addr, req string, head bool) (string, string) {
	t.Helper()
	conn, br := dial(t, addr)
	defer conn.Close()
	conn.Write([]byte(req))
	_, parts := readResponse(t, br, head)
	return parts[0], parts[1]
}

// Every flag named after a sockbench knob has the knob's flag name, its
// default and at least its choices, so a run configuration can pass the
// knob's value to a Python server through its {placeholder}.
func TestFlagsMatchKnobs(t *testing.T) {
	need(t, cpython)
	code, out := exitCode(t, cpython, "--describe")
	if code != 0 {
		t.Fatalf("--describe: exit %d\n%s", code, out)
	}
	var d struct {
		Flags []struct {
			Flag    string
			Knob    string
			Default any
			Choices []string
		}
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("--describe: %v\n%s", err, out)
	}
	knobs := 0
	for _, f := range d.Flags {
		if f.Knob == "" {
			continue
		}
		knobs++
		k, ok := servers.LookupKnob(f.Knob)
		if !ok {
			t.Errorf("%s is said to be knob %s, which servers.Knobs lacks", f.Flag, f.Knob)
			continue
		}
		def, _ := json.Marshal(f.Default)
		want, _ := json.Marshal(k.JSON(k.Default))
		if f.Flag != "--"+k.Flag() || string(def) != string(want) {
			t.Errorf("%s (default %s) stands for knob %s: flag --%s, default %s", f.Flag, def, k.Name, k.Flag(), want)
		}
		for _, c := range k.Choices {
			if !slices.Contains(f.Choices, c) {
				t.Errorf("%s lacks the knob's choice %q (it has %v)", f.Flag, c, f.Choices)
			}
		}
	}
	if knobs == 0 {
		t.Fatalf("--describe names no knob:\n%s", out)
	}
}

// A duration flag reads a knob's value as Go's time.ParseDuration does,
// since the runner passes the knob as Go writes it, and refuses what the
// knob refuses.
func TestDurationsReadAsGo(t *testing.T) {
	need(t, cpython)
	texts := []string{"60s", "75s", "500ms", "1m30s", "1.5s", ".25s", "2h", "250us", "250µs", "1h2m3s4ms5us6ns", "+3s"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cpython, append([]string{"-c",
		"import sys, deadlines\nfor a in sys.argv[1:]: print(repr(deadlines.parse_duration(a)))"}, texts...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	if len(got) != len(texts) {
		t.Fatalf("%d durations printed for %d texts:\n%s", len(got), len(texts), out)
	}
	for i, text := range texts {
		want, err := time.ParseDuration(text)
		if err != nil {
			t.Fatal(err)
		}
		seconds, err := strconv.ParseFloat(got[i], 64)
		if err != nil || math.Abs(seconds-want.Seconds()) > 1e-9*want.Seconds() {
			t.Errorf("%q: Python reads %s seconds, Go %v", text, got[i], want.Seconds())
		}
	}
}

// What cannot work is refused before anything listens, in one sentence.
func TestRefusals(t *testing.T) {
	for _, c := range []struct {
		interp string
		args   []string
		code   int
		want   string
	}{
		{cpython, []string{"asyncio", "--handler", "enable-async"}, 2, "cannot run on asyncio"},
		{cpython, []string{"trio", "--accept-batch", "4"}, 2, "--accept-batch does not apply to the trio layer"},
		{cpython, []string{"uvloop", "--rearm", "oneshot"}, 2, "--rearm does not apply to the uvloop layer"},
		{cpython, []string{"epoll", "--listeners", "2"}, 2, "needs --reuseport"},
		{cpython, []string{"epoll", "--backlog", "-1"}, 2, "at least 0"},
		{cpython, []string{"epoll", "--reuseport=maybe"}, 2, "want true or false"},
		{cpython, []string{"epoll", "--header-timeout", "0s"}, 2, "0s: must be positive"},
		{cpython, []string{"trio", "--idle-timeout=-1s"}, 2, "-1s: must be positive"},
		{cpython, []string{"asyncio", "--idle-timeout=75"}, 2, "want a duration such as 60s or 500ms, not '75'"},
		{cpython, []string{"epoll", "--addr", "127.0.0.1:http"}, 1, "listen on 127.0.0.1:http"},
		{pypy, []string{"epoll"}, 1, "httptools is a CPython extension, which PyPy cannot load; use --parser pure"},
		{pypy, []string{"uvloop", "--parser", "pure"}, 1, "uvloop is a CPython extension"},
	} {
		t.Run(stack{c.interp, c.args[0], c.args[1:]}.String(), func(t *testing.T) {
			need(t, c.interp)
			code, out := exitCode(t, c.interp, c.args...)
			if code != c.code || !strings.Contains(out, c.want) {
				t.Errorf("exit %d, printed\n%s\nwant exit %d and %q", code, out, c.code, c.want)
			}
		})
	}
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// readResponse reads one response framed by its Content-Length and
// returns its status and its head and body as they came.
func readResponse(t *testing.T, br *bufio.Reader, head bool) (int, [2]string) {
	t.Helper()
	var h strings.Builder
	length := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the response head: %v (after %q)", err, h.String())
		}
		h.WriteString(line)
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if head {
		length = 0
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatalf("reading a %d-byte body: %v", length, err)
	}
	fields := strings.Fields(h.String())
	status := 0
	if len(fields) > 1 {
		status, _ = strconv.Atoi(fields[1])
	}
	return status, [2]string{h.String(), string(body)}
}
