package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestBenchstatExportOneLinePerSuccessfulRep(t *testing.T) {
	r := synthRun("run-a", []string{"server", "keep_alive", "connections"}, twoAxisCells())
	var b strings.Builder
	if err := writeBenchstat(&b, r); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^BenchmarkCell/server=[a-z]+/keep_alive=(true|false)/connections=100\t1\t[0-9]+\.[0-9] req/s\t[0-9]+ p50-ns\t[0-9]+ p99-ns\t[0-9]+\.[0-9] cpu-ns/req$`)
	var benches int
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			benches++
			if !line.MatchString(l) {
				t.Errorf("malformed benchmark line %q", l)
			}
		}
	}
	// 6 cells × 6 reps, minus the failed one.
	if benches != 35 {
		t.Errorf("%d benchmark lines, want 35 (one per successful repetition)", benches)
	}
	for _, want := range []string{"Unit req/s better=higher\n", "Unit p99-ns better=lower\n", "cpu: AMD EPYC 7B13\n", "goarch: amd64\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("export lacks %q", want)
		}
	}
}

func TestBenchTokenKeepsNamesParseable(t *testing.T) {
	tests := map[string]string{
		"epoll":         "epoll",
		"a b/c=d":       "a_b_c_d",
		"":              "_",
		"template-2":    "template-2_", // would read as GOMAXPROCS 2
		"x-y":           "x-y",
		"large-3044B":   "large-3044B",
		"workers-16\t ": "workers-16__",
	}
	for in, want := range tests {
		if got := benchToken(in); got != want {
			t.Errorf("benchToken(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBenchstatAcceptsExport runs the real benchstat, pinned as a tool of
// the module (go.mod), over two exports; the format test above covers the
// rest.
func TestBenchstatAcceptsExport(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"run-a", "run-b"} {
		var b strings.Builder
		if err := writeBenchstat(&b, synthRun(id, []string{"server", "keep_alive", "connections"}, twoAxisCells())); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id+".txt"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("go", "tool", "benchstat", filepath.Join(dir, "run-a.txt"), filepath.Join(dir, "run-b.txt")).CombinedOutput()
	if err != nil {
		t.Fatalf("benchstat failed: %v\n%s", err, out)
	}
	for _, want := range []string{"req/s", "p99-sec", "cpu-sec/req", "Cell/server=epoll/keep_alive=true/connections=100"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("benchstat output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "parsing") || strings.Contains(string(out), "syntax") {
		t.Errorf("benchstat complained about the input:\n%s", out)
	}
}
