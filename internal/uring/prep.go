package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Prep methods fill in a zeroed SQE (from Ring.SQE) for one
// operation; the caller sets UserData, and Flags beyond what the
// operation needs. A buffer passed in must stay put until the operation
// completes: Go's heap does not move, so the caller only keeps it alive.

// Target is the file an operation works on: a descriptor, or a slot of
// the ring's registered files (fixed), which spares the kernel looking
// the descriptor up and counting a reference on every operation.
type Target struct {
	FD    int32
	Fixed bool
}

func (s *SQE) target(t Target) {
	s.FD = t.FD
	if t.Fixed {
		s.Flags |= FlagFixedFile
	}
}

// PrepAccept accepts one connection on the listener; the new socket is
// non-blocking and close-on-exec, and its peer's address goes to sa
// (nil: not wanted).
func (s *SQE) PrepAccept(listener Target, sa *unix.RawSockaddrAny, saLen *uint32) {
	s.Opcode = uint8(OpAccept)
	s.target(listener)
	s.Addr = uint64(uintptr(unsafe.Pointer(sa)))
	s.Off = uint64(uintptr(unsafe.Pointer(saLen)))
	s.OpFlags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
}

// PrepMultishotAccept accepts connections until it fails or is
// cancelled, one completion each (CQEMore while it stays armed). No peer
// address: every completion would write the same one.
func (s *SQE) PrepMultishotAccept(listener Target) {
	s.PrepAccept(listener, nil, nil)
	s.Ioprio |= acceptMultishot
}

// PrepConnect connects a socket to the address sa of length n.
func (s *SQE) PrepConnect(t Target, sa unsafe.Pointer, n uint32) {
	s.Opcode = uint8(OpConnect)
	s.target(t)
	s.Addr = uint64(uintptr(sa))
	s.Off = uint64(n)
}

// PrepRecv receives into p.
func (s *SQE) PrepRecv(t Target, p []byte) {
	s.Opcode = uint8(OpRecv)
	s.target(t)
	s.Addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p))))
	s.Len = uint32(len(p))
}

// PrepMultishotRecv receives whenever data arrives, each time into a
// buffer the kernel takes from the provided buffer ring g, until it
// fails, meets EOF, finds the ring empty (ENOBUFS) or is cancelled.
func (s *SQE) PrepMultishotRecv(t Target, g *BufferRing) {
	s.Opcode = uint8(OpRecv)
	s.target(t)
	s.Ioprio |= recvMultishot
	s.Flags |= FlagBufferSelect
	s.BufIndex = g.group
}

// PrepSend sends p; MSG_NOSIGNAL, so a peer gone is an error, not a
// signal.
func (s *SQE) PrepSend(t Target, p []byte) {
	s.Opcode = uint8(OpSend)
	s.target(t)
	s.Addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p))))
	s.Len = uint32(len(p))
	s.OpFlags = unix.MSG_NOSIGNAL
}

// PrepRead reads into p at the file's position (an eventfd's count).
func (s *SQE) PrepRead(fd int, p []byte) {
	s.Opcode = uint8(OpRead)
	s.FD = int32(fd)
	s.Addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p))))
	s.Len = uint32(len(p))
	s.Off = ^uint64(0) // -1: the current position, as read(2)
}

// PrepShutdown shuts down a socket's direction(s) (unix.SHUT_WR, ...).
func (s *SQE) PrepShutdown(t Target, how int) {
	s.Opcode = uint8(OpShutdown)
	s.target(t)
	s.Len = uint32(how)
}

// PrepClose closes a descriptor, or empties a registered file's slot
// (which closes the file once nothing else holds it).
func (s *SQE) PrepClose(t Target) {
	s.Opcode = uint8(OpClose)
	if t.Fixed {
		s.FileIndex = uint32(t.FD) + 1
		return
	}
	s.FD = t.FD
}

// PrepCancelFD cancels every request in flight on the file; each ends
// with -ECANCELED.
func (s *SQE) PrepCancelFD(t Target) {
	s.Opcode = uint8(OpAsyncCancel)
	s.FD = t.FD
	s.OpFlags = cancelAll | cancelFD
	if t.Fixed {
		s.OpFlags |= cancelFDFixed
	}
}

// PrepCancel cancels the request submitted with that user data.
func (s *SQE) PrepCancel(userData uint64) {
	s.Opcode = uint8(OpAsyncCancel)
	s.Addr = userData
}

// PrepInstallFile puts the descriptor *fd into the registered files'
// slot: later operations on the slot (Target{Fixed: true}) skip the
// descriptor lookup. *fd must stay put until the SQE is submitted.
func (s *SQE) PrepInstallFile(fd *int32, slot uint32) {
	s.Opcode = uint8(OpFilesUpdate)
	s.FD = -1
	s.Addr = uint64(uintptr(unsafe.Pointer(fd)))
	s.Len = 1
	s.Off = uint64(slot)
}
