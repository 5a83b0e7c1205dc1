package netpoll

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var kinds = []Kind{KindEpoll, KindPoll, KindSelect}

// newPoller makes a poller of the given kind, closed when the test ends,
// and the counts of its syscalls.
func newPoller(t *testing.T, kind Kind) (Poller, *Syscalls) {
	t.Helper()
	sc := new(Syscalls)
	p, err := New(kind, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, sc
}

func socketPair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func ready(t *testing.T, p Poller, timeoutMs int) map[int32]Events {
	t.Helper()
	evs, err := p.Wait(make([]Event, 0, 16), timeoutMs)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int32]Events{}
	for _, e := range evs {
		m[e.FD] |= e.Events
	}
	return m
}

func TestPollers(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			p, sc := newPoller(t, kind)
			a, b := socketPair(t)
			c, _ := socketPair(t)
			if err := p.Add(a, Readable); err != nil {
				t.Fatal(err)
			}
			if err := p.Add(c, Readable); err != nil {
				t.Fatal(err)
			}
			if got := ready(t, p, 0); len(got) != 0 {
				t.Fatalf("nothing written yet, got ready %v", got)
			}
			if _, err := unix.Write(b, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if got := ready(t, p, 1000); got[int32(a)]&Readable == 0 || len(got) != 1 {
				t.Fatalf("after write to peer: got %v, want only fd %d readable", got, a)
			}
			// Level-triggered: still readable until drained.
			if got := ready(t, p, 0); got[int32(a)]&Readable == 0 {
				t.Fatalf("unread data must keep fd readable, got %v", got)
			}
			if err := p.Modify(a, Writable); err != nil {
				t.Fatal(err)
			}
			if got := ready(t, p, 1000); got[int32(a)] != Writable {
				t.Fatalf("after modify to writable: got %v", got)
			}
			if err := p.Remove(a); err != nil {
				t.Fatal(err)
			}
			if got := ready(t, p, 0); len(got) != 0 {
				t.Fatalf("removed fd still reported: %v", got)
			}
			if err := p.Remove(a); err == nil {
				t.Fatal("removing an unwatched fd must fail")
			}
			if err := p.Add(c, Readable); err == nil {
				t.Fatal("adding a watched fd twice must fail")
			}
			if kind == KindEpoll && sc[SysEpollCtl] == 0 {
				t.Fatal("epoll_ctl calls not counted")
			}
			waits := sc[SysEpollWait] + sc[SysPoll] + sc[SysSelect]
			if waits != 5 {
				t.Fatalf("counted %d waits, made 5", waits)
			}
		})
	}
}

// TestWaitsReachEveryReadyDescriptor: with more descriptors ready than a
// wait may report, consecutive waits report each of them in turn, so none
// starves behind the first (the poll and select servers served the first
// 512 of 5000 connections, turn after turn).
func TestWaitsReachEveryReadyDescriptor(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			p, _ := newPoller(t, kind)
			// Exactly as many waits as it takes, so a scan that resumed
			// one short, or reported one twice, misses one.
			const conns, room = 24, 6
			want := map[int32]bool{}
			for range conns {
				a, b := socketPair(t)
				if err := p.Add(a, Readable); err != nil {
					t.Fatal(err)
				}
				if _, err := unix.Write(b, []byte("x")); err != nil {
					t.Fatal(err)
				}
				want[int32(a)] = true
			}
			seen := map[int32]bool{}
			buf := make([]Event, 0, room)
			for range (conns + room - 1) / room {
				evs, err := p.Wait(buf, 1000)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range evs {
					if seen[e.FD] {
						t.Errorf("fd %d reported again before every ready one was", e.FD)
					}
					seen[e.FD] = true
				}
			}
			if len(seen) != len(want) {
				t.Errorf("%d waits of room %d reported %d of the %d ready descriptors", (conns+room-1)/room, room, len(seen), conns)
			}
		})
	}
}

