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

	"github.com/sockbench/sockbench/internal/inside"
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
	// server's process group, Exe the program its leader runs.
	Runner      int      `json:"runner"`
	RunnerStart int64    `json:"runner_start"`
	PGID        int      `json:"pgid"`
	LeaderStart int64    `json:"leader_start"`
	Exe         string   `json:"exe"`
	Argv        []string `json:"argv"`
	// Dir is the server's own folder, removed with it.
	Dir string `json:"dir"`
}

// serverRecordDir is the folder of the records, inside the private lock
// folder.
func serverRecordDir() (string, error) {
	d, err := lockDir()
	if err != nil {
		return "", err
	}
	return inside.Dir(d, "servers")
}

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
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(pgid) + "/exe")
	rec := serverRecord{RunID: runID, Runner: os.Getpid(), RunnerStart: self, PGID: pgid, LeaderStart: leader, Exe: exe, Argv: argv, Dir: dir}
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	records, err := serverRecordDir()
	if err != nil {
		return nil, fmt.Errorf("record the server: %w", err)
	}
	path := filepath.Join(records, strconv.Itoa(pgid)+".json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
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
	records, err := serverRecordDir()
	if err != nil {
		say("warning: not looking for servers left by earlier runs: %v", err)
		return
	}
	entries, err := os.ReadDir(records)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(records, e.Name())
		rec, ok := readRecord(path)
		if !ok {
			// Not a record this runner wrote: leave it for a person.
			continue
		}
		if alive(rec.Runner, rec.RunnerStart) {
			continue
		}
		switch rec.group() {
		case groupGone:
		case groupNotTheServer:
			say("warning: not killing process group %d: it is no longer the server %s recorded by run %s (%s)", rec.PGID, rec.Exe, rec.RunID, path)
			os.Remove(path)
			continue
		case groupLeft:
			if err := unix.Kill(-rec.PGID, unix.SIGKILL); err == nil {
				say("killed server process group %d of run %s, left running when its runner (pid %d) died: %s", rec.PGID, rec.RunID, rec.Runner, strings.Join(rec.Argv, " "))
			} else if !errors.Is(err, unix.ESRCH) {
				say("warning: could not kill server process group %d of run %s left by a dead runner: %v", rec.PGID, rec.RunID, err)
				continue
			}
		}
		if ownTempDir(rec.Dir) {
			os.RemoveAll(rec.Dir)
		}
		os.Remove(path)
	}
}

// readRecord reads a record only if this user wrote it: a regular file of
// its own.
func readRecord(path string) (serverRecord, bool) {
	var rec serverRecord
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() {
		return rec, false
	}
	data, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(data, &rec) != nil || rec.PGID <= 1 {
		return rec, false
	}
	return rec, true
}

type groupState int

const (
	groupGone         groupState = iota // nothing of the server is left
	groupLeft                           // what is left is the server's
	groupNotTheServer                   // the group's processes are someone else's
)

// group says what is left of the record's process group. The group id is
// the leader's pid, and the kernel does not hand out a pid while a group
// of that id has members: so either the leader is still the server (its
// start time and program say so), or the pid is another process's and
// the group is empty, or the pid is free and the group holds only what
// the server started after itself.
func (rec serverRecord) group() groupState {
	if start, err := procstat.StartTime(rec.PGID); err == nil {
		if start != rec.LeaderStart {
			return groupGone
		}
		exe, _ := os.Readlink("/proc/" + strconv.Itoa(rec.PGID) + "/exe")
		if rec.Exe == "" || exe != rec.Exe {
			return groupNotTheServer
		}
		return groupLeft
	}
	members, err := procstat.Group(rec.PGID)
	if err != nil || len(members) == 0 {
		return groupGone
	}
	for _, start := range members {
		if start < rec.LeaderStart {
			return groupNotTheServer
		}
	}
	return groupLeft
}

// ownTempDir reports whether dir is a server folder the runner made: a
// sockbench-* folder (not a link) of this user's, directly in the
// temporary folder.
func ownTempDir(dir string) bool {
	var st unix.Stat_t
	return dir != "" && filepath.Dir(dir) == filepath.Clean(os.TempDir()) && strings.HasPrefix(filepath.Base(dir), "sockbench-") &&
		unix.Lstat(dir, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR && int(st.Uid) == os.Geteuid()
}
