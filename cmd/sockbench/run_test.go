package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockbench/sockbench/runner"
	"github.com/sockbench/sockbench/runner/results"
)

// TestRunUsageErrors: a broken configuration, a missing argument and an
// unknown flag each end with status 2 and one clear message, before
// anything runs.
func TestRunUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nservers: [epoll]\nload:\n  conections: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", bad}, "sockbench: " + bad + ":4: load.conections: unknown field; load takes mode,"},
		{[]string{"run"}, "sockbench: run needs a configuration file, or --resume with a results folder"},
		{[]string{"run", filepath.Join(dir, "missing.yaml")}, "sockbench: read configuration: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		{[]string{"run", bad, "--fast"}, "unknown flag: --fast"},
		{[]string{"run", "--resume", filepath.Join(dir, "nowhere")}, "results folder " + filepath.Join(dir, "nowhere") + " does not exist"},
	}
	for _, tt := range tests {
		out, code := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(out, tt.want) || strings.Count(out, "\n") != 1 {
			t.Errorf("sockbench %v: exit %d, output %q, want 2 and the one line %q", tt.args, code, out, tt.want)
		}
	}
	if _, err := os.Stat("results"); !os.IsNotExist(err) {
		t.Errorf("a refused run created results: %v", err)
	}
}

// TestRunDryRun lists the cells and runs nothing.
func TestRunDryRun(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("version: 1\ncpus: {server: 0, load: 1}\nservers: [epoll, nethttp]\nmatrix:\n  keep_alive: [true, false]\n"), 0o644)
	out, code := runCLI(t, "run", cfg, "--dry-run")
	if code != 0 || !strings.Contains(out, "4 cells × 3 repetitions") || !strings.Contains(out, "c4-nethttp-keep_alive=false") {
		t.Errorf("exit %d\n%s", code, out)
	}
	if _, err := os.Stat("results"); !os.IsNotExist(err) {
		t.Errorf("a dry run created results: %v", err)
	}
}

// TestDryRunRunsNoProgramOfTheConfiguration: a dry run asked a server's
// python* program for its version, running a program of the
// configuration from a command whose help says it runs nothing.
func TestDryRunRunsNoProgramOfTheConfiguration(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	prog := filepath.Join(dir, "python3")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\ntouch "+ran+"\necho CPython 3.11.2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	text := "version: 1\ncpus: {server: 0, load: 1}\nservers:\n  - name: py\n    command: [" + prog + ", serve.py, --addr, \"{addr}\"]\n    url: http://{addr}/\n"
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runCLI(t, "run", cfg, "--dry-run"); code != 0 || !strings.Contains(out, "c1-py") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the dry run ran the configuration's python3")
	}
}

