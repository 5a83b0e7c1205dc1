package config

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/verify"
)

const schemaPath = "../../configs/schema.json"

type schema = map[string]any

func loadSchema(t *testing.T) schema {
	t.Helper()
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	// JSON is YAML.
	return yamlAsJSON(t, data).(schema)
}

// deref follows a local "$ref" (a JSON pointer into the schema itself).
func deref(t *testing.T, root, s schema) schema {
	t.Helper()
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		var node any = root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := node.(schema)
			if !ok {
				t.Fatalf("$ref %s does not resolve", ref)
			}
			node = m[part]
		}
		if node == nil {
			t.Fatalf("$ref %s does not resolve", ref)
		}
		s = node.(schema)
	}
}

// TestSchemaMatchesTypes walks the Go configuration types and the JSON
// Schema side by side: every field has a property of the matching type,
// every property a field, and the enums are the values the code accepts.
func TestSchemaMatchesTypes(t *testing.T) {
	root := loadSchema(t)
	c := schemaChecker{t: t, root: root}
	c.object(reflect.TypeFor[Config](), root, "")
	defs := root["$defs"].(schema)
	enum := func(path []string, want []string) {
		s := deref(t, root, defs)
		for _, p := range path {
			s = deref(t, root, s[p].(schema))
		}
		var got []string
		for _, v := range s["enum"].([]any) {
			got = append(got, v.(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("schema enum %s: %v, code accepts %v", strings.Join(path, "."), got, want)
		}
	}
	enum([]string{"load", "properties", "mode"}, strs(loadgen.Modes))
	enum([]string{"load", "properties", "pacer"}, strs(loadgen.Pacers))
	enum([]string{"verify", "properties", "skip", "items"}, verify.Cases())
}

func strs[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

type schemaChecker struct {
	t    *testing.T
	root schema
}

func (c schemaChecker) object(typ reflect.Type, s schema, path string) {
	s = deref(c.t, c.root, s)
	if s["type"] != "object" || s["additionalProperties"] != false {
		c.t.Errorf("schema %s: want a closed object (type object, additionalProperties false) for %v", path, typ)
	}
	props, _ := s["properties"].(schema)
	want := fieldNames(typ)
	if got := slices.Sorted(maps(props)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		c.t.Errorf("schema %s properties %v, Go type %v has %v", path, got, typ, want)
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		if p, ok := props[yamlName(f)].(schema); ok {
			c.value(f.Type, p, join(path, yamlName(f)))
		}
	}
}

func maps(m schema) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// value checks that schema s describes values of Go type typ.
func (c schemaChecker) value(typ reflect.Type, s schema, path string) {
	s = deref(c.t, c.root, s)
	want := ""
	switch typ {
	case durationType, knobDurationType:
		if def := c.root["$defs"].(schema)["duration"].(schema); s["pattern"] != def["pattern"] {
			c.t.Errorf("schema %s: a duration is #/$defs/duration", path)
		}
		return
	case percentType:
		if def := c.root["$defs"].(schema)["percent"].(schema); s["oneOf"] == nil || !reflect.DeepEqual(s["oneOf"], def["oneOf"]) {
			c.t.Errorf("schema %s: a percentage is #/$defs/percent", path)
		}
		return
	case settingsType:
		c.knobs(s, path)
		return
	case cpuListType:
		if !reflect.DeepEqual(s["type"], []any{"string", "integer"}) {
			c.t.Errorf("schema %s: a CPU list is a string or an integer, got %v", path, s["type"])
		}
		return
	case reflect.TypeFor[Repetitions]():
		alts, _ := s["oneOf"].([]any)
		if len(alts) != 2 || alts[0].(schema)["type"] != "integer" {
			c.t.Errorf("schema %s: repetitions are a number or an object", path)
			return
		}
		c.object(typ, alts[1].(schema), path)
		return
	case reflect.TypeFor[ServerEntry]():
		alts := s["oneOf"].([]any)
		if len(alts) != 2 || alts[0].(schema)["type"] != "string" {
			c.t.Errorf("schema %s: a server is a name or an object", path)
			return
		}
		c.object(typ, alts[1].(schema), path)
		return
	case reflect.TypeFor[Matrix]():
		c.params(s, path, func(p param, ps schema) {
			if ps["type"] != "array" {
				c.t.Errorf("schema %s.%s: an axis is a list", path, p.name)
				return
			}
			c.value(p.typ, ps["items"].(schema), path+"."+p.name+"[]")
		}, nil)
		return
	case reflect.TypeFor[Assignment]():
		c.params(s, path, func(p param, ps schema) { c.value(p.typ, ps, path+"."+p.name) }, []string{ServerAxis})
		return
	}
	switch typ.Kind() {
	case reflect.Pointer:
		c.value(typ.Elem(), s, path)
		return
	case reflect.Struct:
		c.object(typ, s, path)
		return
	case reflect.Slice:
		want = "array"
		if items, ok := s["items"].(schema); ok {
			c.value(typ.Elem(), items, path+"[]")
		} else {
			c.t.Errorf("schema %s: an array without items", path)
		}
	case reflect.Map:
		want = "object"
		if ap, ok := s["additionalProperties"].(schema); !ok || ap["type"] != "string" {
			c.t.Errorf("schema %s: a map of strings has additionalProperties of type string", path)
		}
	case reflect.String:
		want = "string"
	case reflect.Bool:
		want = "boolean"
	case reflect.Int, reflect.Int64:
		want = "integer"
	case reflect.Float64:
		want = "number"
	}
	if s["type"] != want {
		c.t.Errorf("schema %s: type %v, Go type %v wants %q", path, s["type"], typ, want)
	}
}

// knobs holds the knobs section to the servers' knob table: one property
// per knob with its help, type, default and rules, nothing else.
func (c schemaChecker) knobs(s schema, path string) {
	props := schema{}
	for _, k := range servers.Knobs {
		p := schema{"description": k.Describe(), "default": k.JSON(k.Default)}
		switch k.Type() {
		case "int":
			p["type"], p["minimum"] = "integer", k.Min
		case "bool":
			p["type"] = "boolean"
		case "duration":
			p["$ref"] = "#/$defs/duration"
		default:
			p["type"], p["enum"] = "string", k.Choices
		}
		props[k.Name] = p
	}
	want := schema{"description": s["description"], "type": "object", "additionalProperties": false, "properties": props}
	// Through JSON, so numbers and lists compare as the file's do.
	var wantJSON any
	data, _ := json.Marshal(want)
	json.Unmarshal(data, &wantJSON)
	gotData, _ := json.Marshal(s)
	var got any
	json.Unmarshal(gotData, &got)
	if !reflect.DeepEqual(got, wantJSON) {
		pretty, _ := json.MarshalIndent(want, "    ", "  ")
		c.t.Errorf("schema %s does not match the knob table (servers.Knobs); it should read:\n    %s", path, pretty)
	}
}

// params checks an object whose properties are the parameters (and extra
// names), each checked by each.
func (c schemaChecker) params(s schema, path string, each func(param, schema), extra []string) {
	props, _ := s["properties"].(schema)
	want := append(slices.Clone(extra), paramNames()...)
	if got := slices.Sorted(maps(props)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		c.t.Errorf("schema %s properties %v, want %v", path, got, want)
	}
	if s["additionalProperties"] != false {
		c.t.Errorf("schema %s: additionalProperties must be false", path)
	}
	for _, p := range params {
		if ps, ok := props[p.name].(schema); ok {
			each(p, deref(c.t, c.root, ps))
		}
	}
}

// validate is a small JSON Schema validator for the keywords schema.json
// uses, so the test can hold configurations to the schema an editor sees.
func validate(root, s schema, v any, path string) []string {
	if _, ok := s["$ref"]; ok {
		var t testing.T
		s2 := deref(&t, root, s)
		if t.Failed() {
			return []string{path + ": bad $ref"}
		}
		s = s2
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	if alts, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, a := range alts {
			if len(validate(root, a.(schema), v, path)) == 0 {
				n++
			}
		}
		if n != 1 {
			bad("matches %d of the oneOf alternatives", n)
		}
		return errs
	}
	if typ, ok := s["type"]; ok && !typeMatches(typ, v) {
		bad("%v is not of type %v", v, typ)
		return errs
	}
	if e, ok := s["enum"].([]any); ok && !slices.Contains(e, v) {
		bad("%v is not one of %v", v, e)
	}
	if c, ok := s["const"]; ok && c != v {
		bad("%v is not %v", v, c)
	}
	if p, ok := s["pattern"].(string); ok {
		if str, ok := v.(string); ok && !regexp.MustCompile(p).MatchString(str) {
			bad("%q does not match %s", str, p)
		}
	}
	if m, ok := s["minimum"].(float64); ok {
		if f, ok := v.(float64); ok && f < m {
			bad("%v is below %v", f, m)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(schema)
		for _, r := range anyStrings(s["required"]) {
			if _, ok := x[r]; !ok {
				bad("%s is required", r)
			}
		}
		for k, val := range x {
			if ps, ok := props[k].(schema); ok {
				errs = append(errs, validate(root, ps, val, path+"."+k)...)
			} else if ap, ok := s["additionalProperties"].(schema); ok {
				errs = append(errs, validate(root, ap, val, path+"."+k)...)
			} else if s["additionalProperties"] == false {
				bad("%s is not allowed", k)
			}
		}
	case []any:
		if items, ok := s["items"].(schema); ok {
			for i, e := range x {
				errs = append(errs, validate(root, items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, x.(string))
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func typeMatches(typ, v any) bool {
	if ts, ok := typ.([]any); ok {
		return slices.ContainsFunc(ts, func(t any) bool { return typeMatches(t, v) })
	}
	got := jsonType(v)
	return typ == got || typ == "number" && got == "integer"
}

// jsonType names the JSON Schema type of a decoded JSON value.
func jsonType(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	}
	return "null"
}

// yamlAsJSON reads YAML into the values JSON decoding gives, as an editor
// checking the schema sees them.
func yamlAsJSON(t *testing.T, data []byte) any {
	t.Helper()
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(j, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestShippedConfigs: every configuration in configs/ and configs/forum/
// (the thread's experiments, issue #13) satisfies the schema
// and loads; quick.yaml measures every built-in server, keep-alive and
// close. A configuration the loader refuses is refused by the schema too.
func TestShippedConfigs(t *testing.T) {
	root := loadSchema(t)
	files, _ := filepath.Glob("../../configs/*.yaml")
	forum, _ := filepath.Glob("../../configs/forum/[0-9][0-9]-*.yaml")
	files = append(files, forum...)
	if len(files) == 0 {
		t.Fatal("no configurations in configs/")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if errs := validate(root, root, yamlAsJSON(t, data), "$"); len(errs) > 0 {
			t.Errorf("%s against the schema:\n%s", f, strings.Join(errs, "\n"))
		}
		if _, err := LoadFile(f); err != nil {
			t.Errorf("%v", err)
		}
	}
	quick, err := LoadFile("../../configs/quick.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var models []string
	for _, m := range servers.Models() {
		models = append(models, m.Name)
	}
	seen := map[string]map[string]bool{}
	for _, c := range quick.Cells {
		if seen[c.Server.Model] == nil {
			seen[c.Server.Model] = map[string]bool{}
		}
		seen[c.Server.Model][c.Axes["keep_alive"]] = true
	}
	for _, m := range models {
		if !seen[m]["true"] || !seen[m]["false"] {
			t.Errorf("quick.yaml does not measure %s with keep-alive and with close", m)
		}
	}
	bad := yamlAsJSON(t, []byte(base+"  conections: [1]\nrepetiton: 2\n"))
	if errs := validate(root, root, bad, "$"); len(errs) != 2 {
		t.Errorf("the schema finds %d problems in a configuration with two unknown keys: %v", len(errs), errs)
	}
}
