package config

import (
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/servers"
)

// A param is a setting a matrix axis can vary: a field of the load
// parameters, known by its key, or a server knob of package servers' table.
type param struct {
	name string
	// knob is the server knob, nil for a load parameter.
	knob *servers.Knob
	// field indexes a load parameter's field in results.Load; typ is the
	// type of one value.
	field int
	typ   reflect.Type
}

var params = func() []param {
	var ps []param
	t := reflect.TypeFor[results.Load]()
	for i := range t.NumField() {
		f := t.Field(i)
		ps = append(ps, param{name: keyName(f), field: i, typ: f.Type})
	}
	for _, k := range servers.Knobs {
		ps = append(ps, param{name: k.Name, knob: k, typ: reflect.TypeOf(k.Default)})
	}
	return ps
}()

func lookupParam(name string) (param, bool) {
	i := slices.IndexFunc(params, func(p param) bool { return p.name == name })
	if i < 0 {
		return param{}, false
	}
	return params[i], true
}

func paramNames() []string {
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.name
	}
	return names
}

// set stores value v of p in load or knobs.
func (p param) set(load *results.Load, knobs servers.Settings, v any) {
	if p.knob != nil {
		knobs[p.name] = v
		return
	}
	reflect.ValueOf(load).Elem().Field(p.field).Set(reflect.ValueOf(v))
}

// get returns p's value, nil for a knob that is not set.
func (p param) get(load *results.Load, knobs servers.Settings) any {
	if p.knob != nil {
		return knobs[p.name]
	}
	return reflect.ValueOf(load).Elem().Field(p.field).Interface()
}

// formatValue writes a value the way axes show it in results and reports.
func formatValue(v reflect.Value) string {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		s := ""
		for i := range v.Len() {
			if i > 0 {
				s += "; "
			}
			s += formatValue(v.Index(i))
		}
		return s
	}
	return v.String()
}
