package report

import (
	"encoding/csv"
	"os"
	"slices"
	"strings"
	"testing"
)

// The cell table shows server closes per request and the fairness between
// connections from the stored results, in the Markdown and the CSV; a
// cell whose results hold none shows none.
func TestConnectionColumns(t *testing.T) {
	r := keepAliveRuns()[0]
	unfair := r.Cells[0]
	for _, rp := range unfair.Reps {
		rp.ServerClosesPerReq, rp.Jain, rp.MinShare, rp.MaxShare = 0.98, 0.62, 0.31, 1.87
	}
	dir := t.TempDir()
	writeStored(t, dir, r)
	p, err := Build(dir, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p.CSV[0])
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	cols := []string{"server_closes_per_req", "jain", "min_share", "max_share"}
	var at []int
	for _, c := range cols {
		i := slices.Index(rows[0], c)
		if i < 0 {
			t.Fatalf("cells.csv has no column %s: %v", c, rows[0])
		}
		at = append(at, i)
	}
	var withFigures int
	for _, row := range rows[1:] {
		var got []string
		for _, i := range at {
			got = append(got, row[i])
		}
		switch {
		case slices.Equal(got, []string{"0.980", "0.6200", "0.310", "1.870"}):
			withFigures++
		case !slices.Equal(got, []string{"", "", "", ""}):
			t.Errorf("row %v: connection figures %v, want those of its results (none)", row, got)
		}
	}
	if withFigures != 1 {
		t.Errorf("%d rows with the stored figures, want 1 (cell %s)", withFigures, unfair.ID)
	}
	md, err := os.ReadFile(p.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| 0.98 | 0.62 (0.31–1.87×) |") {
		t.Errorf("the Markdown cell table does not show server closes 0.98 and fairness 0.62 (0.31–1.87×)")
	}
}
