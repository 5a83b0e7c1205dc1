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
	// queue, a moment later: a packet that comes before then has none.
	time.Sleep(20 * time.Millisecond)
	sent := time.Now()
	if _, err := srv.Write([]byte("answer")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	now := time.Now()
	n, arrived, err := s.read(fd, now)
	if err != nil || string(buf[:n]) != "answer" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if arrived.Before(sent) || arrived.Sub(sent) > 10*time.Millisecond {
		t.Errorf("arrival %v after the write, read %v after it: want the arrival, at once", arrived.Sub(sent), now.Sub(sent))
	}
}
