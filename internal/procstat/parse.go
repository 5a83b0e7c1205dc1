package procstat

import (
	"bytes"
	"fmt"
	"strconv"
)

// stat holds the fields of /proc/PID/stat this package uses.
type stat struct {
	name     string // the command name, without its parentheses
	ppid     int
	pgrp     int
	utime    int64 // clock ticks
	stime    int64 // clock ticks
	threads  int
	start    int64 // clock ticks after boot
	rssPages int64
}

// Field numbers from proc(5), counting from 1 as the manual does.
const (
	fieldState   = 3
	fieldPPID    = 4
	fieldPGRP    = 5
	fieldUtime   = 14
	fieldStime   = 15
	fieldThreads = 20
	fieldStart   = 22
	fieldRSS     = 24
)

// parseStat parses one /proc/PID/stat line. The second field is the
// command name in parentheses, and the name may itself contain spaces and
// parentheses ("(a b) c)"); the kernel writes it unescaped, so the only
// reliable end of it is the last ')' on the line.
func parseStat(b []byte) (stat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return stat{}, fmt.Errorf("malformed /proc stat line %q: no (command name)", clip(b))
	}
	// After ") " come the fields from number 3 on, separated by one space.
	rest := bytes.Fields(b[end+1:])
	field := func(n int) ([]byte, error) {
		i := n - fieldState
		if i >= len(rest) {
			return nil, fmt.Errorf("malformed /proc stat line %q: %d fields, want at least %d", clip(b), len(rest)+2, n)
		}
		return rest[i], nil
	}
	num := func(n int, name string) (int64, error) {
		f, err := field(n)
		if err != nil {
			return 0, err
		}
		v, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc stat line: field %d (%s) %q is not a number", n, name, f)
		}
		return v, nil
	}
	st := stat{name: string(b[open+1 : end])}
	// The state is one letter; anything else means the name was split in
	// the wrong place.
	if f, err := field(fieldState); err != nil {
		return stat{}, err
	} else if len(f) != 1 {
		return stat{}, fmt.Errorf("malformed /proc stat line: state %q is not one letter", f)
	}
	ppid, err := num(fieldPPID, "ppid")
	if err != nil {
		return stat{}, err
	}
	st.ppid = int(ppid)
	pgrp, err := num(fieldPGRP, "pgrp")
	if err != nil {
		return stat{}, err
	}
	st.pgrp = int(pgrp)
	if st.utime, err = num(fieldUtime, "utime"); err != nil {
		return stat{}, err
	}
	if st.stime, err = num(fieldStime, "stime"); err != nil {
		return stat{}, err
	}
	threads, err := num(fieldThreads, "num_threads")
	if err != nil {
		return stat{}, err
	}
	st.threads = int(threads)
	if st.start, err = num(fieldStart, "starttime"); err != nil {
		return stat{}, err
	}
	if st.rssPages, err = num(fieldRSS, "rss"); err != nil {
		return stat{}, err
	}
	return st, nil
}

var (
	voluntaryKey    = []byte("\nvoluntary_ctxt_switches:")
	nonvoluntaryKey = []byte("\nnonvoluntary_ctxt_switches:")
)

// parseSwitches finds the two context-switch lines of a /proc status file.
// Both keys start after a newline, so "voluntary" cannot match inside
// "nonvoluntary".
func parseSwitches(b []byte) (vol, invol uint64, err error) {
	if vol, err = statusValue(b, voluntaryKey); err != nil {
		return 0, 0, err
	}
	if invol, err = statusValue(b, nonvoluntaryKey); err != nil {
		return 0, 0, err
	}
	return vol, invol, nil
}

var peakRSSKey = []byte("\nVmHWM:")

// parsePeakRSS reads the VmHWM line of a /proc status file: the most
// resident memory the process has had, in bytes.
func parsePeakRSS(b []byte) (int64, error) {
	kb, err := statusValue(b, peakRSSKey)
	return int64(kb) << 10, err
}

// statusValue is the number on the line of a /proc status file that
// starts with key; a size's unit, kB (the only one the file uses), is
// dropped.
func statusValue(b, key []byte) (uint64, error) {
	i := bytes.Index(b, key)
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc status: no %q line", key[1:len(key)-1])
	}
	v := b[i+len(key):]
	if nl := bytes.IndexByte(v, '\n'); nl >= 0 {
		v = v[:nl]
	}
	v = bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed /proc status: %s %q is not a number", key[1:len(key)-1], bytes.TrimSpace(v))
	}
	return n, nil
}

// clip shortens a line for an error message.
func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
