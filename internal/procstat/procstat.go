// Package procstat reads what a process has cost so far — CPU time, resident
// memory, context switches, threads — from /proc, so the runner can charge a
// server (or a load generator) for exactly the window it measured: one
// Snapshot right before the window, one right after, and Sub.
//
// Two facts about /proc shape the code:
//
//   - The utime and stime fields of /proc/PID/stat already sum every thread
//     of the process, living and exited (proc(5); the kernel adds an exiting
//     thread's times to its thread group), so one read covers all threads.
//   - The voluntary_ctxt_switches and nonvoluntary_ctxt_switches lines of
//     /proc/PID/status are the main thread's alone. Checked on Linux 6.18 with
//     two locked goroutines ping-ponging over a channel: /proc/PID/status said
//     4637 voluntary switches, exactly the main thread's
//     /proc/PID/task/PID/status, while the sum over all eight threads was
//     about 20,700. So the switches are summed over /proc/PID/task/*/status;
//     the switches of threads that exited before the sample are lost, which
//     for Go servers (whose threads live as long as the process) and
//     single-threaded nginx workers is nothing.
package procstat

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoProcess is wrapped by the error Sample returns when the process is
// gone (exited and reaped, or never existed).
var ErrNoProcess = errors.New("no such process")

// Snapshot is one reading of a process's cumulative counters. Only the
// difference of two snapshots of the same process means anything; see Sub.
type Snapshot struct {
	// PID is the process that was read (for SampleTree, the root).
	PID int
	// At is when the reading was taken.
	At time.Time
	// User and System are the CPU time consumed since the process started,
	// summed over its threads. Their resolution is one clock tick (10 ms at
	// the usual 100 Hz), so windows should be seconds long.
	User, System time.Duration
	// RSS is the resident set size in bytes at the time of the reading.
	RSS int64
	// VoluntarySwitches counts the times a thread gave up the CPU because it
	// blocked (epoll_wait, futex, a read with no data): high numbers mean a
	// server sleeps and wakes a lot.
	VoluntarySwitches uint64
	// InvoluntarySwitches counts the times the scheduler took the CPU away:
	// high numbers mean the process competed for its CPU.
	InvoluntarySwitches uint64
	// Threads is the number of threads at the time of the reading.
	Threads int
	// Processes is how many processes were summed: 1 for Sample, the size of
	// the tree for SampleTree.
	Processes int
}

// Delta is what a process cost between two snapshots.
type Delta struct {
	// Wall is the time between the two readings.
	Wall time.Duration
	// User and System are the CPU time spent in the window.
	User, System time.Duration
	// VoluntarySwitches and InvoluntarySwitches happened in the window.
	VoluntarySwitches, InvoluntarySwitches int64
	// RSS, Threads and Processes are the later snapshot's values: a level,
	// not a flow.
	RSS       int64
	Threads   int
	Processes int
}

// CPU is user plus system time.
func (d Delta) CPU() time.Duration { return d.User + d.System }

// Utilization is CPU time over wall time: 1.0 means one core fully busy.
func (d Delta) Utilization() float64 {
	if d.Wall <= 0 {
		return 0
	}
	return float64(d.CPU()) / float64(d.Wall)
}

// Sub returns the cost from earlier to s. Both must be readings of the same
// process (or tree); a counter that went backwards — a different process
// under a reused PID, or a tree that lost a member — shows up as a negative
// value rather than being hidden.
func (s Snapshot) Sub(earlier Snapshot) Delta {
	return Delta{
		Wall:                s.At.Sub(earlier.At),
		User:                s.User - earlier.User,
		System:              s.System - earlier.System,
		VoluntarySwitches:   int64(s.VoluntarySwitches) - int64(earlier.VoluntarySwitches),
		InvoluntarySwitches: int64(s.InvoluntarySwitches) - int64(earlier.InvoluntarySwitches),
		RSS:                 s.RSS,
		Threads:             s.Threads,
		Processes:           s.Processes,
	}
}

// StartTime is when process pid started, in clock ticks after boot: with
// the pid it names one process, where a pid alone may have been reused.
func StartTime(pid int) (int64, error) {
	var buf [1024]byte
	b, err := readSmall("/proc/"+strconv.Itoa(pid)+"/stat", buf[:])
	if err != nil {
		return 0, err
	}
	st, err := parseStat(b)
	if err != nil {
		return 0, err
	}
	return st.start, nil
}

