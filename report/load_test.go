package report

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sockbench/sockbench/runner/results"
)

// TestBadInputIsAClearError: every way a results folder can be broken
// stops the report with one sentence naming the file, never a panic and
// never a table that is silently missing rows.
func TestBadInputIsAClearError(t *testing.T) {
	rep := filepath.Join("cells", "c2", "rep-1.json")
	tests := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		file   string // the file the error must name
		words  string // and what it must say about it
	}{
		{"truncated rep", func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, rep), 0.6) }, rep, "truncated"},
		{"truncated manifest", func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, results.ManifestName), 0.5) }, results.ManifestName, "truncated"},
		{"empty rep", func(t *testing.T, dir string) { write(t, filepath.Join(dir, rep), "") }, rep, "empty"},
		{"rep not JSON", func(t *testing.T, dir string) { write(t, filepath.Join(dir, rep), "\x89PNG\r\n\x1a\n....") }, rep, "not JSON"},
		{"foreign JSON rep", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, rep), `{"name": "left-pad", "version": "1.3.0"}`)
		}, rep, "not a sockbench repetition result"},
		{"rep is an array", func(t *testing.T, dir string) { write(t, filepath.Join(dir, rep), `[1, 2, 3]`) }, rep, "JSON array"},
		{"rep of another cell", func(t *testing.T, dir string) {
			data, _ := os.ReadFile(filepath.Join(dir, "cells", "c1", "rep-1.json"))
			write(t, filepath.Join(dir, rep), string(data))
		}, rep, `holds cell "c1"`},
		{"wrong field type", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, rep), `"requests_per_sec": `, `"requests_per_sec": "fast", "x": `)
		}, rep, "requests_per_sec"},
		{"bad histogram", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, rep), `"latency_histogram": "HISTF`, `"latency_histogram": "garbage`)
		}, rep, "histogram does not decode"},
		{"unknown status", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, rep), `"status": "ok"`, `"status": "maybe"`)
		}, rep, `"maybe"`},
		{"missing rep of a complete run", func(t *testing.T, dir string) { remove(t, filepath.Join(dir, rep)) }, rep, "missing"},
		{"no manifest", func(t *testing.T, dir string) { remove(t, filepath.Join(dir, results.ManifestName)) }, "", "not a sockbench results folder"},
		{"foreign manifest", func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, results.ManifestName), `{"compilerOptions": {}}`)
		}, results.ManifestName, "not a sockbench manifest"},
		{"future manifest", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, results.ManifestName), `"format_version": 1`, `"format_version": 7`)
		}, results.ManifestName, "format version 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyFixture(t, "run-a")
			tt.break_(t, dir)
			_, err := Build(dir, Options{OutDir: t.TempDir()})
			if err == nil {
				t.Fatal("Build succeeded on a broken folder")
			}
			msg := err.Error()
			if !strings.Contains(msg, filepath.Join(dir, tt.file)) {
				t.Errorf("error does not name %s: %s", tt.file, msg)
			}
			if !strings.Contains(msg, tt.words) {
				t.Errorf("error does not say %q: %s", tt.words, msg)
			}
			if strings.Count(msg, "\n") > 0 {
				t.Errorf("error is more than one sentence on one line: %q", msg)
			}
		})
	}
}

func TestMissingFolderIsAClearError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no-such-run")
	_, err := Build(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), dir+" does not exist") {
		t.Errorf("Build on a missing folder: %v, want it named as missing", err)
	}
}

// TestInterruptedRunReportsWhatItHas: a run stopped part-way keeps its
// finished repetitions; the missing ones are listed, not an error.
func TestInterruptedRunReportsWhatItHas(t *testing.T) {
	dir := copyFixture(t, "run-a")
	replaceIn(t, filepath.Join(dir, results.ManifestName), `"status": "complete"`, `"status": "interrupted"`)
	for i := 1; i <= 6; i++ {
		remove(t, filepath.Join(dir, "cells", "c3", "rep-"+strconv.Itoa(i)+".json"))
	}
	p, err := Build(dir, Options{OutDir: t.TempDir(), Format: FormatMarkdown})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(p.Markdown)
	for _, want := range []string{
		`status is "interrupted"`,
		"server=poll, keep_alive=true, rep 1: not run: no result written (run interrupted)",
		"| poll | true | – | – |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func truncate(t *testing.T, path string, keep float64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, string(data[:int(float64(len(data))*keep)]))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	write(t, path, strings.Replace(string(data), old, new, 1))
}
