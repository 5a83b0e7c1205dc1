package config

import (
	"reflect"
	"strings"

	"github.com/sockbench/sockbench/servers"
)

// Options are the knobs as the servers package takes them, for checking a
// built-in server's knobs with the registry's own rules.
func (k Knobs) Options() servers.Options {
	o := servers.Options{NoDelay: k.NoDelay}
	setInt := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	setInt(&o.Backlog, k.Backlog)
	setInt(&o.Listeners, k.Listeners)
	setInt(&o.Loops, k.Loops)
	setInt(&o.GOMAXPROCS, k.GOMAXPROCS)
	setInt(&o.AcceptBatch, k.AcceptBatch)
	setInt(&o.Workers, k.Workers)
	if k.ReusePort != nil {
		o.ReusePort = *k.ReusePort
	}
	if k.Rearm != nil {
		o.Rearm = servers.Rearm(*k.Rearm)
	}
	if k.Handler != nil {
		o.Handler = servers.Handler(*k.Handler)
	}
	if k.Body != nil {
		o.Body = servers.Body(*k.Body)
	}
	return o
}

// Values lists the knobs that are set, YAML key → value as text, in
// declaration order: the serve flags of a built-in server and the
// placeholders of an external one.
func (k Knobs) Values() []KnobValue {
	var out []KnobValue
	v := reflect.ValueOf(k)
	for i := range v.NumField() {
		if f := v.Field(i); !f.IsNil() {
			out = append(out, KnobValue{Name: yamlName(v.Type().Field(i)), Text: formatValue(f.Elem())})
		}
	}
	return out
}

// KnobValue is one knob that is set.
type KnobValue struct {
	Name, Text string
}

// Flags are the `sockbench serve` flags that set the knobs: the YAML key
// with dashes (accept_batch is --accept-batch).
func (k Knobs) Flags() []string {
	var flags []string
	for _, kv := range k.Values() {
		flags = append(flags, "--"+strings.ReplaceAll(kv.Name, "_", "-")+"="+kv.Text)
	}
	return flags
}

// merge returns k with every knob that o sets taken from o.
func (k Knobs) merge(o Knobs) Knobs {
	kv, ov := reflect.ValueOf(&k).Elem(), reflect.ValueOf(o)
	for i := range ov.NumField() {
		if !ov.Field(i).IsNil() {
			kv.Field(i).Set(ov.Field(i))
		}
	}
	return k
}
