// Package logwatch is a slog.Handler that keeps every record as a line, for
// tests that wait for a process's log to say something (within a bound,
// never by sleeping).
package logwatch

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Log keeps the lines; its zero value is not ready: use New.
type Log struct {
	mu    sync.Mutex
	lines []string
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

// WaitFor returns the first line that starts with msg, waiting at most
// limit for it.
func (l *Log) WaitFor(msg string, limit time.Duration) (string, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		for _, line := range l.Lines() {
			if strings.HasPrefix(line, msg) {
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
	line := b.String()
	h.l.mu.Lock()
	h.l.lines = append(h.l.lines, line)
	h.l.mu.Unlock()
	select {
	case h.l.grew <- struct{}{}:
	default:
	}
	if h.l.tee != nil {
		h.l.tee(line)
	}
	return nil
}
