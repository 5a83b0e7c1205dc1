package main

import (
	"encoding/csv"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// copyRunFixture copies the report package's stored run-a to a new
// folder.
func copyRunFixture(t *testing.T, name string) string { return copyFixtureRun(t, "run-a", name) }

// copyFixtureRun copies one of the report package's stored runs.
func copyFixtureRun(t *testing.T, run, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, os.DirFS("../../report/testdata/"+run)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReportOfRunAgainstItsCopy is the A/A check end to end: `sockbench
// report A B` of two copies of one run finds no significant difference in
// any cell, on any measure it compares (a client-saturated cell's
// requests/s and latency are not compared at all).
func TestReportOfRunAgainstItsCopy(t *testing.T) {
	a, b := copyRunFixture(t, "run-a"), copyRunFixture(t, "run-a-again")
	out := filepath.Join(t.TempDir(), "cmp")
	if msg, code := runCLI(t, "report", a, b, "--format", "csv", "--out", out); code != 0 {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	data, _ := os.ReadFile(filepath.Join(out, "compare.csv"))
	recs, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil || len(recs) != 7 {
		t.Fatalf("compare.csv: %d rows (%v), want a header and 6 cells", len(recs), err)
	}
	for _, rec := range recs[1:] {
		for i, h := range recs[0] {
			if !strings.HasSuffix(h, "_change") {
				continue
			}
			if v := rec[i]; v != "no significant difference" && v != "client saturated" {
				t.Errorf("%s/%s %s: %q, want no significant difference", rec[0], rec[1], h, v)
			}
		}
	}
}

// TestReportFilesAreShared: a report is written to be read by others:
// files 0644 and folders 0755 under the usual umask.
func TestReportFilesAreShared(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	run := copyRunFixture(t, "run-a")
	if msg, code := runCLI(t, "report", run); code != 0 {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	var files int
	err := filepath.WalkDir(filepath.Join(run, "report"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o644)
		if d.IsDir() {
			want = 0o755
		} else {
			files++
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Errorf("%d files in the report, want the tables, page and plots", files)
	}
}

// TestReportRelativeToControl: `sockbench report A B` of two runs with
// the same drift control, B on a machine 20% faster, finds no change
// relative to the control but in the one cell that changed on its own,
// and says it read the runs that way.
func TestReportRelativeToControl(t *testing.T) {
	a, b := copyFixtureRun(t, "run-c", "run-c"), copyFixtureRun(t, "run-d", "run-d")
	out := filepath.Join(t.TempDir(), "cmp")
	msg, code := runCLI(t, "report", a, b, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	if !strings.Contains(msg, "csv: "+filepath.Join(out, "compare-control.csv")) {
		t.Errorf("the command does not list compare-control.csv:\n%s", msg)
	}
	data, _ := os.ReadFile(filepath.Join(out, "compare-control.csv"))
	recs, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil || len(recs) != 7 {
		t.Fatalf("compare-control.csv: %d rows (%v), want a header and 6 cells", len(recs), err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, rec := range recs[1:] {
		want := "no significant difference"
		switch cell := rec[0] + "/" + rec[1]; cell {
		case "epoll/false":
			want = "significant"
		case "epoll/true":
			want = "client saturated"
		case "nethttp/false":
			want = "no data" // every repetition measured on a busy machine
		}
		if got := rec[col["rps_relative_change"]]; got != want {
			t.Errorf("%s/%s req/s relative to the control: %q, want %q", rec[0], rec[1], got, want)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "compare.md"))
	if !strings.Contains(string(md), "Reading: relative to the drift control.") {
		t.Errorf("compare.md does not say which reading it used")
	}
}

// TestReportClaims: report --claims judges the claims file on a folder of
// runs, make forum's layout, into REPORT.md; a claims file with a mistake
// is refused with its line, and so are two folders and a --format.
func TestReportClaims(t *testing.T) {
	parent := t.TempDir()
	copyFixture := copyFixtureRun(t, "run-a", "run-a")
	if err := os.Rename(copyFixture, filepath.Join(parent, "20251124-100000-keep-alive")); err != nil {
		t.Fatal(err)
	}
	claims := filepath.Join(t.TempDir(), "claims.yaml")
	text := `version: 1
claims:
  - id: poll-as-fast
    post: 1
    thread: poll is as fast as epoll with few descriptors
    figure: poll 6K, epoll 5K
    experiment: keep-alive
    python:
      not_applicable: the fixture has no Python server
    go:
      checks:
        - {metric: requests_per_s, cell: "server=poll, keep_alive=false", over: "server=epoll, keep_alive=false", at_least: 0.5}
`
	if err := os.WriteFile(claims, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	msg, code := runCLI(t, "report", parent, "--claims", claims)
	if code != 0 || !strings.Contains(msg, "markdown: "+filepath.Join(parent, "REPORT.md")) {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	md, _ := os.ReadFile(filepath.Join(parent, "REPORT.md"))
	if !strings.Contains(string(md), "| poll-as-fast | #1 |") {
		t.Errorf("REPORT.md has no verdict row:\n%s", md)
	}
	if err := os.WriteFile(claims, []byte(strings.Replace(text, "metric: requests_per_s", "metric: rps", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, code := runCLI(t, "report", parent, "--claims", claims); code == 0 || !strings.Contains(msg, claims+":12: claims[0].go.checks[0].metric: unknown metric \"rps\"") {
		t.Errorf("broken claims: exit %d:\n%s", code, msg)
	}
	if msg, code := runCLI(t, "report", parent, parent, "--claims", claims); code == 0 || !strings.Contains(msg, "--claims judges one results folder") {
		t.Errorf("two folders: exit %d:\n%s", code, msg)
	}
	if msg, code := runCLI(t, "report", parent, "--claims", claims, "--format", "csv"); code == 0 || !strings.Contains(msg, "--format applies to the report of a run") {
		t.Errorf("--format with --claims: exit %d:\n%s", code, msg)
	}
}
