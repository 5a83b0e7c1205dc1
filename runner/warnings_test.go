package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockbench/sockbench/runner/results"
)

// TestInterpretersRecorded: every Python interpreter the plan's servers
// run is asked its version once; one that fails is recorded as unknown,
// with why; a server that is no Python program is not asked.
func TestInterpretersRecorded(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	python := script("python3", `echo "$2" >> `+filepath.Join(dir, "asked")+`; echo CPython 3.13.5`)
	pypy := script("pypy3", "exit 3")
	nginx := script("nginx", "touch "+filepath.Join(dir, "nginx-asked"))
	cell := func(cmd ...string) results.Cell {
		return results.Cell{Server: results.ServerSpec{Command: cmd}}
	}
	plan := &results.Plan{Cells: []results.Cell{cell(python, "serve.py", "epoll"), cell(python, "serve.py", "uvloop"), cell(pypy, "serve.py"), cell(nginx, "-c", "x"), {Server: results.ServerSpec{Model: "epoll"}}}}
	got := interpreters(plan)
	if len(got) != 2 || got[python] != "CPython 3.13.5" || !strings.HasPrefix(got[pypy], "unknown (exit status 3") {
		t.Errorf("interpreters: %q", got)
	}
	if asked, err := os.ReadFile(filepath.Join(dir, "asked")); err != nil || strings.Count(string(asked), "\n") != 1 {
		t.Errorf("python asked %q (%v), want once", asked, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nginx-asked")); err == nil {
		t.Error("nginx was run")
	}
	if got := interpreters(&results.Plan{Cells: []results.Cell{cell(nginx)}}); got != nil {
		t.Errorf("no Python server: %q", got)
	}
}