func TestPollHangup(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			p, _ := newPoller(t, kind)
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[0])
			if err := p.Add(fds[0], Readable); err != nil {
				t.Fatal(err)
			}
			unix.Close(fds[1])
			// A peer's close must wake the loop so it can read EOF and clean up.
			if got := ready(t, p, 1000); got[int32(fds[0])]&(Readable|Failed) == 0 {
				t.Fatalf("peer close not reported: %v", got)
			}
		})
	}
}

func TestSelectRefusesPastFDSetSize(t *testing.T) {
	var sc Syscalls
	p, err := NewSelect(&sc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, _ := socketPair(t)
	high := FDSetSize + 10
	if err := unix.Dup2(a, high); err != nil {
		t.Skipf("cannot dup to fd %d (RLIMIT_NOFILE too low?): %v", high, err)
	}
	defer unix.Close(high)
	if err := p.Add(high, Readable); !errors.Is(err, ErrTooManyFDs) {
		t.Fatalf("Add(fd %d) = %v, want ErrTooManyFDs", high, err)
	}
}

func TestPollRemoveKeepsOthers(t *testing.T) {
	var sc Syscalls
	p, err := NewPoll(&sc)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var fds []int
	for i := 0; i < 5; i++ {
		a, b := socketPair(t)
		if err := p.Add(a, Readable); err != nil {
			t.Fatal(err)
		}
		unix.Write(b, []byte("x"))
		fds = append(fds, a)
	}
	// Remove from the middle and the front: the moved entries must keep
	// their registrations.
	p.Remove(fds[2])
	p.Remove(fds[0])
	got := ready(t, p, 1000)
	for _, fd := range []int{fds[1], fds[3], fds[4]} {
		if got[int32(fd)]&Readable == 0 {
			t.Fatalf("fd %d lost after removals: %v", fd, got)
		}
	}
	if len(got) != 3 {
		t.Fatalf("got %v, want 3 ready", got)
	}
}

func TestSyscallsMap(t *testing.T) {
	var sc Syscalls
	sc[SysRead] = 3
	sc[SysEpollWait] = 1
	m := sc.Map()
	if m["read"] != 3 || m["epoll_wait"] != 1 || len(m) != 2 {
		t.Fatalf("Map() = %v", m)
	}
}

// A wake-up ends a wait that has no timeout, comes as one Woken event on a
// descriptor nobody added, and is gone once reported however many Wakes
// made it.
func TestWakeEndsAWaitWithoutTimeout(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			p, sc := newPoller(t, kind)
			a, _ := socketPair(t)
			if err := p.Add(a, Readable); err != nil {
				t.Fatal(err)
			}
			woke := make(chan map[int32]Events, 1)
			go func() {
				evs, err := p.Wait(make([]Event, 0, 16), -1)
				if err != nil {
					t.Error(err)
				}
				m := map[int32]Events{}
				for _, e := range evs {
					m[e.FD] |= e.Events
				}
				woke <- m
			}()
			p.Wake()
			select {
			case got := <-woke:
				if len(got) != 1 {
					t.Fatalf("woken wait returned %v, want one event", got)
				}
				for fd, ev := range got {
					if ev != Woken || fd == int32(a) {
						t.Fatalf("woken wait returned %v, want Woken on the poller's own descriptor", got)
					}
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Wake did not end a wait without timeout within 5s")
			}
			for range 3 {
				p.Wake()
			}
			if got := ready(t, p, 0); len(got) != 1 {
				t.Fatalf("after three Wakes: %v, want one Woken event", got)
			}
			if got := ready(t, p, 0); len(got) != 0 {
				t.Fatalf("a reported wake-up is still pending: %v", got)
			}
			// The loop pays one read per wake-up it sees; the waking
			// goroutine's writes are not the loop's.
			if sc[SysRead] != 2 || sc[SysWrite] != 0 {
				t.Fatalf("counted %d reads and %d writes, want 2 and 0", sc[SysRead], sc[SysWrite])
			}
		})
	}
}

