// Package logwatch keeps log lines, from a slog.Logger or a process's
// output, for tests that wait for a log to say something (within a bound,
// never by sleeping).
package logwatch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Log keeps the lines; its zero value is not ready: use New.
type Log struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
	// grew is signalled (without blocking) at every line.
	grew chan struct{}
	tee  func(string)
}

// New makes a Log; tee, when set, is given every line too (t.Log, for a
// verbose test run).
func New(tee func(string)) *Log {
	return &Log{grew: make(chan struct{}, 1), tee: tee}
}

// Logger is a logger writing to l.
func (l *Log) Logger() *slog.Logger { return slog.New(handler{l: l}) }

// Lines are the lines so far: the message, then key=value for each
// attribute.
func (l *Log) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// WaitFor returns the first line that holds msg, waiting at most limit
// for it.
func (l *Log) WaitFor(msg string, limit time.Duration) (string, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		for _, line := range l.Lines() {
			if strings.Contains(line, msg) {
				return line, nil
			}
		}
		select {
		case <-l.grew:
		case <-deadline.C:
			return "", fmt.Errorf("no %q in the log within %s; it has:\n%s", msg, limit, strings.Join(l.Lines(), "\n"))
		}
	}
}

// Write takes output (a process's stdout and stderr) and keeps each line.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.partial = append(l.partial, p...)
	var lines []string
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	l.mu.Unlock()
	for _, line := range lines {
		l.add(line)
	}
	return len(p), nil
}

func (l *Log) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	select {
	case l.grew <- struct{}{}:
	default:
	}
	if l.tee != nil {
		l.tee(line)
	}
}

// Contains reports whether some line so far holds s.
func (l *Log) Contains(s string) bool {
	for _, line := range l.Lines() {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

type handler struct {
	l     *Log
	attrs []slog.Attr
}

func (h handler) Enabled(context.Context, slog.Level) bool { return true }

func (h handler) WithAttrs(as []slog.Attr) slog.Handler {
	return handler{l: h.l, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h handler) WithGroup(string) slog.Handler { return h }

func (h handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%s", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.l.add(b.String())
	return nil
}
