package loadgen

import (
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// A value given is checked as given: zero connections, threads, duration or
// timeout are refused, not replaced by the defaults that fill in what was
// not given. The attack command passes its flags' Changed as given.
func TestCheckTakesGivenZerosAsGiven(t *testing.T) {
	for _, tc := range []struct {
		given  string
		o      Options
		option string
		want   string
	}{
		{"connections", Options{}, "connections", "--connections 0: must be at least 1"},
		{"threads", Options{}, "threads", "--threads 0: must be at least 1"},
		{"duration", Options{}, "duration", "--duration 0s: must be positive"},
		{"timeout", Options{}, "timeout", "--timeout 0s: must be positive"},
		{"pipeline", Options{}, "pipeline", "--pipeline 0: must be at least 1"},
		{"chunk-size", Options{Mode: Stream, URL: "tcp://127.0.0.1:1"}, "chunk-size", "--chunk-size 0: must be at least 1 byte"},
		{"status", Options{}, "status", "--status 0 is not an HTTP status code"},
		{"mode", Options{}, "mode", `--mode "": want one of closed, open, stream`},
	} {
		t.Run(tc.given, func(t *testing.T) {
			o := tc.o
			if o.URL == "" {
				o.URL = "http://127.0.0.1:1/"
			}
			err := o.CheckGiven(FlagName, func(option string) bool { return option == tc.given })
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != tc.option || oe.Msg != tc.want {
				t.Errorf("%s given as zero: %v, want option %s: %q", tc.given, err, tc.option, tc.want)
			}
		})
	}
	// Not given, each of them has its default, as when Run or Check read
	// a zero (nil: nothing given).
	for _, given := range []func(string) bool{func(string) bool { return false }, nil} {
		o := Options{URL: "http://127.0.0.1:1/"}
		if err := o.CheckGiven(FlagName, given); err != nil {
			t.Fatalf("defaults refused: %v", err)
		}
		o = o.withDefaults(given)
		if o.Connections != DefaultConnections || o.Duration != DefaultDuration || o.Timeout != DefaultTimeout || o.Threads < 1 || o.Pipeline != 1 {
			t.Errorf("defaults %+v", o)
		}
	}
	if o := (Options{URL: "tcp://127.0.0.1:1", Mode: Stream}).withDefaults(nil); o.ChunkSize != DefaultChunkSize {
		t.Errorf("stream chunk size %d, want the default %d", o.ChunkSize, DefaultChunkSize)
	}
}

// CheckEach checks each option given on its own, whatever the others say
// (a configuration checks one matrix value at a time), and leaves the
// rules about options together to Check.
func TestCheckEachChecksGivenOptionsOnTheirOwn(t *testing.T) {
	given := func(options ...string) func(string) bool {
		return func(o string) bool { return slices.Contains(options, o) }
	}
	o := Options{Threads: 5, Connections: 1, Rate: -1, Period: -time.Second}
	for _, tc := range []struct {
		given []string
		want  string
	}{
		{[]string{"threads", "connections"}, ""}, // 5 threads for 1 connection is a combination
		{nil, ""},
		{[]string{"chunk-size"}, "--chunk-size 0: must be at least 1 byte"},
		{[]string{"rate"}, "--rate -1: must not be negative"},
		{[]string{"period"}, "--period -1s: must not be negative"},
		{[]string{"pipeline"}, "--pipeline 0: must be at least 1"},
	} {
		err := o.CheckEach(FlagName, given(tc.given...))
		var oe *OptionError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v given: %v, want no problem", tc.given, err)
		case tc.want != "" && (!errors.As(err, &oe) || oe.Option != tc.given[0] || oe.Msg != tc.want):
			t.Errorf("%v given: %v, want %q", tc.given, err, tc.want)
		}
	}
	// Check applies the same rules to every option, then the combinations.
	if err := (Options{URL: "http://127.0.0.1:1/", Mode: Open, Rate: 10, Period: -time.Second}).Check(FlagName); err == nil || err.Error() != "--period -1s: must not be negative" {
		t.Errorf("negative period: %v", err)
	}
	if err := (Options{URL: "http://127.0.0.1:1/", Threads: 5, Connections: 1}).Check(FlagName); err == nil || !strings.Contains(err.Error(), "every event loop needs a connection") {
		t.Errorf("5 threads for 1 connection: %v", err)
	}
}

