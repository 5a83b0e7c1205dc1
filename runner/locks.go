package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/runner/results"
)

// Two runs on one CPU measure each other (two runs pinned to CPU 0 halved
// epoll's requests/s and multiplied its p99 by 16), and two sessions on
// one run folder redo and overwrite each other's repetitions. A run
// therefore holds an exclusive flock on its folder and one on every CPU it
// pins to (within a user's runs: the lock folder is the user's own). The kernel drops a flock when its holder dies, even by SIGKILL,
// so a crashed run never leaves a lock behind.

// LockDirEnv names the environment variable that moves the CPU locks out
// of the user's lock folder: runs that set different folders do not see
// each other's locks (tests use it).
const LockDirEnv = "SOCKBENCH_LOCK_DIR"

// lockDir is where this user's CPU locks and server records live: root's
// in /run/sockbench, another user's in $XDG_RUNTIME_DIR/sockbench or
// /tmp/sockbench-<uid>. It is private (0700, owned by the user): the next
// run kills what a record there names, so nobody else may write one.
func lockDir() (string, error) {
	d := os.Getenv(LockDirEnv)
	switch {
	case d != "":
	case os.Geteuid() == 0:
		d = "/run/sockbench"
	case os.Getenv("XDG_RUNTIME_DIR") != "":
		d = filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "sockbench")
	default:
		d = filepath.Join(os.TempDir(), "sockbench-"+strconv.Itoa(os.Geteuid()))
	}
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("lock folder %s: %w", d, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(d, &st); err != nil {
		return "", fmt.Errorf("lock folder %s: %w", d, err)
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return "", fmt.Errorf("lock folder %s is not a folder (a link?); remove it, or name another with %s", d, LockDirEnv)
	case int(st.Uid) != os.Geteuid():
		return "", fmt.Errorf("lock folder %s belongs to uid %d, not to you (uid %d): another user's records must not steer your runs; remove it, or name another with %s", d, st.Uid, os.Geteuid(), LockDirEnv)
	case st.Mode&0o077 != 0:
		// An earlier sockbench made it 0777.
		if err := os.Chmod(d, 0o700); err != nil {
			return "", fmt.Errorf("lock folder %s: make it private: %w", d, err)
		}
	}
	return d, nil
}

// cpuLockPath is the lock file of one CPU.
func cpuLockPath(cpu int) (string, error) {
	d, err := lockDir()
	return filepath.Join(d, "cpu-"+strconv.Itoa(cpu)+".lock"), err
}

// runLockName is the lock file inside a run's folder.
const runLockName = ".lock"

// heldLock is one flock this process holds.
type heldLock struct{ f *os.File }

func (l heldLock) release() { l.f.Close() }

// errLocked says the lock is another process's; holder says whose.
type errLocked struct{ holder string }

func (e errLocked) Error() string { return "held by " + e.holder }

// tryLock takes the exclusive flock on path without waiting and writes who
// holds it into the file, for the message of the next one who tries.
func tryLock(path, who string) (heldLock, error) {
	// A lock planted as a link would have its target truncated, and a
	// FIFO would block the open.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return heldLock{}, fmt.Errorf("the lock %s is a symbolic link; sockbench takes only a lock file of its own: move it away", path)
	}
	if err != nil {
		return heldLock{}, fmt.Errorf("open the lock %s: %w", path, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return heldLock{}, fmt.Errorf("the lock %s is not a regular file; move it away", path)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return heldLock{}, errLocked{holder: lockHolder(path)}
		}
		return heldLock{}, fmt.Errorf("lock %s: %w", path, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(who+"\n"), 0)
	return heldLock{f}, nil
}

// lockHolder reads who holds a lock, as tryLock wrote it.
func lockHolder(path string) string {
	data, err := os.ReadFile(path)
	if s := strings.TrimSpace(string(data)); err == nil && s != "" {
		return s
	}
	return "another process"
}

// holderText describes this process as a lock holder.
func holderText(runID, dir string) string {
	return fmt.Sprintf("run %s (pid %d, %s)", runID, os.Getpid(), dir)
}

// lockRun takes the run folder's lock.
func lockRun(dir, runID string) (heldLock, error) {
	l, err := tryLock(filepath.Join(dir, runLockName), holderText(runID, dir))
	var locked errLocked
	if errors.As(err, &locked) {
		return heldLock{}, fmt.Errorf("run %s is being carried out by %s; wait for it to end, or stop it first", runID, locked.holder)
	}
	return l, err
}

// lockCPUs takes the lock of every CPU in cpus (sorted, so two runs never
// wait for each other in a cycle), waiting up to wait for CPUs
// another run holds (0: refuse at once). On failure it holds none.
func lockCPUs(cpus []int, who string, wait time.Duration, say func(format string, args ...any)) ([]heldLock, error) {
	deadline := time.Now().Add(wait)
	var held []heldLock
	release := func() {
		for _, l := range held {
			l.release()
		}
	}
	announced := false
	for _, cpu := range cpus {
		path, err := cpuLockPath(cpu)
		if err != nil {
			release()
			return nil, err
		}
		for {
			l, err := tryLock(path, who)
			if err == nil {
				held = append(held, l)
				break
			}
			var locked errLocked
			if !errors.As(err, &locked) {
				release()
				return nil, err
			}
			if !time.Now().Before(deadline) {
				release()
				if wait > 0 {
					return nil, fmt.Errorf("CPU %d is still in use by %s after %v; two runs on one CPU measure each other", cpu, locked.holder, wait)
				}
				return nil, fmt.Errorf("CPU %d is in use by %s; two runs on one CPU measure each other: wait for it (--wait-cpus 10m), or give this run other CPUs (cpus: in the configuration)", cpu, locked.holder)
			}
			if !announced {
				say("waiting for CPU %d, in use by %s", cpu, locked.holder)
				announced = true
			}
			time.Sleep(cpuLockPoll)
		}
	}
	return held, nil
}

// lockCPUs takes the locks of every CPU the plan pins to, the server's and
// the load generator's; the returned function releases them.
func (o Options) lockCPUs(plan *results.Plan, who string) (func(), error) {
	say := func(format string, args ...any) {
		if o.Out != nil {
			fmt.Fprintf(o.Out, format+"\n", args...)
		}
	}
	cpus := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(plan.CPUs.Server.CPUs), plan.CPUs.Load.CPUs...))))
	held, err := lockCPUs(cpus, who, o.WaitForCPUs, say)
	if err != nil {
		return nil, err
	}
	return func() {
		for _, l := range held {
			l.release()
		}
	}, nil
}

// cpuLockPoll is how often a waiting run tries a busy CPU's lock again;
// flock cannot wait with a timeout.
const cpuLockPoll = 200 * time.Millisecond
