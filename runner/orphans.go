package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/procstat"
)

// A server dies with the runner (supervise gives it Pdeathsig), but what
// the server started itself does not: nginx's workers outlive a killed
// master, and a killed runner cannot remove its servers' folders. So every
// running server's process group is recorded, with its runner, in a file
// under the lock folder, removed when the server has been stopped; a run
// that starts later finds the records whose runner is gone and kills what
// is left of those groups.

// serverRecord is one running server, as the next run reads it.
type serverRecord struct {
	RunID string `json:"run_id"`
	// Runner and RunnerStart name the runner process (pid and start time,
	// so a reused pid is not taken for it), PGID and LeaderStart the
	// server's process group.
	Runner      int      `json:"runner"`
	RunnerStart int64    `json:"runner_start"`
	PGID        int      `json:"pgid"`
	LeaderStart int64    `json:"leader_start"`
	Argv        []string `json:"argv"`
	// Dir is the server's own folder, removed with it.
	Dir string `json:"dir"`
}

func serverRecordDir() string { return filepath.Join(lockDir(), "servers") }

// recordServer writes the record of a server that has just started; the
// returned function removes it.
func recordServer(runID string, pgid int, argv []string, dir string) (func(), error) {
	self, err := procstat.StartTime(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("record the server: %w", err)
	}
	leader, err := procstat.StartTime(pgid)
	if err != nil {
		// It exited already: nothing is left to clean up.
		return func() {}, nil
	}
	rec := serverRecord{RunID: runID, Runner: os.Getpid(), RunnerStart: self, PGID: pgid, LeaderStart: leader, Argv: argv, Dir: dir}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(serverRecordDir(), 0o777); err != nil {
		return nil, fmt.Errorf("record the server: %w", err)
	}
	path := filepath.Join(serverRecordDir(), strconv.Itoa(pgid)+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return nil, fmt.Errorf("record the server: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// alive reports whether pid is the process that started at start.
func alive(pid int, start int64) bool {
	got, err := procstat.StartTime(pid)
	return err == nil && got == start
}

// reapOrphans kills the process groups of servers whose runner died, and
// removes their folders; it says what it did.
func reapOrphans(say func(format string, args ...any)) {
	entries, err := os.ReadDir(serverRecordDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(serverRecordDir(), e.Name())
		data, err := os.ReadFile(path)
		var rec serverRecord
		if err != nil || json.Unmarshal(data, &rec) != nil || rec.PGID <= 1 {
			// Not a record this runner wrote: leave it for a person.
			continue
		}
		if alive(rec.Runner, rec.RunnerStart) {
			continue
		}
		// The group id is the leader's pid, and the kernel does not hand
		// out a pid while a group of that id has members: so either the
		// leader is still the server (its start time says so), or the pid
		// is free and the group holds only what the server left, or the pid
		// was given to another process and our group is empty.
		if _, err := procstat.StartTime(rec.PGID); err == nil && !alive(rec.PGID, rec.LeaderStart) {
			os.Remove(path)
			continue
		}
		if err := unix.Kill(-rec.PGID, unix.SIGKILL); err == nil {
			say("killed server process group %d of run %s, left running when its runner (pid %d) died: %s", rec.PGID, rec.RunID, rec.Runner, strings.Join(rec.Argv, " "))
		} else if !errors.Is(err, unix.ESRCH) {
			say("warning: could not kill server process group %d of run %s left by a dead runner: %v", rec.PGID, rec.RunID, err)
			continue
		}
		if rec.Dir != "" && strings.HasPrefix(filepath.Base(rec.Dir), "sockbench-") {
			os.RemoveAll(rec.Dir)
		}
		os.Remove(path)
	}
}
