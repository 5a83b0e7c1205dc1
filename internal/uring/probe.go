package uring

import (
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel is what the running kernel's io_uring offers: the opcodes
// IORING_REGISTER_PROBE reports, and the release (uname -r) for the
// features a probe cannot show, such as the multishot flags of an opcode
// it has.
type Kernel struct {
	Release string
	ops     [256]bool
}

// Probe asks the kernel, through r, which opcodes it supports.
func Probe(r *Ring) (Kernel, error) {
	var k Kernel
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return k, fmt.Errorf("uname: %w", err)
	}
	k.Release = unix.ByteSliceToString(uts.Release[:])
	const n = 256
	buf := make([]byte, unsafe.Sizeof(probeHead{})+n*unsafe.Sizeof(probeOp{}))
	if err := r.register(registerProbe, unsafe.Pointer(&buf[0]), n); err != nil {
		return k, fmt.Errorf("io_uring probe (IORING_REGISTER_PROBE, Linux 5.6): %w", err)
	}
	head := (*probeHead)(unsafe.Pointer(&buf[0]))
	ops := unsafe.Slice((*probeOp)(unsafe.Pointer(&buf[unsafe.Sizeof(probeHead{})])), head.opsLen)
	for _, o := range ops {
		if o.flags&opSupported != 0 {
			k.ops[o.op] = true
		}
	}
	return k, nil
}

// FakeKernel is a kernel of that release supporting only ops: what a
// test hands to code that checks for features.
func FakeKernel(release string, ops ...Op) Kernel {
	k := Kernel{Release: release}
	for _, o := range ops {
		k.ops[o] = true
	}
	return k
}

// Has reports whether the kernel supports the opcode.
func (k Kernel) Has(op Op) bool { return k.ops[op] }

// Feature is something a ring can be asked to use: opcodes it needs, and
// the release that brought it when that is more than the opcodes.
type Feature struct {
	Name  string
	Ops   []Op
	Since string
}

// The features beyond plain opcodes.
var (
	MultishotAccept = Feature{Name: "multishot accept (IORING_ACCEPT_MULTISHOT)", Ops: []Op{OpAccept}, Since: "5.19"}
	MultishotRecv   = Feature{Name: "multishot receive (IORING_RECV_MULTISHOT)", Ops: []Op{OpRecv}, Since: "6.0"}
	BufferRings     = Feature{Name: "provided buffer rings (IORING_REGISTER_PBUF_RING)", Since: "5.19"}
	// CancelByFD needs IORING_ASYNC_CANCEL_FD and _ALL.
	CancelByFD = Feature{Name: "cancelling by descriptor (IORING_ASYNC_CANCEL_FD)", Ops: []Op{OpAsyncCancel}, Since: "5.19"}
)

// Ops is a Feature made of opcodes alone.
func Ops(ops ...Op) Feature {
	names := make([]string, len(ops))
	for i, o := range ops {
		names[i] = o.String()
	}
	return Feature{Name: strings.Join(names, ", "), Ops: ops}
}

// Check says what the kernel lacks of the feature: an opcode the probe
// does not list, or a release older than the feature. The error names the
// feature, what is missing and the kernel.
func (k Kernel) Check(f Feature) error {
	for _, op := range f.Ops {
		if !k.Has(op) {
			since := ""
			if s, ok := opSince[op]; ok {
				since = ", Linux " + s
			}
			return fmt.Errorf("this kernel (%s) lacks %s: io_uring's probe does not list %s%s", k.Release, f.Name, op, since)
		}
	}
	if f.Since != "" && olderThan(k.Release, f.Since) {
		return fmt.Errorf("this kernel (%s) lacks %s, which came with Linux %s", k.Release, f.Name, f.Since)
	}
	return nil
}

// olderThan compares the major and minor numbers of a release ("6.18.4-x")
// with a version ("5.19"). A release it cannot read is not older: the
// kernel then refuses what it lacks itself, with EINVAL.
func olderThan(release, version string) bool {
	r, ok1 := majorMinor(release)
	v, ok2 := majorMinor(version)
	if !ok1 || !ok2 {
		return false
	}
	return r[0] < v[0] || r[0] == v[0] && r[1] < v[1]
}

func majorMinor(s string) ([2]int, bool) {
	var out [2]int
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return out, false
	}
	for i := range out {
		digits := parts[i]
		if j := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
			digits = digits[:j]
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			return out, false
		}
		out[i] = n
	}
	return out, true
}
