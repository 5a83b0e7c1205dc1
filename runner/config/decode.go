package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/servers"
)

// decoder fills Go values from a YAML syntax tree, walking it itself rather
// than through a generic unmarshaller so that every complaint can name the
// line and the field path, and so that it knows which fields were given at
// all: in a configuration, an explicit zero is not the same as no value.
type decoder struct {
	*problems
	// lines maps the path of every value given ("load.connections",
	// "servers[1].command[0]") to its line.
	lines   map[string]int
	anchors map[string]ast.Node
}

// nodeDecoder is implemented by the types whose YAML form is not a plain
// mapping, list or scalar.
type nodeDecoder interface {
	decodeNode(d *decoder, n ast.Node, path string)
}

var nodeDecoderType = reflect.TypeFor[nodeDecoder]()

func lineOf(n ast.Node) int {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// resolve looks through tags, anchors and aliases to the node that holds
// the value; nil for an alias to an unknown anchor (already reported).
func (d *decoder) resolve(n ast.Node) ast.Node {
	for {
		switch t := n.(type) {
		case *ast.TagNode:
			n = t.Value
		case *ast.AnchorNode:
			if name, ok := t.Name.(ast.ScalarNode); ok {
				d.anchors[fmt.Sprint(name.GetValue())] = t.Value
			}
			n = t.Value
		case *ast.AliasNode:
			name := fmt.Sprint(t.Value.(ast.ScalarNode).GetValue())
			target, ok := d.anchors[name]
			if !ok {
				d.add(lineOf(t), "", "alias *%s refers to no anchor &%s above it", name, name)
				return nil
			}
			n = target
		default:
			return n
		}
	}
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// decode stores node n into v, which must be settable. A null node leaves
// v as it is: an empty section is the same as none.
func (d *decoder) decode(n ast.Node, v reflect.Value, path string) {
	if n = d.resolve(n); n == nil || n.Type() == ast.NullType {
		return
	}
	d.lines[path] = lineOf(n)
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n, path)
		return
	}
	if f, ok := foreignDecoders[v.Type()]; ok {
		f(d, n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.decode(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.wrongType(n, path, v.Type())
			return
		}
		s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			d.decode(e, s.Index(i), index(path, i))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		d.eachKey(n, path, v.Type(), func(key string, value ast.Node, keyPath string) {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(value, e, keyPath)
			m.SetMapIndex(reflect.ValueOf(key), e)
		})
		v.Set(m)
	default:
		x, ok := d.scalar(n, path, v.Type())
		if ok {
			v.Set(reflect.ValueOf(x).Convert(v.Type()))
		}
	}
}

// eachKey calls f for every entry of a mapping with text keys (the
// parser has refused repeated keys already).
func (d *decoder) eachKey(n ast.Node, path string, t reflect.Type, f func(key string, value ast.Node, keyPath string)) {
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	default:
		d.wrongType(n, path, t)
		return
	}
	for _, mv := range values {
		key, ok := d.resolve(mv.Key).(ast.ScalarNode)
		line := lineOf(mv.Key)
		if !ok || key.GetValue() == nil {
			d.add(line, path, "a key must be a plain name")
			continue
		}
		name := fmt.Sprint(key.GetValue())
		d.lines[join(path, name)] = line
		f(name, mv.Value, join(path, name))
	}
}

// decodeStruct fills a struct from a mapping, by yaml tag; unknown keys
// are problems that list the known ones.
func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, path string) {
	t := v.Type()
	d.eachKey(n, path, t, func(key string, value ast.Node, keyPath string) {
		i, ok := fieldIndex(t, key)
		if !ok {
			d.add(d.lines[keyPath], keyPath, "unknown field; %s takes %s", describeSection(path), strings.Join(fieldNames(t), ", "))
			delete(d.lines, keyPath)
			return
		}
		d.decode(value, v.Field(i), keyPath)
	})
}

func describeSection(path string) string {
	if path == "" {
		return "the configuration"
	}
	return path
}

// yamlName is a field's YAML key: its yaml tag, or for the stored types
// of package results that a configuration section shares, its JSON name.
func yamlName(f reflect.StructField) string {
	tag, ok := f.Tag.Lookup("yaml")
	if !ok {
		tag = f.Tag.Get("json")
	}
	name, _, _ := strings.Cut(tag, ",")
	return name
}

// keyName is a load parameter's key: its JSON name in results.Load.
func keyName(f reflect.StructField) string { return yamlName(f) }

func fieldIndex(t reflect.Type, key string) (int, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && yamlName(f) == key {
			return i, true
		}
	}
	return 0, false
}

// fieldNames lists the YAML keys of a struct type, in declaration order.
func fieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && yamlName(f) != "" {
			names = append(names, yamlName(f))
		}
	}
	return names
}

