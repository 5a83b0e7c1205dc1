package runner

import (
	"strings"
	"testing"
)

// FuzzStraceTable: any text strace -c might leave (cut short, another
// strace's format, garbage) is counts or an error, and the total is the
// sum of the counts by name.
func FuzzStraceTable(f *testing.F) {
	f.Add("% time     seconds  usecs/call     calls    errors syscall\n------ ----------- ----------- --------- --------- ----------------\n 70.14    0.485745       15179        32         3 futex\n  6.93    0.048021          23      2002           write\n100.00    0.533776         264      2035         3 total\n")
	f.Add("strace: exec: No such file or directory\n")
	f.Add(" 1.0 0.1 1 18446744073709551615 read\n 1.0 0.1 1 1 write\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, table string) {
		byName, total, err := readStraceTable(strings.NewReader(table), "strace.txt")
		if err != nil {
			if !strings.Contains(err.Error(), "strace.txt") {
				t.Errorf("error does not name the table: %v", err)
			}
			return
		}
		var sum uint64
		for _, n := range byName {
			sum += n
		}
		if sum != total || total == 0 {
			t.Errorf("total %d, counts %v", total, byName)
		}
	})
}
