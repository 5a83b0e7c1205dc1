package affinity

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// cpuSet validates cpus against the online CPUs and builds the kernel mask.
func cpuSet(cpus []int) (unix.CPUSet, error) {
	var set unix.CPUSet
	if len(cpus) == 0 {
		return set, errors.New("no CPUs given")
	}
	online, err := Online()
	if err != nil {
		return set, err
	}
	for _, c := range cpus {
		if !slices.Contains(online, c) {
			return set, fmt.Errorf("CPU %d is not online: this machine has CPUs %s", c, FormatCPUList(online))
		}
		set.Set(c)
	}
	return set, nil
}

// setErr explains sched_setaffinity's EINVAL, which on a machine where every
// CPU asked for is online means a cgroup cpuset (a container's CPU limit)
// does not include them.
func setErr(what string, cpus []int, err error) error {
	if errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%s to CPUs %s: %w (outside this cgroup's cpuset?)", what, FormatCPUList(cpus), err)
	}
	return fmt.Errorf("%s to CPUs %s: %w", what, FormatCPUList(cpus), err)
}

// StartPinned starts cmd so that the child, and every thread and process it
// will ever create, may run only on cpus. The parent's own threads keep
// their masks.
//
// A child inherits the affinity of the thread that forked it, so the fork is
// done from a fresh goroutine pinned for the purpose with PinThread, which
// ends, and takes its thread with it, once cmd has started. Do not combine it
// with cmd.SysProcAttr.Pdeathsig: the child would be killed as that thread
// ends (see PinThread).
func StartPinned(cmd *exec.Cmd, cpus []int) error {
	errc := make(chan error, 1)
	go func() {
		restore, err := PinThread(cpus)
		if err != nil {
			errc <- fmt.Errorf("start %s pinned: %w", cmd.Path, err)
			return
		}
		err = cmd.Start()
		restore()
		errc <- err
	}()
	return <-errc
}

// PinThread locks the calling goroutine to its OS thread and narrows that one
// thread's CPU mask to cpus, so that what it forks next (exec.Cmd.Start forks
// on the calling thread) inherits the mask; restore puts the thread's old
// mask back. The process's other threads keep theirs.
//
// The goroutine must stay locked until it returns (never call
// runtime.UnlockOSThread): the Go runtime then ends the thread with the
// goroutine instead of handing it, perhaps still pinned if restoring failed,
// to other goroutines. (If the goroutine happened to run on the main thread,
// the runtime parks that thread for good instead: harmless, and its mask was
// restored.)
//
// Keep the goroutine running for as long as a child started with
// SysProcAttr.Pdeathsig lives, by waiting for the child on it: Linux sends
// that signal when the thread that forked the child ends, not the process
// (prctl(2), PR_SET_PDEATHSIG).
func PinThread(cpus []int) (restore func(), err error) {
	set, err := cpuSet(cpus)
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("read this thread's CPU mask: %w", err)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return nil, setErr("pin the forking thread", cpus, err)
	}
	// The error of restoring is not reported: the thread ends with its
	// goroutine either way.
	return func() { unix.SchedSetaffinity(0, &old) }, nil
}

// maxPinPasses bounds PinSelf's passes over the thread list. A Go process
// creates threads only while it gets busier, so two or three passes settle.
const maxPinPasses = 100

// PinSelf pins every thread of the current process to cpus; threads created
// later inherit the mask from whichever thread creates them.
//
// Threads are pinned one at a time, and an unpinned thread may create a new
// one meanwhile, so the thread list is read again until a pass finds no
// thread it had not pinned already.
//
// The Go runtime sized GOMAXPROCS from the mask it started with; set
// GOMAXPROCS explicitly (the --gomaxprocs flag or the environment) when
// pinning to fewer CPUs than that.
func PinSelf(cpus []int) error {
	set, err := cpuSet(cpus)
	if err != nil {
		return fmt.Errorf("pin this process: %w", err)
	}
	pinned := map[int]bool{}
	for range maxPinPasses {
		tids, err := threads()
		if err != nil {
			return fmt.Errorf("pin this process: %w", err)
		}
		fresh := 0
		for _, tid := range tids {
			if pinned[tid] {
				continue
			}
			fresh++
			err := unix.SchedSetaffinity(tid, &set)
			if errors.Is(err, unix.ESRCH) {
				continue // the thread exited after the listing
			}
			if err != nil {
				return fmt.Errorf("pin this process: %w", setErr("pin thread "+strconv.Itoa(tid), cpus, err))
			}
			pinned[tid] = true
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("pin this process: new threads kept appearing after %d passes", maxPinPasses)
}

// threads lists the thread ids of the current process.
func threads() ([]int, error) {
	f, err := os.Open("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("list threads: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list threads: %w", err)
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		tid, err := strconv.Atoi(n)
		if err != nil {
			return nil, fmt.Errorf("list threads: unexpected entry %q in /proc/self/task", n)
		}
		tids = append(tids, tid)
	}
	return tids, nil
}

// Allowed returns the CPUs thread or process tid may run on (for a process
// id, its main thread's mask).
func Allowed(tid int) ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(tid, &set); err != nil {
		return nil, fmt.Errorf("read CPU mask of %d: %w", tid, err)
	}
	var cpus []int
	for c := 0; c < maxCPU; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
