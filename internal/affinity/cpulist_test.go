package affinity

import (
	"slices"
	"strings"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	cases := []struct {
		in      string
		want    []int
		errPart string // the error must quote the offending part
	}{
		{in: "0", want: []int{0}},
		{in: "0-1,3", want: []int{0, 1, 3}},
		{in: "3,0-1", want: []int{0, 1, 3}},
		{in: "1,1,0-1", want: []int{0, 1}},
		{in: "0-3\n", want: []int{0, 1, 2, 3}},
		{in: "5-5", want: []int{5}},
		{in: "1023", want: []int{1023}},
		{in: "", errPart: `""`},
		{in: "  \n", errPart: "empty"},
		{in: "1-", errPart: `"1-"`},
		{in: "-1", errPart: `"-1"`},
		{in: "0,x", errPart: `"x"`},
		{in: "3-1", errPart: `"3-1"`},
		{in: "1,,2", errPart: "empty entry"},
		{in: "1,", errPart: "empty entry"},
		{in: "1024", errPart: "1024"},
		{in: "0-99999999999999999999", errPart: "99999999999999999999"},
		{in: "1, 2", errPart: `" 2"`},
		{in: "+1", errPart: `"+1"`},
		{in: "0-1:2", errPart: `"1:2"`},
	}
	for _, c := range cases {
		got, err := ParseCPUList(c.in)
		if c.errPart != "" {
			if err == nil {
				t.Errorf("ParseCPUList(%q) = %v, want an error", c.in, got)
			} else if !strings.Contains(err.Error(), c.errPart) {
				t.Errorf("ParseCPUList(%q) error %q does not mention %s", c.in, err, c.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCPUList(%q): %v", c.in, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ParseCPUList(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestFormatCPUList(t *testing.T) {
	cases := []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1}, "0-1"},
		{[]int{5, 0, 1, 2, 2}, "0-2,5"},
		{[]int{1, 3, 5}, "1,3,5"},
	}
	for _, c := range cases {
		if got := FormatCPUList(c.in); got != c.want {
			t.Errorf("FormatCPUList(%v) = %q, want %q", c.in, got, c.want)
		}
		if c.want == "" {
			continue
		}
		back, err := ParseCPUList(c.want)
		if err != nil || !slices.Equal(back, slices.Compact(slices.Sorted(slices.Values(c.in)))) {
			t.Errorf("ParseCPUList(FormatCPUList(%v)) = %v, %v", c.in, back, err)
		}
	}
}

func TestOnlineIncludesCPU0(t *testing.T) {
	cpus, err := Online()
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) == 0 || cpus[0] != 0 {
		t.Fatalf("online CPUs %v: want a list starting at CPU 0", cpus)
	}
}

// FuzzParseCPUList: a list either parses to sorted, distinct, in-range
// CPUs that format back to a list parsing to the same, or is an error.
func FuzzParseCPUList(f *testing.F) {
	for _, s := range []string{"0", "0-3", "0,2-3", "1-0", " 0\n", "", "0,,1", "+1", "1023", "1024", "0-1023,5", "3-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cpus, err := ParseCPUList(s)
		if err != nil {
			return
		}
		if len(cpus) == 0 {
			t.Fatalf("%q: no CPUs and no error", s)
		}
		for i, c := range cpus {
			if c < 0 || c >= maxCPU || (i > 0 && c <= cpus[i-1]) {
				t.Fatalf("%q: %v is not sorted, distinct and in range", s, cpus)
			}
		}
		again, err := ParseCPUList(FormatCPUList(cpus))
		if err != nil || !slices.Equal(again, cpus) {
			t.Fatalf("%q → %v → %q → %v, %v", s, cpus, FormatCPUList(cpus), again, err)
		}
	})
}
