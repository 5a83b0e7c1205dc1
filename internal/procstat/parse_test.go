package procstat

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// statLine builds a /proc/PID/stat line with the given command name and
// recognisable values in the fields the parser reads.
func statLine(comm string) string {
	// Fields 3.. of a real line from this machine, with utime=1234,
	// stime=567, num_threads=9 and rss=4321 put in.
	f := strings.Fields("S 4987 4988 4988 0 -1 4194560 2755 37522 0 67 1234 567 94 150 20 0 9 0 41185 5124096 4321 18446744073709551615 94871182688256")
	return "4988 (" + comm + ") " + strings.Join(f, " ") + "\n"
}

func TestParseStat(t *testing.T) {
	want := stat{ppid: 4987, pgrp: 4988, utime: 1234, stime: 567, threads: 9, start: 41185, rssPages: 4321}
	cases := []struct {
		name string
		line string
		ok   bool
		comm string
	}{
		{"plain name", statLine("bash"), true, "bash"},
		{"name with spaces", statLine("my server"), true, "my server"},
		{"name with parentheses and spaces", statLine("a b) c"), true, "a b) c"},
		{"name ending in a parenthesis", statLine("x)"), true, "x)"},
		{"name that looks like fields", statLine("S 1 2 3) 4 5"), true, "S 1 2 3) 4 5"},
		{"empty name", statLine(""), true, ""},
		{"no parentheses", "4988 bash S 1 2 3\n", false, ""},
		{"truncated after the name", "4988 (bash) S 1 2\n", false, ""},
		{"utime not a number", strings.Replace(statLine("bash"), " 1234 ", " x ", 1), false, ""},
		{"state is not one letter", strings.Replace(statLine("bash"), ") S ", ") SS ", 1), false, ""},
		{"empty", "", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseStat([]byte(c.line))
			if !c.ok {
				if err == nil {
					t.Fatalf("parseStat(%q) = %+v, want an error", c.line, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseStat(%q): %v", c.line, err)
			}
			w := want
			w.name = c.comm
			if got != w {
				t.Fatalf("parseStat(%q) = %+v, want %+v", c.line, got, w)
			}
		})
	}
}

func TestParseSwitches(t *testing.T) {
	cases := []struct {
		name            string
		status          string
		vol, invol      uint64
		wantErrContains string
	}{
		{
			name:   "real layout",
			status: "Name:\tsockbench\nThreads:\t5\nCpus_allowed_list:\t0\nvoluntary_ctxt_switches:\t4637\nnonvoluntary_ctxt_switches:\t1761\n",
			vol:    4637, invol: 1761,
		},
		{
			name:   "no trailing newline",
			status: "Name:\tx\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t18446744073709551615",
			vol:    1, invol: 18446744073709551615,
		},
		{
			// "voluntary_ctxt_switches:" is a suffix of the nonvoluntary key;
			// the parser must not take the nonvoluntary value for it.
			name:            "only the nonvoluntary line",
			status:          "Name:\tx\nnonvoluntary_ctxt_switches:\t7\n",
			wantErrContains: "no \"voluntary_ctxt_switches\" line",
		},
		{
			name:            "not a number",
			status:          "Name:\tx\nvoluntary_ctxt_switches:\tmany\nnonvoluntary_ctxt_switches:\t7\n",
			wantErrContains: "\"many\" is not a number",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vol, invol, err := parseSwitches([]byte(c.status))
			if c.wantErrContains != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErrContains) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErrContains)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if vol != c.vol || invol != c.invol {
				t.Fatalf("got %d/%d, want %d/%d", vol, invol, c.vol, c.invol)
			}
		})
	}
}

// VmHWM is in kB; a status file without it (a kernel thread's) is an
// error, not 0.
func TestParsePeakRSS(t *testing.T) {
	n, err := parsePeakRSS([]byte("Name:\tagent\nVmPeak:\t 1263936 kB\nVmSize:\t 1263936 kB\nVmHWM:\t   25104 kB\nVmRSS:\t   24880 kB\n"))
	if err != nil || n != 25104<<10 {
		t.Errorf("parsePeakRSS = %d, %v; want %d", n, err, 25104<<10)
	}
	if _, err := parsePeakRSS([]byte("Name:\tkthreadd\nVmRSS:\t0 kB\n")); err == nil || !strings.Contains(err.Error(), `no "VmHWM" line`) {
		t.Errorf("without a VmHWM line: %v", err)
	}
}

