package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The default generators put sockbench on io_uring beside wrk and
// sockbench on epoll, in the unpaced rows and in the race, so that
// make bench-loadgen reports its CPU per request against wrk's.
func TestLoadgenContestantsIncludeIOUring(t *testing.T) {
	c := &common{connections: 10, sockbench: "bin/sockbench", wrk: "wrk"}
	cts, err := contestants(c, loadgenFlags{generators: defaultGenerators, race: 16}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	argv := map[string][]string{}
	for _, ct := range cts {
		a, err := ct.argv("http://127.0.0.1:1/", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		argv[ct.row] = a
	}
	for row, want := range map[string]string{
		"sockbench":                 "bin/sockbench attack http://127.0.0.1:1/ -c 10 -t 1 -d 1s",
		"sockbench-uring":           "bin/sockbench attack http://127.0.0.1:1/ -c 10 -t 1 -d 1s --io uring",
		"sockbench-uring, depth 16": "bin/sockbench attack http://127.0.0.1:1/ -c 10 -t 1 -d 1s --pipeline 16 --io uring",
	} {
		if got := strings.Join(argv[row], " "); got != want {
			t.Errorf("row %q runs %q, want %q", row, got, want)
		}
	}
	rows := make([]string, len(cts))
	for i, ct := range cts {
		rows[i] = ct.row
	}
	if i, j := slices.Index(rows, "wrk"), slices.Index(rows, "sockbench-uring"); i < 0 || j < 0 || cts[i].kind != cts[j].kind {
		t.Errorf("rows %q: want wrk and sockbench-uring among the unpaced rows, compared in the same round", rows)
	}
}