// Self reads the current process: the load generator reports its own cost.
func Self() (Snapshot, error) { return Sample(os.Getpid()) }

// Sample reads process pid. A zombie (exited, not yet waited for) can still
// be read and reports its whole life's CPU time; that is how a caller can
// charge a short-lived load generator for everything it did.
func Sample(pid int) (Snapshot, error) {
	s := Snapshot{PID: pid, At: time.Now(), Processes: 1}
	if err := addProcess(&s, pid); err != nil {
		return Snapshot{}, err
	}
	return s, nil
}

// SampleTree reads pid and every process descended from it and sums them.
// nginx needs it: its master process does no HTTP work, its worker is a
// child, and a child's CPU reaches the parent's counters only after it has
// been waited for.
func SampleTree(pid int) (Snapshot, error) {
	s := Snapshot{PID: pid, At: time.Now()}
	if err := addProcess(&s, pid); err != nil {
		return Snapshot{}, err
	}
	s.Processes = 1
	// Bounded by the kernel's pid limit in practice; the explicit cap keeps a
	// corrupted /proc from looping forever.
	queue := []int{pid}
	for i := 0; i < len(queue) && i < 1<<16; i++ {
		kids, err := children(queue[i])
		if err != nil {
			return Snapshot{}, err
		}
		for _, k := range kids {
			// A child that exits between listing and reading is simply not
			// part of this snapshot.
			if err := addProcess(&s, k); errors.Is(err, ErrNoProcess) {
				continue
			} else if err != nil {
				return Snapshot{}, err
			}
			s.Processes++
			queue = append(queue, k)
		}
	}
	return s, nil
}

// addProcess adds one process's counters to s.
func addProcess(s *Snapshot, pid int) error {
	var buf [4096]byte
	b, err := readSmall(fmt.Sprintf("/proc/%d/stat", pid), buf[:])
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("procstat: read process %d: %w (it has exited or never existed)", pid, ErrNoProcess)
		}
		return fmt.Errorf("procstat: read process %d: %w", pid, err)
	}
	st, err := parseStat(b)
	if err != nil {
		return fmt.Errorf("procstat: process %d: %w", pid, err)
	}
	tick := clockTick()
	s.User += time.Duration(st.utime) * tick
	s.System += time.Duration(st.stime) * tick
	s.RSS += st.rssPages * int64(os.Getpagesize())
	s.Threads += st.threads

	vol, invol, err := taskSwitches(pid)
	if err != nil {
		return err
	}
	s.VoluntarySwitches += vol
	s.InvoluntarySwitches += invol
	return nil
}

// PeakRSS is the most resident memory pid has had so far (VmHWM, the
// high-water mark of its resident set), in bytes.
func PeakRSS(pid int) (int64, error) {
	var buf [4096]byte
	b, err := readSmall(fmt.Sprintf("/proc/%d/status", pid), buf[:])
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return 0, fmt.Errorf("procstat: peak RSS of %d: %w", pid, ErrNoProcess)
		}
		return 0, fmt.Errorf("procstat: peak RSS of %d: %w", pid, err)
	}
	n, err := parsePeakRSS(b)
	if err != nil {
		return 0, fmt.Errorf("procstat: peak RSS of %d: %w", pid, err)
	}
	return n, nil
}

// taskSwitches sums the context switches of every thread of pid.
func taskSwitches(pid int) (vol, invol uint64, err error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tids, err := readDirNames(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, 0, fmt.Errorf("procstat: list threads of %d: %w", pid, ErrNoProcess)
		}
		return 0, 0, fmt.Errorf("procstat: list threads of %d: %w", pid, err)
	}
	var buf [4096]byte
	for _, tid := range tids {
		b, err := readSmall(dir+"/"+tid+"/status", buf[:])
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			continue // the thread exited after the listing
		}
		if err != nil {
			return 0, 0, fmt.Errorf("procstat: read thread %s of %d: %w", tid, pid, err)
		}
		v, iv, err := parseSwitches(b)
		if err != nil {
			return 0, 0, fmt.Errorf("procstat: thread %s of %d: %w", tid, pid, err)
		}
		vol += v
		invol += iv
	}
	return vol, invol, nil
}

