package supervise

import (
	"io"
	"strings"
	"sync"
)

// tailSize is how much of a process's output is kept: enough to explain
// why it did not start or why it died, without growing during a run.
const tailSize = 4096

// lineSize bounds OutputLine, so that an error message stays one line.
const lineSize = 300

// tail keeps the end of a process's output and hands all of it on to also.
type tail struct {
	also io.Writer

	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.b = append(t.b, b...)
	if over := len(t.b) - tailSize; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	t.mu.Unlock()
	if t.also != nil {
		t.also.Write(b)
	}
	return len(b), nil
}

func (t *tail) text() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// line is the end of the output with every run of white space, line breaks
// included, made one space.
func (t *tail) line() string {
	s := strings.Join(strings.Fields(t.text()), " ")
	if s == "" {
		return "(no output)"
	}
	if len(s) > lineSize {
		s = "…" + s[len(s)-lineSize:]
	}
	return s
}
