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

// copyRunFixture copies the report package's stored run to a new folder.
func copyRunFixture(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dir, os.DirFS("../../report/testdata/run-a")); err != nil {
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
