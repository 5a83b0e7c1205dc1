package loadgen

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A stamped read reports when the data arrived, not when it was read.
func TestStampsAreTheArrivalNotTheRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	port := ln.Addr().(*net.TCPAddr).Port
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	buf := make([]byte, 64)
	s := newStampReader(buf)
	if !s.enable(fd) {
		t.Skip("the kernel does not stamp received packets (SO_TIMESTAMPNS)")
	}
	// The first socket to ask turns the kernel's stamping on from a work
	// queue, a moment later: a packet that comes before then has none, so
	// probes go until one comes stamped.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no packet stamped in 10 s of probes")
		}
		if _, err := srv.Write([]byte("p")); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		n, arrived, err := readBlocking(s, fd, now)
		if err != nil || n != 1 {
			t.Fatalf("probe: read %d, %v", n, err)
		}
		if !arrived.Equal(now) {
			break
		}
	}
	sent := time.Now()
	if _, err := srv.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	// A gap between the arrival and the read, for the stamp to show.
	time.Sleep(30 * time.Millisecond)
	now := time.Now()
	n, arrived, err := s.read(fd, now)
	if err != nil || string(buf[:n]) != "answer" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	// Loopback delivers within the write: the arrival is nearer the write
	// than the read, however slow the machine made either.
	if arrived.Before(sent) || arrived.Sub(sent) > now.Sub(sent)/2 {
		t.Errorf("arrival %v after the write, read %v after it: want the arrival, at once", arrived.Sub(sent), now.Sub(sent))
	}
}

// readBlocking reads a blocking socket as the stamp reader does, now the
// time of the read.
func readBlocking(s *stampReader, fd int, now time.Time) (int, time.Time, error) {
	for {
		n, arrived, err := s.read(fd, now)
		if err != unix.EINTR {
			return n, arrived, err
		}
	}
}
