package servers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Knob is one server setting a user can vary: a field of Options with its
// one name, type, default, rules and help. The table Knobs is the only
// place a knob is declared; the serve flags, the run configuration's
// knobs and axes, configs/schema.json and the README's knob table are
// made from it or held to it by tests.
type Knob struct {
	// Name is the configuration key and the placeholder of external
	// servers ("accept_batch"); the serve flag is Flag().
	Name string
	// Help is one sentence for --help, the schema and the README.
	Help string
	// Post is the thread post the knob comes from ("#5"), if any.
	Post string
	// Models lists the models that honour the knob; nil means every one.
	// Setting it away from its default for another model is an error, so
	// a benchmark never measures a setting that had no effect.
	Models []string
	// Default is the value when the knob is not set: an int, a bool, a
	// time.Duration or, for a knob with Choices, a string.
	Default any
	// Min is the least value of an integer knob. A duration knob's value
	// must be positive.
	Min int
	// Choices are the values of a string knob.
	Choices []string
	// Deviations are the conformance cases (package verify) a server
	// fails by design while the knob is away from its default, each with
	// the reason, as Model.Deviations are for a model: see
	// Model.DeviationsWith.
	Deviations map[string]string

	field field
}

// field reads and writes the Options field a knob stands for.
type field struct {
	get func(*Options) any
	set func(*Options, any)
}

func intField(p func(*Options) *int) field {
	return field{
		get: func(o *Options) any { return *p(o) },
		set: func(o *Options, v any) { *p(o) = v.(int) },
	}
}

func boolField(p func(*Options) *bool) field {
	return field{
		get: func(o *Options) any { return *p(o) },
		set: func(o *Options, v any) { *p(o) = v.(bool) },
	}
}

// optionalBoolField is a *bool field whose nil means the default, for a
// knob whose default is true (the zero Options must mean "defaults").
func optionalBoolField(p func(*Options) **bool, def bool) field {
	return field{
		get: func(o *Options) any {
			if *p(o) == nil {
				return def
			}
			return **p(o)
		},
		set: func(o *Options, v any) { b := v.(bool); *p(o) = &b },
	}
}

func durationField(p func(*Options) *time.Duration) field {
	return field{
		get: func(o *Options) any { return *p(o) },
		set: func(o *Options, v any) { *p(o) = v.(time.Duration) },
	}
}

func choiceField[T ~string](p func(*Options) *T) field {
	return field{
		get: func(o *Options) any { return string(*p(o)) },
		set: func(o *Options, v any) { *p(o) = T(v.(string)) },
	}
}

