package servers

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"
	"time"
)

// Every knob's default is a value it accepts, reads back from its own
// text, and is what a zero Options becomes.
func TestKnobDefaults(t *testing.T) {
	defaults := Options{}.withDefaults()
	for _, k := range Knobs {
		if err := k.Check(k.Default); err != nil {
			t.Errorf("%s: default %v refused: %v", k.Name, k.Default, err)
		}
		if v, err := k.Parse(k.Format(k.Default)); err != nil || v != k.Default {
			t.Errorf("%s: Parse(Format(default)) = %v, %v", k.Name, v, err)
		}
		if got := k.Value(&defaults); got != k.Default {
			t.Errorf("%s: zero Options default to %v, the table says %v", k.Name, got, k.Default)
		}
	}
}

func TestKnobRules(t *testing.T) {
	epoll := Model{Name: "epoll"}
	nethttp := Model{Name: "nethttp"}
	for _, c := range []struct {
		name  string
		model Model
		s     Settings
		want  string // "" for no error
	}{
		{"defaults", nethttp, Settings{}, ""},
		{"a model's own knob", epoll, Settings{"loops": 2, "rearm": "oneshot"}, ""},
		{"another model's knob", nethttp, Settings{"accept_batch": 4}, "knob accept_batch does not apply to the nethttp model (it applies to epoll, poll, select)"},
		{"another model's knob at its default", nethttp, Settings{"rearm": "persistent"}, ""},
		{"below the minimum", epoll, Settings{"loops": -1}, "loops -1: at least 1"},
		{"not a choice", epoll, Settings{"handler": "jinja"}, `handler "jinja" is not one of static, template, template-reparse`},
		{"listeners without reuseport", epoll, Settings{"listeners": 2}, "needs reuseport"},
		{"a duration", nethttp, Settings{"header_timeout": 5 * time.Second}, ""},
		{"a duration not positive", epoll, Settings{"idle_timeout": -time.Second}, "idle_timeout -1s: must be positive"},
	} {
		err := c.model.Validate(c.s.Options())
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// A stored cell's settings are data someone may have edited: they are
// checked against the table as they are read.
func TestSettingsJSON(t *testing.T) {
	in := Settings{"backlog": 1, "nodelay": false, "handler": "static", "idle_timeout": 90 * time.Second}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	// A duration is stored as a configuration writes it.
	if !strings.Contains(string(data), `"idle_timeout":"90s"`) {
		t.Errorf("stored as %s", data)
	}
	var out Settings
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 || out["backlog"] != 1 || out["nodelay"] != false || out["handler"] != "static" || out["idle_timeout"] != 90*time.Second {
		t.Errorf("round trip: %#v", out)
	}
	for _, bad := range []struct{ json, want string }{
		{`{"backlgo": 1}`, `unknown knob "backlgo"`},
		{`{"backlog": "1"}`, "knob backlog"},
		{`{"backlog": 1.5}`, "knob backlog"},
		{`{"loops": 0}`, "loops 0: at least 1"},
		{`{"rearm": "sometimes"}`, `rearm "sometimes" is not one of persistent, oneshot`},
		{`{"header_timeout": 60}`, "knob header_timeout"},
		{`{"header_timeout": "soon"}`, `header_timeout wants a duration such as 60s or 500ms, not "soon"`},
		{`{"header_timeout": "0s"}`, "header_timeout 0s: must be positive"},
	} {
		var s Settings
		if err := json.Unmarshal([]byte(bad.json), &s); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.json, err, bad.want)
		}
	}
	if got := (Settings{"accept_batch": 1, "backlog": 8}).Flags(); strings.Join(got, " ") != "--backlog=8 --accept-batch=1" {
		t.Errorf("flags in table order: %v", got)
	}
}

// The knobs work as flags of the standard flag package too: a bare bool
// flag, a value checked as it is parsed.
func TestKnobFlags(t *testing.T) {
	var o Options
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	for _, k := range Knobs {
		fs.Var(k.FlagValue(&o), k.Flag(), k.Describe())
	}
	if err := fs.Parse([]string{"--reuseport", "--listeners=2", "--accept-batch=3", "--nodelay=false", "--body=large", "--header-timeout=1.5s"}); err != nil {
		t.Fatal(err)
	}
	if !o.ReusePort || o.Listeners != 2 || o.AcceptBatch != 3 || o.NoDelayEnabled() || o.Body != BodyLarge || o.HeaderTimeout != 1500*time.Millisecond {
		t.Errorf("parsed %+v", o)
	}
	if got := fs.Lookup("header-timeout").Value.String(); got != "1500ms" {
		t.Errorf("--header-timeout=1.5s reads back as %q", got)
	}
	if err := fs.Parse([]string{"--workers=0"}); err == nil || !strings.Contains(err.Error(), "workers 0: at least 1") {
		t.Errorf("--workers=0: %v", err)
	}
}
