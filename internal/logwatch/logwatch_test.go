package logwatch

import (
	"testing"
	"time"
)

func TestLinesFromWritesAndRecords(t *testing.T) {
	l := New(nil)
	l.Write([]byte("first li"))
	l.Write([]byte("ne\nsecond\nthi"))
	l.Logger().Info("from slog", "key", 42)
	want := []string{"first line", "second", "from slog key=42"}
	got := l.Lines()
	if len(got) != len(want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
	if _, err := l.WaitFor("third", 10*time.Millisecond); err == nil {
		t.Error("an unfinished line was found")
	}
	go l.Write([]byte("rd\n"))
	if line, err := l.WaitFor("third", time.Second); err != nil || line != "third" {
		t.Errorf("WaitFor = %q, %v", line, err)
	}
}