// Knobs is the table of every knob, in the order help texts list them.
var Knobs = []*Knob{
	{Name: "backlog", Post: "#5", Default: 0, Min: 0,
		Help:  "listen(2) backlog; 0 = the kernel maximum (net.core.somaxconn), 1 is honoured as given",
		field: intField(func(o *Options) *int { return &o.Backlog })},
	{Name: "reuseport", Post: "#1", Default: false,
		Help:  "open the listeners with SO_REUSEPORT, one loop each, and let the kernel spread connections",
		field: boolField(func(o *Options) *bool { return &o.ReusePort })},
	{Name: "listeners", Post: "#1", Default: 1, Min: 1,
		Help:  "number of SO_REUSEPORT listeners (needs reuseport)",
		field: intField(func(o *Options) *int { return &o.Listeners })},
	{Name: "loops", Default: 1, Min: 1, Models: []string{"epoll", "poll", "select", "uring"},
		Help:  "event loops sharing one listener",
		field: intField(func(o *Options) *int { return &o.Loops })},
	{Name: "gomaxprocs", Default: 0, Min: 0,
		Help:  "GOMAXPROCS of the server; 0 = the runtime's default (the CPUs it may use)",
		field: intField(func(o *Options) *int { return &o.GOMAXPROCS })},
	{Name: "nodelay", Default: true,
		Help:  "set TCP_NODELAY on accepted connections",
		field: optionalBoolField(func(o *Options) **bool { return &o.NoDelay }, true)},
	{Name: "accept_batch", Post: "#16–#19", Default: 0, Min: 0, Models: []string{"epoll", "poll", "select"},
		Help:  "connections accepted per listener wakeup; 0 = until accept says EAGAIN",
		field: intField(func(o *Options) *int { return &o.AcceptBatch })},
	{Name: "rearm", Post: "#15", Default: string(RearmPersistent), Models: []string{"epoll"},
		Choices: choices([]Rearm{RearmPersistent, RearmOneshot}),
		Help:    "poller registration: persistent, or oneshot (unregister and register around every accept and read)",
		field:   choiceField(func(o *Options) *Rearm { return &o.Rearm })},
	{Name: "workers", Default: 10000, Min: 1, Models: []string{"workerpool"},
		Help:  "cap of the worker pool; a connection past it is answered 503 and closed",
		field: intField(func(o *Options) *int { return &o.Workers })},
	{Name: "multishot_accept", Default: true, Models: []string{"uring"},
		Help:  "keep one multishot accept armed on the listener (IORING_ACCEPT_MULTISHOT), instead of submitting an accept per connection",
		field: optionalBoolField(func(o *Options) **bool { return &o.MultishotAccept }, true)},
	{Name: "buffer_ring", Default: true, Models: []string{"uring"},
		Help:  "receive with one multishot recv per connection into buffers the kernel takes from a provided buffer ring, instead of a recv per read into the connection's buffer",
		field: optionalBoolField(func(o *Options) **bool { return &o.BufferRing }, true)},
	{Name: "submit_batch", Default: true, Models: []string{"uring"},
		Help:  "submit all of a loop iteration's operations in its one io_uring_enter, instead of an io_uring_enter per operation",
		field: optionalBoolField(func(o *Options) **bool { return &o.SubmitBatch }, true)},
	{Name: "fixed_files", Default: true, Models: []string{"uring"},
		Help:  "put each connection in the ring's registered files, sparing the kernel a descriptor lookup per operation",
		field: optionalBoolField(func(o *Options) **bool { return &o.FixedFiles }, true)},
	{Name: "sqpoll", Default: false, Models: []string{"uring"},
		Help:  "a kernel thread polls the submission queue, so submitting makes no syscall while it is awake; it spends a core",
		field: boolField(func(o *Options) *bool { return &o.SQPoll })},
	{Name: "header_timeout", Default: 60 * time.Second,
		Help:  "a request head must be complete this long after its first byte (after accept, for a connection's first request), or the connection is closed; nginx's client_header_timeout",
		field: durationField(func(o *Options) *time.Duration { return &o.HeaderTimeout })},
	{Name: "idle_timeout", Default: 75 * time.Second,
		Help:  "a kept-alive connection with no request in progress is closed after this long; nginx's keepalive_timeout",
		field: durationField(func(o *Options) *time.Duration { return &o.IdleTimeout })},
	{Name: "handler", Post: "#5", Default: string(HandlerTemplate),
		Choices: choices(Handlers),
		Help:    "how the page is made: static bytes, a template compiled once, or re-parsed per request (the enable_async mistake)",
		field:   choiceField(func(o *Options) *Handler { return &o.Handler })},
	{Name: "body", Post: "#1", Default: string(BodySmall),
		Choices: choices([]Body{BodySmall, BodyLarge}),
		Help:    "page size: small (379 bytes) or large (3044 bytes)",
		field:   choiceField(func(o *Options) *Body { return &o.Body })},
	{Name: "close_after_response", Post: "#5", Default: false,
		Help:  "close the connection after every answer, unannounced (no Connection: close), as the thread's servers did: wrk counts each such close as a read error",
		field: boolField(func(o *Options) *bool { return &o.CloseAfterResponse }),
		Deviations: map[string]string{
			"keep-alive":    "the server closes after the first answer by design; a second request on the connection finds it closed",
			"pipelined":     "the server closes after the first answer by design; the requests pipelined behind it are not answered",
			"date-advances": "its second request reuses the connection after a pause, and the server has closed it by design",
		}},
}

