package affinity

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a child process for the tests
// below instead of running tests.
const helperEnv = "AFFINITY_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "threads":
		// A child of StartPinned: start new threads, then report them all.
		os.Exit(reportThreads(4))
	case "pinself":
		cpus, err := ParseCPUList(os.Getenv("AFFINITY_TEST_CPUS"))
		if err == nil {
			err = PinSelf(cpus)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(reportThreads(4))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode")
		os.Exit(1)
	}
}

// reportThreads locks n goroutines to threads of their own — so at least n
// threads exist that were created now — and prints every thread's
// Cpus_allowed_list, one per line.
func reportThreads(n int) int {
	ready := make(chan struct{})
	release := make(chan struct{})
	for range n {
		go func() {
			runtime.LockOSThread()
			ready <- struct{}{}
			<-release
		}()
	}
	for range n {
		<-ready
	}
	masks, err := threadMasks("/proc/self/task")
	close(release)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, m := range masks {
		fmt.Println(m)
	}
	return 0
}

// threadMasks reads Cpus_allowed_list of every thread under a task dir.
func threadMasks(taskDir string) ([]string, error) {
	paths, err := filepath.Glob(taskDir + "/*/status")
	if err != nil {
		return nil, err
	}
	var masks []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m, err := allowedList(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		masks = append(masks, m)
	}
	return masks, nil
}

func allowedList(status []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no Cpus_allowed_list line")
}

// target picks a CPU set smaller than the machine when it can, so pinning is
// visible: the last online CPU.
func target(t *testing.T) (want []int, all []int) {
	t.Helper()
	all, err := Online()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 2 {
		t.Logf("only %d CPU online: the pinned set equals the whole machine, which proves less", len(all))
	}
	return all[len(all)-1:], all
}

func TestStartPinnedShell(t *testing.T) {
	want, _ := target(t)
	before, err := threadMasks("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	// The shell forks cat, so this also shows that a grandchild inherits.
	cmd := exec.Command("/bin/sh", "-c", "cat /proc/self/status; true")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := StartPinned(cmd, want); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	got, err := allowedList(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got != FormatCPUList(want) {
		t.Fatalf("child's Cpus_allowed_list = %q, want %q", got, FormatCPUList(want))
	}
	after, err := threadMasks("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range after {
		if m != before[0] {
			t.Fatalf("a thread of the parent has mask %q after StartPinned, want %q (before: %v)", m, before[0], before)
		}
	}
}

func TestPinThreadRestores(t *testing.T) {
	want, _ := target(t)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // for the mask before; PinThread locks too
		tid := unix.Gettid()
		before, err := Allowed(tid)
		if err != nil {
			errc <- err
			return
		}
		restore, err := PinThread(want)
		if err != nil {
			errc <- err
			return
		}
		pinned, err := Allowed(tid)
		restore()
		after, err2 := Allowed(tid)
		switch {
		case err != nil || err2 != nil:
			errc <- fmt.Errorf("read the mask: %v, %v", err, err2)
		case !slices.Equal(pinned, want):
			errc <- fmt.Errorf("pinned thread may use CPUs %v, want %v", pinned, want)
		case !slices.Equal(after, before):
			errc <- fmt.Errorf("restored thread may use CPUs %v, want %v as before", after, before)
		default:
			errc <- nil
		}
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestStartPinnedChildThreadsInherit(t *testing.T) {
	want, _ := target(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=threads")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := StartPinned(cmd, want); err != nil {
		t.Fatal(err)
	}
	if err := waitBounded(cmd, 30*time.Second); err != nil {
		t.Fatalf("helper: %v: %s", err, errOut.String())
	}
	checkAllMasks(t, out.String(), FormatCPUList(want), 5)
}

func TestPinSelfPinsEveryThread(t *testing.T) {
	want, _ := target(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=pinself", "AFFINITY_TEST_CPUS="+FormatCPUList(want))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := waitBounded(cmd, 30*time.Second); err != nil {
		t.Fatalf("helper: %v: %s", err, errOut.String())
	}
	checkAllMasks(t, out.String(), FormatCPUList(want), 5)
}

// checkAllMasks wants at least minThreads lines, every one equal to want.
func checkAllMasks(t *testing.T, out, want string, minThreads int) {
	t.Helper()
	lines := strings.Fields(out)
	if len(lines) < minThreads {
		t.Fatalf("helper reported %d threads, want at least %d: %q", len(lines), minThreads, out)
	}
	for i, m := range lines {
		if m != want {
			t.Fatalf("thread %d of %d has Cpus_allowed_list %q, want %q (all: %v)", i, len(lines), m, want, lines)
		}
	}
}

func waitBounded(cmd *exec.Cmd, limit time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("did not exit within %v", limit)
	}
}

func TestTooFewCPUsIsAClearError(t *testing.T) {
	_, all := target(t)
	missing := all[len(all)-1] + 1
	cases := []struct {
		name string
		cpus []int
		want string
	}{
		{"one past the last CPU", []int{0, missing}, fmt.Sprintf("CPU %d is not online", missing)},
		{"none", nil, "no CPUs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("/bin/true")
			err := StartPinned(cmd, c.cpus)
			if err == nil {
				cmd.Wait()
				t.Fatal("StartPinned succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("StartPinned error %q does not say %q", err, c.want)
			}
			if cmd.Process != nil {
				t.Fatal("a process was started despite the error")
			}
			if err := PinSelf(c.cpus); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("PinSelf error %v does not say %q", err, c.want)
			}
		})
	}
}

func TestAllowedMatchesStatus(t *testing.T) {
	cpus, err := Allowed(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	want, err := allowedList(b)
	if err != nil {
		t.Fatal(err)
	}
	if FormatCPUList(cpus) != want {
		t.Fatalf("Allowed = %s, /proc/self/status says %s", FormatCPUList(cpus), want)
	}
	if !slices.IsSorted(cpus) {
		t.Fatalf("Allowed not sorted: %v", cpus)
	}
}