var (
	durationType = reflect.TypeFor[results.Duration]()
	cpuListType  = reflect.TypeFor[results.CPUList]()
	settingsType = reflect.TypeFor[servers.Settings]()
	percentType  = reflect.TypeFor[results.Percent]()
	// knobDurationType is a duration knob's value (servers.Knob).
	knobDurationType = reflect.TypeFor[time.Duration]()
)

// foreignDecoders read the types of other packages whose YAML form is not
// a plain mapping, list or scalar.
var foreignDecoders map[reflect.Type]func(d *decoder, n ast.Node, v reflect.Value, path string)

func init() {
	foreignDecoders = map[reflect.Type]func(*decoder, ast.Node, reflect.Value, string){
		durationType:     decodeDuration,
		knobDurationType: decodeDuration,
		cpuListType:      decodeCPUList,
		settingsType:     decodeSettings,
		percentType:      decodePercent,
	}
}

// scalar converts a scalar node to a value of kind t.Kind() (before the
// caller's conversion to t), or reports why it cannot.
func (d *decoder) scalar(n ast.Node, path string, t reflect.Type) (any, bool) {
	switch t.Kind() {
	case reflect.String:
		switch s := n.(type) {
		case *ast.StringNode:
			return s.Value, true
		case *ast.LiteralNode:
			return s.Value.Value, true
		}
	case reflect.Bool:
		if b, ok := n.(*ast.BoolNode); ok {
			return b.Value, true
		}
	case reflect.Float64:
		switch x := n.(type) {
		case *ast.IntegerNode:
			return toFloat(x.Value), true
		case *ast.FloatNode:
			return x.Value, true
		}
	case reflect.Int, reflect.Int64:
		var f float64
		switch x := n.(type) {
		case *ast.IntegerNode:
			f = toFloat(x.Value)
		case *ast.FloatNode:
			f = x.Value
		default:
			d.wrongType(n, path, t)
			return nil, false
		}
		limit := float64(math.MaxInt64)
		if t.Kind() == reflect.Int {
			limit = float64(math.MaxInt)
		}
		if f != math.Trunc(f) || math.Abs(f) >= limit {
			d.add(lineOf(n), path, "want a whole number, got %s", describeNode(n))
			return nil, false
		}
		return int64(f), true
	}
	d.wrongType(n, path, t)
	return nil, false
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	}
	return math.NaN()
}

func (d *decoder) wrongType(n ast.Node, path string, t reflect.Type) {
	d.add(lineOf(n), path, "want %s, got %s", describeType(t), describeNode(n))
}

// describeType says what a value of type t is written as.
func describeType(t reflect.Type) string {
	switch t {
	case durationType, knobDurationType:
		return "a duration such as 10s or 500ms"
	case cpuListType:
		return "a CPU list such as 0, 1-3 or 0,2"
	case percentType:
		return "a percentage such as 5%"
	case reflect.TypeFor[ServerEntry]():
		return "a server name or a mapping"
	case reflect.TypeFor[Assignment]():
		return "a mapping of axis names to values"
	}
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return "a mapping"
}

// describeNode says what was written instead.
func describeNode(n ast.Node) string {
	switch x := n.(type) {
	case *ast.StringNode:
		return strconv.Quote(x.Value)
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + n.String()
	case *ast.BoolNode:
		return strconv.FormatBool(x.Value)
	case *ast.SequenceNode:
		return "a list"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	}
	return n.Type().String()
}

func decodeDuration(d *decoder, n ast.Node, v reflect.Value, path string) {
	s, ok := n.(*ast.StringNode)
	if !ok {
		if _, num := n.(*ast.IntegerNode); num {
			d.add(lineOf(n), path, "want a duration such as 10s or 500ms, got %s (a number needs a unit)", describeNode(n))
			return
		}
		d.wrongType(n, path, durationType)
		return
	}
	dur, err := time.ParseDuration(s.Value)
	if err != nil {
		d.add(lineOf(n), path, "want a duration such as 10s or 500ms, got %s", describeNode(n))
		return
	}
	v.Set(reflect.ValueOf(dur).Convert(v.Type()))
}

func decodeCPUList(d *decoder, n ast.Node, v reflect.Value, path string) {
	var text string
	switch x := n.(type) {
	case *ast.StringNode:
		text = x.Value
	case *ast.IntegerNode:
		text = n.String()
	default:
		d.wrongType(n, path, cpuListType)
		return
	}
	cpus, err := parseCPUs(text)
	if err != nil {
		d.add(lineOf(n), path, "%v", err)
		return
	}
	v.Set(reflect.ValueOf(results.CPUList{Text: text, CPUs: cpus}))
}

