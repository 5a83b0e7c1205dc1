package netpoll

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

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
	for _, kind := range []Kind{KindEpoll, KindPoll, KindSelect} {
		t.Run(string(kind), func(t *testing.T) {
			var sc Syscalls
			p, err := New(kind, &sc)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
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

func TestPollHangup(t *testing.T) {
	for _, kind := range []Kind{KindEpoll, KindPoll, KindSelect} {
		t.Run(string(kind), func(t *testing.T) {
			var sc Syscalls
			p, _ := New(kind, &sc)
			defer p.Close()
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
	p := NewSelect(&sc)
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
	p := NewPoll(&sc)
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