// WithDefaults reads every option as Run does but leaves Threads zero, for
// the machine that runs the attack (an agent's) to fill in; given threads
// are kept.
func TestWithDefaultsLeavesThreadsToTheMachine(t *testing.T) {
	o := Options{URL: "http://127.0.0.1:1/"}
	got, run := o.WithDefaults(), o.withDefaults(nil)
	if got.Threads != 0 {
		t.Errorf("WithDefaults filled in %d threads, want 0 for the agent's machine", got.Threads)
	}
	run.Threads = 0
	if !reflect.DeepEqual(got, run) {
		t.Errorf("WithDefaults %+v, want Run's defaults %+v", got, run)
	}
	if got.Mode != Closed || got.Connections != DefaultConnections || got.Duration != DefaultDuration || got.Timeout != DefaultTimeout || got.Pacer != PacerConstant {
		t.Errorf("defaults %+v", got)
	}
	if o := (Options{URL: o.URL, Connections: 8, Threads: 3}).WithDefaults(); o.Threads != 3 || o.Connections != 8 {
		t.Errorf("given options replaced: %+v", o)
	}
}

// The limits an attack must fit in, with the machine's numbers given: the
// refusal names the option to change, the number it may be, and the fix.
func TestLimitsRefuseWhatTheMachineCannotCarry(t *testing.T) {
	machine := systemLimits{openFiles: 20000, openNow: 8, portLo: 32768, portHi: 60999, twReuse: 2}
	for _, tc := range []struct {
		name   string
		o      Options
		limits systemLimits
		option string   // "" for none
		want   []string // in the message
	}{
		{"within both", Options{Connections: 10000}, machine, "", nil},
		{"open files", Options{Connections: 100000, Threads: 2}, machine, "connections",
			[]string{"--connections 100000", "open-file limit is 20000", "keeps 28 for itself", "at most 19972 connections", "ulimit -n"}},
		{"open files, open mode", Options{Mode: Open, Rate: 10, Connections: 19977}, machine, "connections",
			[]string{"keeps 24 for itself", "at most 19976"}},
		{"local ports", Options{Connections: 30000}, systemLimits{openFiles: 1 << 20, portLo: 32768, portHi: 60999, twReuse: 2}, "connections",
			[]string{"--connections 30000", "127.0.0.1:8080 needs a local port", "32768-60999) has 28232", "at most 28232 connections"}},
		{"close churn, loopback reuses TIME_WAIT after a second", Options{Close: true, Rate: 30000}, machine, "rate",
			[]string{"--close at --rate 30000", "for 1s in TIME_WAIT", "up to 30000 ports", "at most --rate 28232"}},
		{"close churn within the ports", Options{Close: true, Rate: 20000}, machine, "", nil},
		{"close churn, no reuse", Options{Close: true, Rate: 1000}, systemLimits{openFiles: 20000, portLo: 32768, portHi: 60999, twReuse: 0}, "rate",
			[]string{"for 1m0s in TIME_WAIT", "up to 60000 ports", "at most --rate 470,", "set net.ipv4.tcp_tw_reuse to 1"}},
		{"close churn, a 10s window holds at most 10s of it", Options{Close: true, Rate: 2000, Duration: 10 * time.Second}, systemLimits{openFiles: 20000, portLo: 32768, portHi: 60999, twReuse: 0}, "", nil},
		{"unknown limits", Options{Connections: 1 << 20}, systemLimits{twReuse: -1}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.URL = "http://127.0.0.1:8080/"
			if o.Duration == 0 {
				o.Duration = 10 * time.Second
				if o.Close {
					o.Duration = time.Minute
				}
			}
			o = o.withDefaults(nil)
			target, err := url.Parse(o.URL)
			if err != nil {
				t.Fatal(err)
			}
			err = o.checkLimits(FlagName, target, tc.limits)
			var oe *OptionError
			switch {
			case tc.option == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.option == "":
			case !errors.As(err, &oe) || oe.Option != tc.option:
				t.Errorf("%v, want a refusal naming %s", err, tc.option)
			default:
				for _, w := range tc.want {
					if !strings.Contains(oe.Msg, w) {
						t.Errorf("%q lacks %q", oe.Msg, w)
					}
				}
			}
		})
	}
}
