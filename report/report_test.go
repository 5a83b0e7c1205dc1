package report

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sockbench/sockbench/runner/results"
)

// checkGolden compares a written file with testdata/golden/<name>; with
// -update it rewrites the golden file instead.
func checkGolden(t *testing.T, got, name string) {
	t.Helper()
	data, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(data) != string(want) {
		t.Errorf("%s differs from %s:\n%s", filepath.Base(got), golden, firstDifference(string(want), string(data)))
	}
}

// firstDifference shows the first differing line, enough to see what
// moved without dumping two whole files.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(same lines, different bytes)"
}

// TestBuildFixture builds the whole report of the checked-in run and holds
// the tables to their golden files: the same stored results must always
// give the same tables, byte for byte.
func TestBuildFixture(t *testing.T) {
	out := t.TempDir()
	p, err := Build(filepath.Join("testdata", "run-a"), Options{OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, p.Markdown, "run-a.md")
	checkGolden(t, p.CSV[0], "run-a-cells.csv")
	checkGolden(t, p.CSV[1], "run-a-ranking.csv")
	checkGolden(t, p.Benchstat[0], "run-a-bench.txt")
	if len(p.Plots) != 12 {
		t.Errorf("%d plot files, want 12: %v", len(p.Plots), p.Plots)
	}
	for _, f := range p.Plots {
		if strings.HasSuffix(f, ".png") {
			checkPNG(t, f)
		} else {
			checkSVG(t, f)
		}
	}
	page, err := os.ReadFile(p.HTML)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		"sockbench run run-a", "AMD EPYC 7B13", "net.core.somaxconn",
		`<img class="chart" src="data:image/png;base64,`,
		"server exited during measurement: signal: killed",
		"not compared: client saturated", "&#43;12.6% [&#43;12.2%, &#43;13.1%] (p=0.002, n=6&#43;6)", "25,100 ± ∞",
		"ranked by server CPU µs per request", "Not ranked, because the run flagged their numbers",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Self-contained: nothing for the browser to fetch from elsewhere.
	for _, bad := range []string{"http://", "https://", `src="/`, "<link "} {
		if strings.Contains(html, bad) {
			t.Errorf("page refers to %q: it must open without a network", bad)
		}
	}

	// A second build of the same folder writes the same tables.
	again, err := Build(filepath.Join("testdata", "run-a"), Options{OutDir: t.TempDir(), Format: FormatMarkdown})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(p.Markdown)
	b, _ := os.ReadFile(again.Markdown)
	if string(a) != string(b) {
		t.Error("two builds of one folder differ")
	}
	if again.HTML != "" || len(again.Plots) != 0 || len(again.CSV) != 0 {
		t.Errorf("--format md wrote more than Markdown: %v", again.All())
	}
}

// TestBuildWritesIntoRunFolderByDefault: the runner calls Build with no
// options and the report lands in <run>/report.
func TestBuildWritesIntoRunFolderByDefault(t *testing.T) {
	dir := copyFixture(t, "run-a")
	p, err := Build(dir, Options{Format: FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "report", "cells.csv")
	if !slices.Contains(p.CSV, want) {
		t.Errorf("csv written to %v, want %s", p.CSV, want)
	}
	if _, err := os.Stat(want); err != nil {
		t.Error(err)
	}
}

func TestCompareFixtures(t *testing.T) {
	out := t.TempDir()
	p, err := Compare(filepath.Join("testdata", "run-a"), filepath.Join("testdata", "run-b"), Options{OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, p.Markdown, "compare-a-b.md")
	checkGolden(t, p.CSV[0], "compare-a-b.csv")
	md, _ := os.ReadFile(p.Markdown)
	rows := csvRows(t, p.CSV[0])
	for _, tt := range []struct {
		cell, column, want string
	}{
		{"poll/true", "rps_change", "significant"},                  // 104–107k against 94–96k, 6+6 reps
		{"nethttp/true", "rps_change", "no significant difference"}, // a few percent of drift
		{"epoll/true", "rps_change", "client saturated"},            // the client's number, in both runs
		{"epoll/true", "cpu_us_per_req_change", "no significant difference"},
		{"poll/false", "rps_change", "no significant difference"}, // 5 reps in A (one failed), 6 in B
		{"nethttp/false", "p99_us_change", "no significant difference"},
	} {
		if got := rows[tt.cell][tt.column]; got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.cell, tt.column, got, tt.want)
		}
	}
	if got := rows["poll/true"]["rps_change_pct"]; !strings.HasPrefix(got, "10.") && !strings.HasPrefix(got, "11.") {
		t.Errorf("poll/true changed by %s%%, want about +11%%", got)
	}
	if len(p.Benchstat) != 2 || filepath.Base(p.Benchstat[0]) != "run-a.txt" {
		t.Errorf("benchstat files %v, want run-a.txt and run-b.txt", p.Benchstat)
	}
	if _, err := os.Stat(p.HTML); err != nil {
		t.Error(err)
	}
	for _, f := range p.Plots {
		if strings.HasSuffix(f, ".png") {
			checkPNG(t, f)
		}
	}
	// The fixtures differ only in their commit, which is expected to
	// differ between two runs: no warning about the setup.
	if strings.Contains(string(md), "The runs differ in") {
		t.Errorf("unexpected settings warning:\n%s", md)
	}
}

// TestCompareSameRunIsNoDifference is the A/A check on stored results: a
// run compared with a copy of itself differs in nothing, and the report
// says so for every cell and every measure it compares.
func TestCompareSameRunIsNoDifference(t *testing.T) {
	p, err := Compare(filepath.Join("testdata", "run-a"), copyFixture(t, "run-a"), Options{OutDir: t.TempDir(), Format: FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	rows := csvRows(t, p.CSV[0])
	if len(rows) != 6 {
		t.Fatalf("%d cells compared, want 6", len(rows))
	}
	for cell, row := range rows {
		for _, m := range testedMeasures {
			got := row[m.Key+"_change"]
			if got == "client saturated" && m.ClientBound && strings.Contains(row["a_flags"], flagSaturated) {
				continue
			}
			if got != "no significant difference" {
				t.Errorf("%s %s: %q, want no significant difference", cell, m.Title, got)
			}
		}
		if row[measureCPU.Key+"_change"] != "no significant difference" {
			t.Errorf("%s: CPU per request is compared in every cell, saturated or not", cell)
		}
	}
}

// TestQuickRunSaysWhatTwoRepsAllow builds the run issue #10 reported (two
// repetitions, the client saturated in 7 of 12 cells) and holds it to a
// golden file: no difference is claimed, the saturated groups are ranked
// by CPU per request, and every saturated row carries its flag.
func TestQuickRunSaysWhatTwoRepsAllow(t *testing.T) {
	p, err := buildRun(synthRun("quick", []string{"server", "keep_alive", "connections"}, quickRunCells()), FormatMarkdown, outFolder{path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, p.Markdown, "quick.md")
	md, _ := os.ReadFile(p.Markdown)
	text := string(md)
	if strings.Contains(strings.ReplaceAll(text, statsNote(), ""), "(p=") {
		t.Error("a p-value from two repetitions a side: no test of 2+2 can be significant")
	}
	if n := strings.Count(text, "ranked by server CPU µs per request"); n != 2 {
		t.Errorf("%d groups say they are ranked by CPU, want both", n)
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "| ") && strings.Contains(l, "| true |") && !strings.Contains(l, flagSaturated) {
			t.Errorf("a keep-alive row without its saturation flag: %s", l)
		}
	}
}

// TestCompareDefaultFolder: comparing writes beside B, named after A.
func TestCompareDefaultFolder(t *testing.T) {
	b := copyFixture(t, "run-b")
	p, err := Compare(filepath.Join("testdata", "run-a"), b, Options{Format: FormatMarkdown})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(b, "report", "vs-run-a", "compare.md"); p.Markdown != want {
		t.Errorf("comparison written to %s, want %s", p.Markdown, want)
	}
}

// TestReportWritesOnlyInsideTheRunFolder: a results folder may come from
// someone else. A run id with ".." in its manifest named the comparison's
// folder outside B, and a report/ or plots/ that is a link took the
// report's files wherever it pointed.
func TestReportWritesOnlyInsideTheRunFolder(t *testing.T) {
	a, b := copyFixture(t, "run-a"), copyFixture(t, "run-b")
	escape := filepath.Join(filepath.Dir(b), "escape")
	manifest := filepath.Join(a, results.ManifestName)
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	hostile := strings.Replace(string(data), `"run_id": "run-a"`, `"run_id": "../../../../escape"`, 1)
	if hostile == string(data) {
		t.Fatal("the fixture's run id is not where the test expects it")
	}
	if err := os.WriteFile(manifest, []byte(hostile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Compare(a, b, Options{Format: FormatAll}); err == nil || !strings.Contains(err.Error(), "is not a plain name") {
		t.Errorf("Compare with a run id of ..: %v", err)
	}
	if _, err := os.Stat(escape); err == nil {
		t.Errorf("the comparison wrote %s", escape)
	}

	elsewhere := t.TempDir()
	for _, c := range []struct{ link, want string }{
		{"report", "report is a symbolic link"},
		{"report/plots", "plots is a symbolic link"},
	} {
		os.RemoveAll(filepath.Join(b, "report"))
		if c.link != "report" {
			os.Mkdir(filepath.Join(b, "report"), 0o755)
		}
		if err := os.Symlink(elsewhere, filepath.Join(b, c.link)); err != nil {
			t.Fatal(err)
		}
		if _, err := Build(b, Options{Format: FormatAll}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Build with %s a link: %v, want an error with %q", c.link, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("the report wrote through a link: %d files in its target", len(entries))
	}
}

// copyFixture copies a checked-in results folder to a temporary one that
// a test may change.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	src := filepath.Join("testdata", name)
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// csvRows reads a comparison's or ranking's CSV into rows keyed by
// "server/keep_alive", each a map from column header to value.
func csvRows(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		rows[row["server"]+"/"+row["keep_alive"]] = row
	}
	return rows
}
