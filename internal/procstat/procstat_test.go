package procstat

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestClockTickIsUserHZ(t *testing.T) {
	// USER_HZ is 100 on every Linux architecture; reading it from the
	// auxiliary vector must agree (getconf CLK_TCK says the same).
	if got := ClockTick(); got != 10*time.Millisecond {
		t.Fatalf("ClockTick() = %v, want 10ms", got)
	}
}

// burn does CPU work the compiler cannot remove.
func burn(n int) uint64 {
	x := uint64(88172645463325252)
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

var sink uint64

func TestSelfUserTimeRisesWithWork(t *testing.T) {
	before, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	// Burn until user time has moved by a few ticks; both the chunk count
	// and the wall time are capped so a broken reading fails rather than
	// hangs.
	const target = 50 * time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	var after Snapshot
	for i := 0; i < 10000 && time.Now().Before(deadline); i++ {
		sink += burn(1 << 20)
		if after, err = Self(); err != nil {
			t.Fatal(err)
		}
		if after.User-before.User >= target {
			break
		}
	}
	d := after.Sub(before)
	if d.User < target {
		t.Fatalf("user time rose by %v after burning CPU, want at least %v", d.User, target)
	}
	// One goroutine burns; the runtime's background work could add a little
	// on the second core, but not another wall time's worth — a wrong tick
	// length (1000 Hz instead of 100) would.
	if d.User > 2*d.Wall+ClockTick() {
		t.Fatalf("user time %v is implausible for one burning goroutine over %v", d.User, d.Wall)
	}
	if after.PID != os.Getpid() || after.Threads < 1 || after.RSS <= 0 || after.Processes != 1 {
		t.Fatalf("implausible snapshot %+v", after)
	}
}

func TestSelfAgreesWithGetrusage(t *testing.T) {
	// getrusage and /proc/PID/stat come from the same kernel accounting
	// (thread_group_cputime_adjusted), /proc truncated to ticks. A wrong tick
	// length would put the /proc value far outside the bracket.
	sink += burn(1 << 24)
	var r1, r2 unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &r1); err != nil {
		t.Fatal(err)
	}
	s, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Getrusage(unix.RUSAGE_SELF, &r2); err != nil {
		t.Fatal(err)
	}
	lo := time.Duration(r1.Utime.Nano()) - ClockTick()
	hi := time.Duration(r2.Utime.Nano()) + ClockTick()
	if s.User < lo || s.User > hi {
		t.Fatalf("/proc user time %v outside getrusage bracket [%v, %v]", s.User, lo, hi)
	}
}

func TestSwitchesAreSummedOverThreads(t *testing.T) {
	before, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	// Two goroutines locked to their own threads hand a token back and forth;
	// every hand-off parks one thread in futex_wait, a voluntary switch.
	const rounds = 500
	ping, pong := make(chan int), make(chan int)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for v := range ping {
			pong <- v
		}
		close(done)
	}()
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for i := 0; i < rounds; i++ {
			ping <- i
			<-pong
		}
		close(ping)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("ping-pong did not finish")
	}
	after, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	d := after.Sub(before)
	if d.VoluntarySwitches < rounds {
		t.Fatalf("voluntary switches rose by %d over %d blocking hand-offs, want at least %d", d.VoluntarySwitches, 2*rounds, rounds)
	}
	mainVol, _, err := parseSwitchesFile(fmt.Sprintf("/proc/%d/status", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if after.VoluntarySwitches < mainVol {
		t.Fatalf("sum over threads %d is less than the main thread's %d", after.VoluntarySwitches, mainVol)
	}
}

func parseSwitchesFile(path string) (uint64, uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	return parseSwitches(b)
}

func TestExitedProcessIsAClearError(t *testing.T) {
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run /bin/true: %v", err)
	}
	_, err := Sample(cmd.Process.Pid)
	if !errors.Is(err, ErrNoProcess) {
		t.Fatalf("Sample of a reaped process: err = %v, want ErrNoProcess", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(cmd.Process.Pid)) {
		t.Fatalf("error %q does not name the pid", err)
	}
}

func TestZombieReportsItsWholeLife(t *testing.T) {
	// The loop burns about 0.3 s of CPU in dash.
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`)
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start /bin/sh: %v", err)
	}
	pid := cmd.Process.Pid
	// Wait for the exit without reaping, so the zombie can still be read.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("waitid: %v", err)
	}
	z, err := Sample(pid)
	if err != nil {
		t.Fatalf("Sample of a zombie: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	want := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if got := z.User + z.System; got < want-2*ClockTick() || got > want+ClockTick() {
		t.Fatalf("zombie CPU %v, wait4 says %v", got, want)
	}
	if want < 50*time.Millisecond {
		t.Fatalf("the shell loop used only %v of CPU; the check above proves little", want)
	}
}

func TestSampleTreeSumsChildren(t *testing.T) {
	// dash forks cat (it does not exec it, because a command follows), and
	// cat blocks on the pipe until the test closes it.
	cmd := exec.Command("/bin/sh", "-c", "cat; echo done")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start /bin/sh: %v", err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	single, err := Sample(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if single.Processes != 1 {
		t.Fatalf("Sample counted %d processes", single.Processes)
	}
	deadline := time.Now().Add(10 * time.Second)
	var tree Snapshot
	for i := 0; i < 10000 && time.Now().Before(deadline); i++ {
		if tree, err = SampleTree(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		if tree.Processes == 2 {
			break
		}
		time.Sleep(time.Millisecond) // poll interval; the deadline bounds the wait
	}
	if tree.Processes != 2 || tree.Threads != 2 {
		t.Fatalf("tree of sh and cat: %d processes, %d threads; want 2 and 2", tree.Processes, tree.Threads)
	}
	if tree.RSS <= single.RSS {
		t.Fatalf("tree RSS %d not above the shell's alone %d", tree.RSS, single.RSS)
	}
}

func BenchmarkSelf(b *testing.B) {
	for b.Loop() {
		if _, err := Self(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPeakRSSOfThisProcess(t *testing.T) {
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	peak, err := PeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if peak < self.RSS/2 || peak == 0 {
		t.Errorf("peak RSS %d, current RSS %d: the peak cannot be below what is resident now", peak, self.RSS)
	}
}