func TestParseIntList(t *testing.T) {
	cases := []struct {
		in   string
		want []int
		ok   bool
	}{
		{"", nil, true},
		{"12983 ", []int{12983}, true},
		{"1 22 333\n", []int{1, 22, 333}, true},
		{"1,2", nil, false},
	}
	for _, c := range cases {
		got, err := parseIntList([]byte(c.in))
		if (err == nil) != c.ok {
			t.Fatalf("parseIntList(%q) error = %v, want ok=%v", c.in, err, c.ok)
		}
		if c.ok && !equalInts(got, c.want) {
			t.Fatalf("parseIntList(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzParseStat: any stat line is fields or an error, never a panic; a
// line built with any command name gives back the values put in.
func FuzzParseStat(f *testing.F) {
	f.Add(statLine("bash"), "x")
	f.Add("4988 (a) S", "a b) c")
	f.Add("", ") (")
	f.Fuzz(func(t *testing.T, line, comm string) {
		parseStat([]byte(line))
		if strings.ContainsAny(comm, "\n") {
			return
		}
		st, err := parseStat([]byte(statLine(comm)))
		if err != nil || st.utime != 1234 || st.stime != 567 || st.threads != 9 || st.rssPages != 4321 || st.ppid != 4987 {
			t.Errorf("command name %q: %+v, %v", comm, st, err)
		}
	})
}

// FuzzParseSwitches: any status file is two counts or an error.
func FuzzParseSwitches(f *testing.F) {
	f.Add("Name:\tx\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n")
	f.Add("voluntary_ctxt_switches: 99999999999999999999999\n")
	f.Fuzz(func(t *testing.T, status string) { parseSwitches([]byte(status)) })
}

// FuzzParseIntList: a list of pids parses to exactly the numbers written,
// or is an error.
func FuzzParseIntList(f *testing.F) {
	for _, s := range []string{"", "1 22 333\n", "1,2", "99999999999999999999", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseIntList([]byte(s))
		if err != nil {
			return
		}
		fields := strings.Fields(s)
		if len(got) != len(fields) {
			t.Fatalf("%q: %v", s, got)
		}
		for i, field := range fields {
			if n, err := strconv.Atoi(field); err != nil || n != got[i] || n < 0 {
				t.Fatalf("%q: entry %d is %d, the text says %q", s, i, got[i], field)
			}
		}
	})
}

func TestCPUTimes(t *testing.T) {
	got, err := parseCPUTimes([]byte("cpu  72328 201 41742 235939 1269 0 7667 85 0 0\ncpu0 33201 88 20303 121617 388 0 3633 41 0 0\ncpu1 39126 112 21438 114322 881 5 4034 44 0 0\nintr 1 2 3\n"), 10*time.Millisecond)
	if err != nil || len(got) != 2 || got[1].IRQ != 50*time.Millisecond || got[0].Steal != 410*time.Millisecond || got[1].User != 391260*time.Millisecond {
		t.Fatalf("%+v, %v", got, err)
	}
	live, err := CPUTimes()
	if err != nil || len(live) == 0 || live[0].Total() <= 0 {
		t.Fatalf("this machine's /proc/stat: %v, %v", live, err)
	}
}

// FuzzParseCPUTimes: any /proc/stat text is CPU times or an error.
func FuzzParseCPUTimes(f *testing.F) {
	f.Add("cpu  1 2 3 4\ncpu0 1 2 3 4 5 6 7 8 9 10\ncpu1 1\n")
	f.Add("cpu-1 1 2\n")
	f.Add("cpu0 99999999999999999999\n")
	f.Fuzz(func(t *testing.T, text string) {
		times, err := parseCPUTimes([]byte(text), 10*time.Millisecond)
		for _, c := range times {
			if err == nil && (c.User < 0 || c.Steal < 0) {
				t.Fatalf("negative time from %q: %+v", text, c)
			}
		}
	})
}
