package runner

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sockbench/sockbench/internal/procstat"
)

// TestLockFolderIsPrivate: a lock folder others can write let them plant
// the records a run acts on; one shared through $TMPDIR let them.
func TestLockFolderIsPrivate(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	t.Setenv(LockDirEnv, open)
	if _, err := lockDir(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(open); st.Mode().Perm() != 0o700 {
		t.Errorf("lock folder left %v, want 0700", st.Mode().Perm())
	}
	link := filepath.Join(base, "link")
	os.Symlink(open, link)
	t.Setenv(LockDirEnv, link)
	if _, err := lockDir(); err == nil || !strings.Contains(err.Error(), "is not a folder") {
		t.Errorf("a lock folder that is a link: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Log("not root: a folder of another user's needs chown")
		return
	}
	theirs := filepath.Join(base, "theirs")
	os.Mkdir(theirs, 0o700)
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	t.Setenv(LockDirEnv, theirs)
	if _, err := lockDir(); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("another user's lock folder: %v", err)
	}
}

// TestLockFileIsNotFollowed: a cpu-N.lock or .lock planted as a link had
// its target truncated and overwritten with the holder's text.
func TestLockFileIsNotFollowed(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	os.WriteFile(target, []byte("keep me"), 0o644)
	lock := filepath.Join(dir, "cpu-0.lock")
	os.Symlink(target, lock)
	if _, err := tryLock(lock, "run x"); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("tryLock through a link: %v", err)
	}
	fifo := filepath.Join(dir, ".lock")
	syscall.Mkfifo(fifo, 0o600)
	if _, err := lockRun(dir, "x"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("lockRun on a FIFO: %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "keep me" {
		t.Errorf("the link's target now holds %q", data)
	}
}

// TestPlantedRecordKillsNothing: a record is acted on only where the
// process group is still the server it names (start time and program):
// one naming a bystander leaves it running and its folder in place, and
// the same record with the bystander's program (the control) kills it.
func TestPlantedRecordKillsNothing(t *testing.T) {
	t.Setenv(LockDirEnv, t.TempDir())
	records, err := serverRecordDir()
	if err != nil {
		t.Fatal(err)
	}
	// A runner that is gone: a process that has exited.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	startBystander := func() *exec.Cmd {
		cmd := exec.Command("sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	plant := func(pid int, exe, dir string) {
		start, err := procstat.StartTime(pid)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(serverRecord{RunID: "planted", Runner: gone.Process.Pid, RunnerStart: 1, PGID: pid, LeaderStart: start, Exe: exe, Argv: []string{"sockbench", "serve"}, Dir: dir})
		if err := os.WriteFile(filepath.Join(records, strconv.Itoa(pid)+".json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	folder, err := os.MkdirTemp("", "sockbench-planted-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(folder)
	var said []string
	say := func(format string, args ...any) { said = append(said, format) }

	bystander := startBystander()
	plant(bystander.Process.Pid, "/usr/bin/sockbench", folder)
	reapOrphans(say)
	if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the bystander was killed: %v", err)
	}
	if _, err := os.Stat(folder); err != nil {
		t.Errorf("the planted record's folder was removed: %v", err)
	}
	if len(said) != 1 || !strings.Contains(said[0], "not killing") {
		t.Errorf("said %q, want one refusal", said)
	}

	// A folder outside the temporary folder is never removed, whatever
	// its name.
	outside := filepath.Join(t.TempDir(), "sockbench-x")
	os.Mkdir(outside, 0o755)
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(bystander.Process.Pid) + "/exe")
	plant(bystander.Process.Pid, exe, outside)
	reapOrphans(say)
	if err := bystander.Wait(); err == nil {
		t.Error("the control: a record naming the bystander's program did not kill it")
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("a folder outside the temporary folder was removed: %v", err)
	}
	if entries, _ := os.ReadDir(records); len(entries) != 0 {
		t.Errorf("%d records left", len(entries))
	}
}
