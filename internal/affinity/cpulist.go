// Package affinity pins processes to CPUs, so that a server and its load
// generator measured on one machine each have their own cores and do not
// take turns on the same one.
//
// CPU affinity on Linux belongs to threads, not processes: sched_setaffinity
// changes one thread, and a new thread or child process inherits the mask of
// the thread that created it. Both functions here are built on that rule.
package affinity

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// maxCPU is one past the highest CPU number a unix.CPUSet can hold.
const maxCPU = 1024

// ParseCPUList parses the kernel's cpu-list format, as in
// /sys/devices/system/cpu/online, Cpus_allowed_list and taskset -c:
// comma-separated CPU numbers and inclusive ranges, "0-1,3". The result is
// sorted with duplicates removed. Surrounding white space (the newline of a
// sysfs file) is ignored; an empty list is an error, because pinning to no
// CPU at all is never what a caller means.
func ParseCPUList(s string) ([]int, error) {
	trimmed := strings.TrimSpace(s)
	if trimmed == "" {
		return nil, fmt.Errorf("cpu list %q is empty", s)
	}
	var cpus []int
	for part := range strings.SplitSeq(trimmed, ",") {
		lo, hi, err := parseCPURange(part)
		if err != nil {
			return nil, fmt.Errorf("cpu list %q: %w", trimmed, err)
		}
		for c := lo; c <= hi; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

// parseCPURange parses "N" or "N-M".
func parseCPURange(part string) (lo, hi int, err error) {
	if part == "" {
		return 0, 0, fmt.Errorf("empty entry (two commas, or a comma at an end)")
	}
	first, last, isRange := strings.Cut(part, "-")
	if lo, err = parseCPU(first); err != nil {
		return 0, 0, fmt.Errorf("entry %q: %w", part, err)
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = parseCPU(last); err != nil {
		return 0, 0, fmt.Errorf("entry %q: %w", part, err)
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("entry %q: range ends before it starts", part)
	}
	return lo, hi, nil
}

func parseCPU(s string) (int, error) {
	// Digits only: Atoi alone would take "+1", and the kernel's format has no
	// signs or spaces.
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a CPU number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n >= maxCPU {
		return 0, fmt.Errorf("CPU %s is out of range (0-%d)", s, maxCPU-1)
	}
	return n, nil
}

// FormatCPUList writes cpus in the kernel's cpu-list format with ranges
// collapsed, the inverse of ParseCPUList: [0 1 2 5] becomes "0-2,5".
func FormatCPUList(cpus []int) string {
	sorted := slices.Compact(slices.Sorted(slices.Values(cpus)))
	var b strings.Builder
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(sorted[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(sorted[j]))
		}
		i = j + 1
	}
	return b.String()
}

// onlinePath lists the CPUs the kernel has brought up.
const onlinePath = "/sys/devices/system/cpu/online"

// Online returns the CPUs that are online.
func Online() ([]int, error) {
	b, err := os.ReadFile(onlinePath)
	if err != nil {
		return nil, fmt.Errorf("read online CPUs: %w", err)
	}
	cpus, err := ParseCPUList(string(b))
	if err != nil {
		return nil, fmt.Errorf("read online CPUs from %s: %w", onlinePath, err)
	}
	return cpus, nil
}
