package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/servers"
)

// TestCost: CPU per request comes from the window and the answered
// requests; syscalls from the server's own counts when it has them, else
// from the calibration; nothing for a failed repetition.
func TestCost(t *testing.T) {
	rep := func(st *servers.Stats) *Rep {
		return &Rep{Status: OK, Load: &loadgen.Result{Requests: 1000}, Server: &Server{CPUUserSeconds: 0.002, CPUSysSeconds: 0.006, Stats: st}}
	}
	cal := &Calibration{Requests: 500, Syscalls: 1500}
	own := &servers.Stats{Requests: 2000, Connections: 40, AcceptCalls: 50, ListenerWakeups: 10, Syscalls: map[string]uint64{"read": 2000, "write": 2000, "epoll_wait": 1000}}

	c := rep(own).Cost(cal)
	if c.CPUUserUS != 2 || c.CPUSysUS != 6 || c.CPUTotalUS != 8 || c.Syscalls != 2.5 || c.SyscallsFrom != "server" || c.AcceptsPerWakeup != 4 || c.AcceptSyscallsPerConn != 1.5 {
		t.Errorf("with the server's counts: %+v", c)
	}
	c = rep(&servers.Stats{Requests: 2000}).Cost(cal)
	if c.Syscalls != 3 || c.SyscallsFrom != "strace" || c.AcceptsPerWakeup != 0 || c.AcceptSyscallsPerConn != 0 {
		t.Errorf("from the calibration: %+v", c)
	}
	if c := rep(nil).Cost(&Calibration{Error: "strace is not installed"}); c.Syscalls != 0 || c.SyscallsFrom != "" {
		t.Errorf("with a failed calibration: %+v", c)
	}
	failed := rep(own)
	failed.Status = Failed
	if c := failed.Cost(cal); c != nil {
		t.Errorf("a failed repetition has a cost: %+v", c)
	}
}

// TestLinkLatest: the link is replaced, never removed first, so it always
// names a run.
func TestLinkLatest(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"run-1", "run-2"} {
		if err := LinkLatest(dir, id); err != nil {
			t.Fatal(err)
		}
		if got, err := os.Readlink(filepath.Join(dir, LatestLink)); err != nil || got != id {
			t.Errorf("latest -> %q, %v; want %s", got, err, id)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestReadRepChecksWhatItReads: a result written for one repetition and
// read as another, or of another format version, is an error naming it.
func TestReadRepChecksWhatItReads(t *testing.T) {
	dir := t.TempDir()
	if err := WriteRep(dir, &Rep{Cell: "c1", Rep: 1, Status: Failed, Stage: StageVerify, Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRep(dir, "c1", 1)
	if err != nil || got.FormatVersion != FormatVersion || got.Stage != StageVerify {
		t.Fatalf("read back %+v, %v", got, err)
	}
	os.Rename(RepPath(dir, "c1", 1), RepPath(dir, "c1", 2))
	if _, err := ReadRep(dir, "c1", 2); err == nil || !strings.Contains(err.Error(), `holds cell "c1" rep 1, expected cell "c1" rep 2`) {
		t.Errorf("moved file: %v", err)
	}
	data, _ := os.ReadFile(RepPath(dir, "c1", 2))
	os.WriteFile(RepPath(dir, "c1", 2), []byte(strings.Replace(string(data), `"format_version": 1`, `"format_version": 2`, 1)), 0o644)
	if _, err := ReadRep(dir, "c1", 2); err == nil || !strings.Contains(err.Error(), "format version 2; this sockbench reads version 1") {
		t.Errorf("future file: %v", err)
	}
}

// The checked-in report fixtures were written in format version 1 before
// the stored plan had types of its own: they still read, and write back
// the same JSON.
func TestReadsVersion1Manifests(t *testing.T) {
	for _, run := range []string{"run-a", "run-b"} {
		dir := filepath.Join("..", "..", "report", "testdata", run)
		m, err := ReadManifest(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Plan.Cells) != 6 || m.Plan.Cells[0].Server.Model != "epoll" || m.Plan.Cells[0].Load.Duration.D() != 10*time.Second || m.Plan.CPUs.Load.CPUs[6] != 7 {
			t.Errorf("%s: plan %+v", run, m.Plan)
		}
		var stored, again map[string]any
		raw, err := os.ReadFile(ManifestPath(dir))
		if err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(raw, &stored)
		out, _ := json.Marshal(m)
		json.Unmarshal(out, &again)
		if !reflect.DeepEqual(stored["plan"], again["plan"]) {
			t.Errorf("%s: the plan does not write back as it was stored", run)
		}
	}
}

// TestRunFolderWritesFollowNoLink: a cell folder, a repetition's file or
// a manifest planted as a link in a received results folder took a
// resumed run's writes wherever it pointed.
func TestRunFolderWritesFollowNoLink(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, CellsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, CellDir(dir, "c1")); err != nil {
		t.Fatal(err)
	}
	if err := WriteRep(dir, &Rep{Cell: "c1", Rep: 1, Status: Failed, Stage: StageVerify, Reason: "x"}); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("WriteRep into a cell folder that is a link: %v", err)
	}
	if err := WriteCalibration(dir, &Calibration{Cell: "c1"}); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("WriteCalibration into a cell folder that is a link: %v", err)
	}
	target := filepath.Join(elsewhere, "target")
	if err := os.WriteFile(target, []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, ManifestPath(dir)); err != nil {
		t.Fatal(err)
	}
	if err := WriteManifest(dir, &Manifest{RunID: "r"}); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("WriteManifest over a link: %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "theirs" {
		t.Errorf("the link's target now holds %q", data)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 1 {
		t.Errorf("%d files in the link's target folder, want only the test's own", len(entries))
	}
}

// TestManifestIDsArePlainNames: a run id names a comparison's folder, a
// cell id a cell's.
func TestManifestIDsArePlainNames(t *testing.T) {
	for _, c := range []struct{ run, cell, want string }{
		{"../../tmp/x", "c1", `run id "../../tmp/x" is not a plain name`},
		{".hidden", "c1", `run id ".hidden" is not a plain name`},
		{"r", "../c1", `cell id "../c1"`},
		{"r", "c1", ""},
	} {
		dir := t.TempDir()
		m := &Manifest{RunID: c.run, Plan: Plan{Repetitions: 1, CPUs: CPUs{Server: CPUList{Text: "0", CPUs: []int{0}}, Load: CPUList{Text: "1", CPUs: []int{1}}}, Cells: []Cell{{ID: c.cell, Axes: map[string]string{ServerAxis: "epoll"}}}}}
		if err := WriteManifest(dir, m); err != nil {
			t.Fatal(err)
		}
		_, err := ReadManifest(dir)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("run %q, cell %q: %v, want %q", c.run, c.cell, err, c.want)
		}
	}
}
