package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParse: any text is a plan or problems, never a panic or a hang;
// every problem names the file and a line; a plan has cells and survives
// the trip through the manifest's JSON.
func FuzzParse(f *testing.F) {
	f.Add(base)
	f.Add("version: 1\nservers: [epoll, {name: ext, command: [x, '{addr}'], url: 'http://{addr}/'}]\nmatrix:\n  backlog: [1, 0]\n  keep_alive: [true, false]\nexclude:\n  - {server: ext, backlog: 1}\n")
	f.Add("version: 1\nservers: [epoll]\nknobs: &k {backlog: 1}\nload: {duration: 1s}\n")
	f.Add("version: 1\nservers: *nothing\n")
	f.Add("- a\n- b\n---\nversion: 1\n")
	f.Add("version: 1\nservers: [epoll]\nmatrix: {connections: [1, 1e999, -1]}\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		plan, err := Parse("f.yaml", []byte(text))
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml:") {
					t.Fatalf("a problem without file and line: %q", line)
				}
			}
			return
		}
		if len(plan.Cells) == 0 {
			t.Fatal("a plan without cells and no problem")
		}
		if _, err := json.Marshal(plan); err != nil {
			t.Fatalf("the plan does not encode: %v", err)
		}
	})
}