// TestRunInterruptedBySignal: SIGINT in the middle of a run stops it,
// keeps what finished, records the rest as not run, still builds the
// report, and exits 1 saying how to resume.
func TestRunInterruptedBySignal(t *testing.T) {
	dir := t.TempDir()
	cfg := "version: 1\nname: sig\nrepetitions: 3\ncpus: {server: 0, load: 1}\nservers: [epoll]\nload: {connections: 2, duration: 1s, warmup: 100ms}\n"
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(cfg), 0o644)
	cmd := exec.Command(binPath, "run", "c.yaml")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the first repetition's result exists, then interrupt.
	rep1 := filepath.Join(dir, "results", "latest", "cells", "c1-epoll", "rep-1.json")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(rep1); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no first result within 30s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("sockbench run did not stop within 30s of SIGINT:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(out.String(), "finish it with: sockbench run --resume") {
		t.Errorf("exit %d:\n%s", code, out.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, "results", "latest", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Status     string `json:"status"`
		Unfinished []struct {
			Rep    int    `json:"rep"`
			Reason string `json:"reason"`
		} `json:"unfinished"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Status != "interrupted" || len(m.Unfinished) == 0 || m.Unfinished[len(m.Unfinished)-1].Rep != 3 {
		t.Errorf("manifest: %s", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "results", "latest", "report", "index.html")); err != nil {
		t.Errorf("no report after the interrupt: %v", err)
	}
}

// TestReportFailureKeepsResults: the report is built after the run, from
// what it stored; when it cannot be built the run says so, and the stored
// results are untouched for `sockbench report` to try again.
func TestReportFailureKeepsResults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run-a")
	if err := os.CopyFS(dir, os.DirFS("../../report/testdata/run-a")); err != nil {
		t.Fatal(err)
	}
	rep := filepath.Join(dir, "cells", "c1", "rep-1.json")
	before, err := os.ReadFile(rep)
	if err != nil {
		t.Fatal(err)
	}
	// A file where the report's folder goes: Build cannot create it.
	if err := os.WriteFile(filepath.Join(dir, "report"), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = summarize(&out, &runner.Summary{Dir: dir, RunID: "run-a", Status: results.Complete})
	if err == nil || !strings.Contains(out.String(), "report: not built: ") || !strings.Contains(out.String(), "epoll") {
		t.Fatalf("summarize: %v\n%s", err, out.String())
	}
	if after, err := os.ReadFile(rep); err != nil || !bytes.Equal(after, before) {
		t.Errorf("stored result changed: %v", err)
	}
	os.Remove(filepath.Join(dir, "report"))
	out.Reset()
	if err := summarize(&out, &runner.Summary{Dir: dir, RunID: "run-a", Status: results.Complete}); err != nil || !strings.Contains(out.String(), "report: "+filepath.Join(dir, "report", "index.html")) {
		t.Errorf("rebuilt: %v\n%s", err, out.String())
	}
}

// TestKilledRunnerLeavesNoServers: a runner killed with SIGKILL mid-cell
// takes its server with it (the server's whole process group is gone); what
// a server started itself and left behind in its group is killed by the
// next run, which says so.
func TestKilledRunnerLeavesNoServers(t *testing.T) {
	dir := t.TempDir()
	records := filepath.Join(os.Getenv("SOCKBENCH_LOCK_DIR"), "servers")
	// killMidCell kills the runner once its server is recorded and has
	// members members alive in its group (a forker's child too: killed
	// before the fork, the forker leaves nothing behind).
	killMidCell := func(name, cfg string, members int) int {
		t.Helper()
		os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(cfg), 0o644)
		cmd := exec.Command(binPath, "run", name+".yaml")
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer cmd.Process.Kill()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			entries, _ := os.ReadDir(records)
			if len(entries) == 1 {
				pgid, err := strconv.Atoi(strings.TrimSuffix(entries[0].Name(), ".json"))
				if err != nil {
					t.Fatal(err)
				}
				if len(liveMembers(pgid)) < members {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
				cmd.Process.Signal(syscall.SIGKILL)
				return pgid
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no server started within 30s:\n%s", out.String())
		return 0
	}
	gone := func(pid int) bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return os.IsNotExist(err)
	}
	waitGone := func(pid int, what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !gone(pid); {
			if time.Now().After(deadline) {
				t.Fatalf("%s (pid %d) still running 10s after its runner was killed", what, pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	const head = "version: 1\nrepetitions: 1\ncpus: {server: 0, load: 1}\nload: {connections: 2, duration: 30s, warmup: 0s}\n"

	pgid := killMidCell("builtin", head+"servers: [epoll]\n", 1)
	waitGone(pgid, "the epoll server")
	if live := liveMembers(pgid); len(live) != 0 {
		t.Errorf("process group %d of the killed runner's epoll server still has %v", pgid, live)
	}
	os.RemoveAll(records) // its record stays until a run looks; not this test's point

	pgid = killMidCell("forker", head+`servers:
  - name: forker
    command: [sh, -c, 'sleep 300 & exec "$0" serve epoll --addr "$1"', "{sockbench}", "{addr}"]
    url: http://{addr}/
`, 2)
	waitGone(pgid, "the forking server's leader")
	if live := liveMembers(pgid); len(live) == 0 {
		t.Fatalf("the forker's sleep should outlive its killed runner until the next run")
	}
	cmd := exec.Command(binPath, "run", "next.yaml")
	os.WriteFile(filepath.Join(dir, "next.yaml"), []byte("version: 1\nrepetitions: 1\ncpus: {server: 0, load: 1}\nservers: [epoll]\nload: {connections: 2, duration: 200ms, warmup: 0s}\n"), 0o644)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("next run: %v\n%s", err, out)
	}
	// A killed process may stay a zombie until init waits for it: what
	// counts is that nothing in the group runs any more.
	for deadline := time.Now().Add(10 * time.Second); len(liveMembers(pgid)) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("after the next run, process group %d still has %v", pgid, liveMembers(pgid))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(string(out), fmt.Sprintf("killed server process group %d of run ", pgid)) {
		t.Errorf("the next run did not say what it killed:\n%s", out)
	}
	if entries, _ := os.ReadDir(records); len(entries) != 0 {
		t.Errorf("%d server records left after a clean run", len(entries))
	}
}

// liveMembers lists the processes of group pgid that are not zombies.
func liveMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var live []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// After the command name's last ')': state, ppid, pgrp, ...
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			live = append(live, pid)
		}
	}
	return live
}