func choices[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// LookupKnob returns the knob of that name.
func LookupKnob(name string) (*Knob, bool) {
	i := slices.IndexFunc(Knobs, func(k *Knob) bool { return k.Name == name })
	if i < 0 {
		return nil, false
	}
	return Knobs[i], true
}

// KnobNames lists the knobs' names in table order.
func KnobNames() []string {
	names := make([]string, len(Knobs))
	for i, k := range Knobs {
		names[i] = k.Name
	}
	return names
}

// Describe is the knob's help with the models it is limited to and the
// thread post it comes from: the text of --help, the schema and the README.
func (k *Knob) Describe() string {
	h := k.Help
	if k.Models != nil {
		h += " (" + strings.Join(k.Models, ", ") + ")"
	}
	if k.Post != "" {
		h += "; thread post " + k.Post
	}
	return h
}

// Flag is the knob's `sockbench serve` flag name, without dashes in front.
func (k *Knob) Flag() string { return strings.ReplaceAll(k.Name, "_", "-") }

// Type names the knob's values: "int", "bool", "duration" or "string".
func (k *Knob) Type() string {
	switch k.Default.(type) {
	case int:
		return "int"
	case bool:
		return "bool"
	case time.Duration:
		return "duration"
	}
	return "string"
}

// Applies reports whether the model honours the knob.
func (k *Knob) Applies(model string) bool {
	return k.Models == nil || slices.Contains(k.Models, model)
}

// Check says what is wrong with v as a value of the knob: the wrong type,
// below the minimum, not one of the choices.
func (k *Knob) Check(v any) error {
	switch want := k.Default.(type) {
	case int:
		n, ok := v.(int)
		if !ok {
			return fmt.Errorf("%s wants an integer, not %v", k.Name, v)
		}
		if n < k.Min {
			return fmt.Errorf("%s %d: at least %d", k.Name, n, k.Min)
		}
	case bool:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s wants true or false, not %v", k.Name, v)
		}
	case time.Duration:
		d, ok := v.(time.Duration)
		if !ok {
			return fmt.Errorf("%s wants a duration such as 60s or 500ms, not %v", k.Name, v)
		}
		if d <= 0 {
			return fmt.Errorf("%s %s: must be positive", k.Name, k.Format(d))
		}
	case string:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s wants one of %s, not %v", k.Name, strings.Join(k.Choices, ", "), v)
		}
		if !slices.Contains(k.Choices, s) {
			return fmt.Errorf("%s %q is not one of %s", k.Name, s, strings.Join(k.Choices, ", "))
		}
	default:
		panic(fmt.Sprintf("servers: knob %s has a default of type %T", k.Name, want))
	}
	return nil
}

// Parse reads a value of the knob from text, as a flag or a placeholder
// gives it, and checks it.
func (k *Knob) Parse(text string) (any, error) {
	var v any = text
	switch k.Default.(type) {
	case int:
		n, err := strconv.Atoi(text)
		if err != nil {
			return nil, fmt.Errorf("%s wants an integer, not %q", k.Name, text)
		}
		v = n
	case bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, fmt.Errorf("%s wants true or false, not %q", k.Name, text)
		}
		v = b
	case time.Duration:
		d, err := time.ParseDuration(text)
		if err != nil {
			return nil, fmt.Errorf("%s wants a duration such as 60s or 500ms, not %q", k.Name, text)
		}
		v = d
	}
	if err := k.Check(v); err != nil {
		return nil, err
	}
	return v, nil
}

// Format writes a value of the knob as text, the way Parse reads it. A
// duration is written in its largest whole unit of seconds or below
// ("60s", "200ms"), the way nginx's timeouts are, not as "1m0s".
func (k *Knob) Format(v any) string {
	d, ok := v.(time.Duration)
	if !ok {
		return fmt.Sprint(v)
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"}} {
		if d != 0 && d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.name
		}
	}
	return d.String()
}

// JSON is a value of the knob as a JSON (or YAML) document holds it: a
// duration as its text, so stored settings and the schema read like a
// configuration; any other value as it is.
func (k *Knob) JSON(v any) any {
	if _, ok := v.(time.Duration); ok {
		return k.Format(v)
	}
	return v
}