// children lists pid's child processes. /proc/PID/task/TID/children lists
// the children each thread forked (needs CONFIG_PROC_CHILDREN, which every
// distribution kernel has); without it, fall back to scanning /proc for
// processes whose parent is pid.
func children(pid int) ([]int, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tids, err := readDirNames(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // the process exited; it has no children to add
	}
	if err != nil {
		return nil, fmt.Errorf("procstat: list threads of %d: %w", pid, err)
	}
	var kids []int
	buf := make([]byte, 4096)
	for _, tid := range tids {
		b, err := readSmall(dir+"/"+tid+"/children", buf)
		if errors.Is(err, fs.ErrNotExist) {
			if _, statErr := os.Stat(dir + "/" + tid); statErr == nil {
				return childrenByScan(pid)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("procstat: children of %d: %w", pid, err)
		}
		ks, err := parseIntList(b)
		if err != nil {
			return nil, fmt.Errorf("procstat: children of %d: %w", pid, err)
		}
		kids = append(kids, ks...)
	}
	return kids, nil
}

func childrenByScan(pid int) ([]int, error) {
	var kids []int
	err := scan(func(p int, st stat) {
		if st.ppid == pid {
			kids = append(kids, p)
		}
	})
	return kids, err
}

// Group lists the processes of process group pgid with their start times
// (as StartTime gives them).
func Group(pgid int) (map[int]int64, error) {
	members := map[int]int64{}
	err := scan(func(p int, st stat) {
		if st.pgrp == pgid {
			members[p] = st.start
		}
	})
	return members, err
}

// scan calls each with every process's stat.
func scan(each func(pid int, st stat)) error {
	names, err := readDirNames("/proc")
	if err != nil {
		return fmt.Errorf("procstat: list /proc: %w", err)
	}
	var buf [4096]byte
	for _, n := range names {
		p, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		b, err := readSmall("/proc/"+n+"/stat", buf[:])
		if err != nil {
			continue // gone, or not ours to read
		}
		if st, err := parseStat(b); err == nil {
			each(p, st)
		}
	}
	return nil
}

func parseIntList(b []byte) ([]int, error) {
	var out []int
	n, in := 0, false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			// A pid is at most 2^22; anything near int's range is not one.
			if n > math.MaxInt32 {
				return nil, fmt.Errorf("number too large in pid list %q", clip(b))
			}
			n, in = n*10+int(c-'0'), true
		case c == ' ' || c == '\n':
			if in {
				out = append(out, n)
			}
			n, in = 0, false
		default:
			return nil, fmt.Errorf("unexpected byte %q in pid list", c)
		}
	}
	if in {
		out = append(out, n)
	}
	return out, nil
}

// readSmall reads a whole /proc file into buf, growing past it only for an
// unusually large file. It uses raw syscalls: os.Open would also try to
// register the descriptor with the runtime's poller, a wasted epoll_ctl per
// file, and a sample reads one file per thread.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	n := 0
	// /proc files of this kind are generated in one read; the cap only
	// guards against a file that never ends.
	for range 64 {
		if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if m == 0 {
			return buf[:n], nil
		}
		n += m
	}
	return nil, fmt.Errorf("read %s: larger than expected", path)
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// atClkTck is the auxiliary-vector key under which the kernel passes
// USER_HZ, the unit of /proc's CPU times (what sysconf(_SC_CLK_TCK) reads).
const atClkTck = 17

// clockTick is the duration of one /proc clock tick. Linux has exported
// USER_HZ = 100 on every architecture for decades, but the kernel tells each
// process the real value in its auxiliary vector, so read it rather than
// assume it.
var clockTick = sync.OnceValue(func() time.Duration {
	hz := uintptr(100)
	if auxv, err := unix.Auxv(); err == nil {
		for _, kv := range auxv {
			if kv[0] == atClkTck && kv[1] > 0 {
				hz = kv[1]
				break
			}
		}
	}
	return time.Second / time.Duration(hz)
})

// ClockTick is the resolution of the CPU times in a Snapshot.
func ClockTick() time.Duration { return clockTick() }
