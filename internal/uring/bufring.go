package uring

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufferRing is a provided buffer ring (IORING_REGISTER_PBUF_RING): count
// buffers of size bytes the kernel picks from for a multishot receive, so
// a connection holds no receive buffer while it waits. The owner hands a
// buffer back with Recycle once it has used the data.
type BufferRing struct {
	group uint16
	size  int
	mask  uint16
	ring  []ringBuf
	tail  *uint16
	// mem holds the ring entries, then the buffers; mapped, so the
	// kernel's pinned pages are never the Go heap's.
	mem  []byte
	bufs []byte
}

// NewBufferRing registers a ring of count buffers (a power of two, at
// most 32768) of size bytes as buffer group group of r.
func NewBufferRing(r *Ring, group uint16, count, size int) (*BufferRing, error) {
	if count <= 0 || count > 1<<15 || count&(count-1) != 0 {
		return nil, fmt.Errorf("buffer ring of %d buffers: want a power of two up to 32768", count)
	}
	entries := count * int(unsafe.Sizeof(ringBuf{}))
	mem, err := unix.Mmap(-1, 0, entries+count*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("map a buffer ring: %w", err)
	}
	g := &BufferRing{group: group, size: size, mask: uint16(count - 1), mem: mem, bufs: mem[entries:]}
	g.ring = unsafe.Slice((*ringBuf)(unsafe.Pointer(&mem[0])), count)
	g.tail = (*uint16)(unsafe.Pointer(&g.ring[0].resv))
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))), ringEntries: uint32(count), bgid: group}
	if err := r.register(registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("register a provided buffer ring (IORING_REGISTER_PBUF_RING, Linux 5.19): %w", err)
	}
	for id := range count {
		g.put(uint16(id), uint16(id))
	}
	g.publish(uint16(count))
	return g, nil
}

// Len is how many buffers the ring has.
func (g *BufferRing) Len() int { return int(g.mask) + 1 }

// Buffer is the buffer of that id.
func (g *BufferRing) Buffer(id uint16) []byte {
	off := int(id) * g.size
	return g.bufs[off : off+g.size : off+g.size]
}

func (g *BufferRing) put(id, at uint16) {
	e := &g.ring[at&g.mask]
	e.addr = uint64(uintptr(unsafe.Pointer(&g.bufs[int(id)*g.size])))
	e.len = uint32(g.size)
	e.bid = id
}

// Recycle hands the buffer back to the kernel.
func (g *BufferRing) Recycle(id uint16) {
	tail := *g.tail
	g.put(id, tail)
	g.publish(tail + 1)
}

// publish stores the ring's tail for the kernel, after the entries
// before it. Go has no 16-bit atomic store; the tail is the upper half of
// the first entry's last word, whose lower half (that entry's buffer id)
// only this side writes, so a 32-bit atomic store of both is one.
func (g *BufferRing) publish(tail uint16) {
	word := (*uint32)(unsafe.Pointer(&g.ring[0].bid))
	atomic.StoreUint32(word, uint32(g.ring[0].bid)|uint32(tail)<<16)
}

// Free unmaps the buffers. Call it only after the ring is closed: until
// then the kernel may write into them.
func (g *BufferRing) Free() error {
	if g.mem == nil {
		return nil
	}
	err := unix.Munmap(g.mem)
	g.mem = nil
	return err
}

// RegisterFiles gives r a table of n empty registered-file slots
// (IORING_REGISTER_FILES2, sparse), filled by PrepInstallFile.
func RegisterFiles(r *Ring, n int) error {
	reg := rsrcRegister{nr: uint32(n), flags: rsrcRegisterSparse}
	if err := r.register(registerFiles2, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return fmt.Errorf("register %d files (IORING_REGISTER_FILES2, sparse, Linux 5.19): %w", n, err)
	}
	return nil
}
