package uring

import "strconv"

// The kernel's io_uring ABI, from include/uapi/linux/io_uring.h: the
// structures io_uring_setup(2), io_uring_enter(2) and io_uring_register(2)
// read and write, laid out field for field (TestABIMatchesHeader compiles
// the header and compares sizes and offsets), and the constants this
// package uses.

// SQE is struct io_uring_sqe: one submission, 64 bytes. The unions of the
// header are named after the use this package makes of them.
type SQE struct {
	Opcode      uint8
	Flags       uint8
	Ioprio      uint16
	FD          int32
	Off         uint64 // off, addr2
	Addr        uint64
	Len         uint32
	OpFlags     uint32 // msg_flags, accept_flags, cancel_flags, ...
	UserData    uint64
	BufIndex    uint16 // buf_index, buf_group
	Personality uint16
	FileIndex   uint32 // file_index, splice_fd_in
	Addr3       uint64
	_           uint64
}

// CQE is struct io_uring_cqe: one completion, 16 bytes.
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

// getEventsArg is struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG).
type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWaitUs uint32
	ts        uint64
}

// probeOp and probeHead are struct io_uring_probe_op and the head of
// struct io_uring_probe, which ends in an array of probeOp.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

type probeHead struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
}

// bufReg is struct io_uring_buf_reg (IORING_REGISTER_PBUF_RING).
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

// ringBuf is struct io_uring_buf, one entry of a provided buffer ring; the
// ring's tail overlays the first entry's resv.
type ringBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// rsrcRegister is struct io_uring_rsrc_register (IORING_REGISTER_FILES2).
type rsrcRegister struct {
	nr, flags uint32
	resv2     uint64
	data      uint64
	tags      uint64
}

// Op is an io_uring opcode (enum io_uring_op).
type Op uint8

// The opcodes this package prepares.
const (
	OpNop         Op = 0
	OpTimeout     Op = 11
	OpAccept      Op = 13
	OpAsyncCancel Op = 14
	OpConnect     Op = 16
	OpClose       Op = 19
	OpFilesUpdate Op = 20
	OpRead        Op = 22
	OpSend        Op = 26
	OpRecv        Op = 27
	OpShutdown    Op = 34
)

var opNames = map[Op]string{
	OpNop: "NOP", OpTimeout: "TIMEOUT", OpAccept: "ACCEPT", OpAsyncCancel: "ASYNC_CANCEL",
	OpConnect: "CONNECT", OpClose: "CLOSE", OpFilesUpdate: "FILES_UPDATE", OpRead: "READ",
	OpSend: "SEND", OpRecv: "RECV", OpShutdown: "SHUTDOWN",
}

func (o Op) String() string {
	if n, ok := opNames[o]; ok {
		return "IORING_OP_" + n
	}
	return "opcode " + strconv.Itoa(int(o))
}

// The Linux release that brought each opcode, for the refusal on a kernel
// that lacks one (io_uring_enter(2), liburing's io_uring_prep_* pages).
var opSince = map[Op]string{
	OpNop: "5.1", OpTimeout: "5.4", OpAccept: "5.5", OpAsyncCancel: "5.5", OpConnect: "5.5",
	OpClose: "5.6", OpFilesUpdate: "5.6", OpRead: "5.6", OpSend: "5.6", OpRecv: "5.6",
	OpShutdown: "5.11",
}

const (
	setupSQPoll       = 1 << 1
	setupCQSize       = 1 << 3
	setupClamp        = 1 << 4
	setupSubmitAll    = 1 << 7
	setupCoopTaskrun  = 1 << 8
	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13

	featSingleMmap = 1 << 0
	featNoDrop     = 1 << 1
	featFastPoll   = 1 << 5
	featExtArg     = 1 << 8
	featMinTimeout = 1 << 15

	enterGetEvents = 1 << 0
	enterSQWakeup  = 1 << 1
	enterSQWait    = 1 << 2
	enterExtArg    = 1 << 3

	sqNeedWakeup = 1 << 0
	sqCQOverflow = 1 << 1
	sqTaskrun    = 1 << 2

	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000

	registerFilesUpdate = 6
	registerProbe       = 8
	registerFiles2      = 13
	registerPbufRing    = 22
	unregisterPbufRing  = 23

	rsrcRegisterSparse = 1 << 0
	opSupported        = 1 << 0
)

// SQE flags (IOSQE_*).
const (
	FlagFixedFile      = 1 << 0
	FlagBufferSelect   = 1 << 5
	FlagCQESkipSuccess = 1 << 6
)

// CQE flags (IORING_CQE_F_*).
const (
	// CQEBuffer: the upper 16 bits of Flags are the provided buffer's id.
	CQEBuffer = 1 << 0
	// CQEMore: the multishot request that posted this stays armed.
	CQEMore        = 1 << 1
	cqeBufferShift = 16
)

const (
	acceptMultishot = 1 << 0 // sqe->ioprio of ACCEPT
	recvMultishot   = 1 << 1 // sqe->ioprio of RECV
	cancelAll       = 1 << 0
	cancelFD        = 1 << 1
	cancelFDFixed   = 1 << 3
)
