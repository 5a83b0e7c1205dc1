package config

import (
	"reflect"
	"slices"
	"strconv"
	"time"
)

// ServerAxis is the name of the axis made of the servers list.
const ServerAxis = "server"

// A param is a setting a matrix axis can vary: a field of Load or of
// Knobs, known by its YAML key.
type param struct {
	name string
	knob bool // a field of Knobs, else of Load
	// field indexes the field in its struct; typ is the type of one value
	// (the element type of a Knobs pointer).
	field int
	typ   reflect.Type
}

var params = func() []param {
	var ps []param
	for _, s := range []struct {
		t    reflect.Type
		knob bool
	}{{reflect.TypeFor[Load](), false}, {reflect.TypeFor[Knobs](), true}} {
		for i := range s.t.NumField() {
			f := s.t.Field(i)
			typ := f.Type
			if typ.Kind() == reflect.Pointer {
				typ = typ.Elem()
			}
			ps = append(ps, param{name: yamlName(f), knob: s.knob, field: i, typ: typ})
		}
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

// set stores value v in the field p names, in load or knobs.
func (p param) set(load *Load, knobs *Knobs, v any) {
	var f reflect.Value
	if p.knob {
		f = reflect.ValueOf(knobs).Elem().Field(p.field)
	} else {
		f = reflect.ValueOf(load).Elem().Field(p.field)
	}
	x := reflect.ValueOf(v)
	if f.Kind() == reflect.Pointer {
		ptr := reflect.New(p.typ)
		ptr.Elem().Set(x)
		x = ptr
	}
	f.Set(x)
}

// get returns the field's value, nil for a knob that is not set.
func (p param) get(load *Load, knobs *Knobs) any {
	var f reflect.Value
	if p.knob {
		f = reflect.ValueOf(knobs).Elem().Field(p.field)
	} else {
		f = reflect.ValueOf(load).Elem().Field(p.field)
	}
	if f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return nil
		}
		f = f.Elem()
	}
	return f.Interface()
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