// decodePercent reads "5%", or a bare number of percent.
func decodePercent(d *decoder, n ast.Node, v reflect.Value, path string) {
	var pct float64
	switch x := n.(type) {
	case *ast.StringNode:
		num, ok := strings.CutSuffix(strings.TrimSpace(x.Value), "%")
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if !ok || err != nil {
			d.add(lineOf(n), path, "want a percentage such as 5%%, got %s", describeNode(n))
			return
		}
		pct = f
	case *ast.IntegerNode:
		pct = toFloat(x.Value)
	case *ast.FloatNode:
		pct = x.Value
	default:
		d.add(lineOf(n), path, "want a percentage such as 5%%, got %s", describeNode(n))
		return
	}
	v.Set(reflect.ValueOf(results.Percent(pct / 100)))
}

// decodeSettings reads a knobs section: every key a knob of the servers'
// table, every value of the knob's type (its rules are checked with the
// other values, by checkParam).
func decodeSettings(d *decoder, n ast.Node, v reflect.Value, path string) {
	s := servers.Settings{}
	d.eachKey(n, path, settingsType, func(key string, value ast.Node, keyPath string) {
		p, ok := lookupParam(key)
		if !ok || p.knob == nil {
			d.add(d.lines[keyPath], keyPath, "unknown knob; the knobs are %s", strings.Join(servers.KnobNames(), ", "))
			delete(d.lines, keyPath)
			return
		}
		if x, ok := d.paramValue(p, value, keyPath); ok {
			s[key] = x.v
		}
	})
	v.Set(reflect.ValueOf(s))
}

// decodeNode reads a bare number as that many repetitions, or a mapping.
func (r *Repetitions) decodeNode(d *decoder, n ast.Node, path string) {
	if _, ok := n.(*ast.IntegerNode); ok {
		var count int
		d.decode(n, reflect.ValueOf(&count).Elem(), path)
		*r = Repetitions{Min: count}
		return
	}
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		d.decodeStruct(n, reflect.ValueOf(r).Elem(), path)
	default:
		d.add(lineOf(n), path, "want a number of repetitions, or {min, max, ci}, got %s", describeNode(n))
	}
}

// decodeNode reads a bare name as the built-in model of that name, or a
// mapping field by field.
func (e *ServerEntry) decodeNode(d *decoder, n ast.Node, path string) {
	if s, ok := n.(*ast.StringNode); ok {
		*e = ServerEntry{Name: s.Value, Model: s.Value}
		d.lines[join(path, "name")] = lineOf(n)
		return
	}
	d.decodeStruct(n, reflect.ValueOf(e).Elem(), path)
}

// decodeNode reads the axes in the order written; each value is decoded
// as the parameter's own type, so a matrix value is checked exactly like
// the same value under load or knobs.
func (m *Matrix) decodeNode(d *decoder, n ast.Node, path string) {
	d.eachKey(n, path, reflect.TypeFor[Matrix](), func(key string, value ast.Node, keyPath string) {
		p, ok := lookupParam(key)
		if !ok {
			d.add(d.lines[keyPath], keyPath, "unknown axis; an axis is a load parameter or a server knob: %s (the server axis is the servers list)", strings.Join(paramNames(), ", "))
			return
		}
		seq, ok := d.resolve(value).(*ast.SequenceNode)
		if !ok {
			d.add(d.lines[keyPath], keyPath, "want a list of values, got %s", describeNode(value))
			return
		}
		if len(seq.Values) == 0 {
			d.add(d.lines[keyPath], keyPath, "an axis needs at least one value")
			return
		}
		ax := Axis{Name: key}
		for i, vn := range seq.Values {
			if v, ok := d.paramValue(p, vn, index(keyPath, i)); ok {
				ax.Values = append(ax.Values, v)
			}
		}
		*m = append(*m, ax)
	})
}

// paramValue decodes one value of parameter p.
func (d *decoder) paramValue(p param, n ast.Node, path string) (Value, bool) {
	before := len(d.list)
	v := reflect.New(p.typ).Elem()
	d.decode(n, v, path)
	if len(d.list) > before {
		return Value{}, false
	}
	if _, given := d.lines[path]; !given {
		d.add(lineOf(n), path, "want %s, got nothing", describeType(p.typ))
		return Value{}, false
	}
	text := formatValue(v)
	if p.knob != nil {
		// A knob's value reads as its flag takes it ("60s", not "1m0s").
		text = p.knob.Format(v.Interface())
	}
	return Value{Text: text, v: v.Interface(), path: path}, true
}

// decodeNode keeps the entry's values undecoded in text form; they are
// checked against the axes once the whole file has been read, because
// include and exclude may come before the matrix.
func (a *Assignment) decodeNode(d *decoder, n ast.Node, path string) {
	d.eachKey(n, path, reflect.TypeFor[Assignment](), func(key string, value ast.Node, keyPath string) {
		value = d.resolve(value)
		if value == nil {
			return
		}
		av := AssignedValue{Axis: key, Value: Value{path: keyPath, v: value}}
		if s, ok := value.(ast.ScalarNode); ok && value.Type() != ast.NullType {
			av.Value.Text = fmt.Sprint(s.GetValue())
		}
		*a = append(*a, av)
	})
}