// Wake may race Close, and after Close it must not write into whatever
// file has reused the eventfd's number.
func TestWakeAfterCloseWritesNothing(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			var sc Syscalls
			p, err := New(kind, &sc)
			if err != nil {
				t.Fatal(err)
			}
			waking := make(chan struct{})
			go func() {
				defer close(waking)
				for range 1000 {
					p.Wake()
				}
			}()
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			<-waking
			a, b := socketPair(t)
			p.Wake()
			var buf [8]byte
			if n, err := unix.Read(b, buf[:]); err != unix.EAGAIN {
				t.Fatalf("after Close, Wake reached a new socket (fd %d): read %d bytes, %v", a, n, err)
			}
		})
	}
}

// Wait is on every loop's hot path: it must not allocate, whether it
// reports descriptors, a wake-up or both. The total over many calls is
// checked, so an allocation every so many calls shows too.
func TestWaitAllocatesNothing(t *testing.T) {
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			p, _ := newPoller(t, kind)
			a, b := socketPair(t)
			if err := p.Add(a, Readable|Writable); err != nil {
				t.Fatal(err)
			}
			if _, err := unix.Write(b, []byte("x")); err != nil {
				t.Fatal(err)
			}
			dst := make([]Event, 0, 16)
			var err error
			waits := map[string]func(){
				"Wait": func() { dst, err = p.Wait(dst, 0) },
			}
			if ep, ok := p.(*Epoll); ok {
				waits["WaitHeld"] = func() { dst, err = ep.WaitHeld(dst, time.Millisecond) }
			}
			for name, wait := range waits {
				const calls = 1000
				allocs := testing.AllocsPerRun(1, func() {
					for i := range calls {
						if i%2 == 0 {
							p.Wake()
						}
						wait()
						if err != nil || len(dst) != 2-i%2 {
							t.Fatalf("%s call %d: %v, %v; want the socket and on even calls the wake-up", name, i, dst, err)
						}
					}
				})
				if allocs != 0 {
					t.Errorf("%s: %v allocations in %d calls, want none", name, allocs, calls)
				}
			}
		})
	}
}

// WaitHeld sleeps for its timeout when nothing is ready, returns at once
// when something is, and a Wake from another goroutine ends a wait with no
// timeout.
func TestWaitHeldTimesOutAndWakes(t *testing.T) {
	poller, _ := newPoller(t, KindEpoll)
	p := poller.(*Epoll)
	dst := make([]Event, 0, 8)
	var err error
	// A signal (the runtime's preemption, the garbage collector's) may end
	// a wait early, with nothing: the rest of the time is waited again.
	// Waits that ignored their timeout would take thousands of calls.
	const d = 20 * time.Millisecond
	began := time.Now()
	calls := 0
	for left := d; left > 0; left = d - time.Since(began) {
		calls++
		if dst, err = p.WaitHeld(dst, left); err != nil || len(dst) != 0 {
			t.Fatalf("idle wait: %v, %v", dst, err)
		}
	}
	if took := time.Since(began); calls > 10 || took > d+50*time.Millisecond {
		t.Errorf("an idle wait of %v took %d calls and %v", d, calls, took)
	}
	a, b := socketPair(t)
	if err := p.Add(a, Readable); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(b, []byte("x")); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	dst, err = p.WaitHeld(dst, time.Second)
	if took := time.Since(began); err != nil || len(dst) != 1 || dst[0].FD != int32(a) || took > 50*time.Millisecond {
		t.Errorf("wait with a readable socket: %v, %v after %v", dst, err, took)
	}
	var buf [1]byte
	unix.Read(a, buf[:])
	go func() {
		time.Sleep(5 * time.Millisecond)
		p.Wake()
	}()
	for {
		// A preemption signal may end the wait early, with nothing.
		if dst, err = p.WaitHeld(dst, -1); err != nil || len(dst) > 0 {
			break
		}
	}
	if err != nil || len(dst) != 1 || dst[0].Events != Woken {
		t.Errorf("wait forever: %v, %v; want the wake-up", dst, err)
	}
}