// Value is the knob's value in o.
func (k *Knob) Value(o *Options) any { return k.field.get(o) }

// Set stores v, which Check accepted, in o.
func (k *Knob) Set(o *Options, v any) { k.field.set(o, v) }

// FlagValue binds the knob's field in o as a command-line flag value
// (pflag.Value, and flag.Value).
func (k *Knob) FlagValue(o *Options) *KnobFlag { return &KnobFlag{knob: k, opts: o} }

// KnobFlag is a knob bound to an Options value as a flag.
type KnobFlag struct {
	knob *Knob
	opts *Options
}

func (f *KnobFlag) String() string { return f.knob.Format(f.knob.Value(f.opts)) }

// Set parses and stores a flag's text.
func (f *KnobFlag) Set(text string) error {
	v, err := f.knob.Parse(text)
	if err != nil {
		return err
	}
	f.knob.Set(f.opts, v)
	return nil
}

// Type is the value's type name for help texts.
func (f *KnobFlag) Type() string { return f.knob.Type() }

// IsBoolFlag lets a bool knob be given as a bare --flag.
func (f *KnobFlag) IsBoolFlag() bool { return f.knob.Type() == "bool" }

// Settings are knob values by knob name: the knobs that are set, each to
// a value its knob's Check accepts. A run configuration's knobs, a stored
// cell's server and the serve flags the runner passes are Settings.
type Settings map[string]any

// Options are the settings applied to zero Options.
func (s Settings) Options() Options {
	var o Options
	for _, k := range Knobs {
		if v, ok := s[k.Name]; ok {
			k.Set(&o, v)
		}
	}
	return o
}

// Setting is one knob that is set, with its value as text.
type Setting struct {
	Knob  *Knob
	Value any
	Text  string
}

// List is the settings in table order.
func (s Settings) List() []Setting {
	var out []Setting
	for _, k := range Knobs {
		if v, ok := s[k.Name]; ok {
			out = append(out, Setting{Knob: k, Value: v, Text: k.Format(v)})
		}
	}
	return out
}

// Flags are the `sockbench serve` flags that apply the settings.
func (s Settings) Flags() []string {
	var flags []string
	for _, kv := range s.List() {
		flags = append(flags, "--"+kv.Knob.Flag()+"="+kv.Text)
	}
	return flags
}

// With returns s with every setting of o added, o's taking precedence.
func (s Settings) With(o Settings) Settings {
	out := Settings{}
	for _, m := range []Settings{s, o} {
		for name, v := range m {
			out[name] = v
		}
	}
	return out
}

// MarshalJSON writes the settings as an object, each value as its knob's
// JSON says.
func (s Settings) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(s))
	for name, v := range s {
		if k, ok := LookupKnob(name); ok {
			v = k.JSON(v)
		}
		out[name] = v
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads settings as MarshalJSON wrote them, checking each
// against its knob: a stored file is data, not trusted.
func (s *Settings) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := Settings{}
	for name, msg := range raw {
		k, ok := LookupKnob(name)
		if !ok {
			return fmt.Errorf("unknown knob %q (knobs: %s)", name, strings.Join(KnobNames(), ", "))
		}
		var v any
		switch k.Default.(type) {
		case int:
			var n int
			if err := json.Unmarshal(msg, &n); err != nil {
				return fmt.Errorf("knob %s: %w", name, err)
			}
			v = n
		case bool:
			var b bool
			if err := json.Unmarshal(msg, &b); err != nil {
				return fmt.Errorf("knob %s: %w", name, err)
			}
			v = b
		case time.Duration:
			var text string
			if err := json.Unmarshal(msg, &text); err != nil {
				return fmt.Errorf("knob %s: %w", name, err)
			}
			d, err := k.Parse(text)
			if err != nil {
				return err
			}
			v = d
		default:
			var str string
			if err := json.Unmarshal(msg, &str); err != nil {
				return fmt.Errorf("knob %s: %w", name, err)
			}
			v = str
		}
		if err := k.Check(v); err != nil {
			return err
		}
		out[name] = v
	}
	*s = out
	return nil
}
