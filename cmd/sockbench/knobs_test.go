package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sockbench/sockbench/runner/config"
	"github.com/sockbench/sockbench/servers"
)

// TestKnobTableIsEverywhere walks the knob table (servers.Knobs) and finds
// each knob, with the same default, as a `sockbench serve` flag, as a key
// of a run configuration's knobs and matrix, in configs/schema.json and in
// the README's knob table — and finds nothing in those places the table
// lacks. Nothing here lists a knob by hand.
func TestKnobTableIsEverywhere(t *testing.T) {
	serve := newServeCmd()
	schemaKnobs := readSchemaKnobs(t)
	readmeRows := readReadmeKnobRows(t)
	for _, k := range servers.Knobs {
		def := k.Format(k.Default)
		t.Run(k.Name, func(t *testing.T) {
			f := serve.Flags().Lookup(k.Flag())
			switch {
			case f == nil:
				t.Errorf("serve has no --%s flag", k.Flag())
			case f.DefValue != def || f.Usage != k.Describe():
				t.Errorf("serve --%s: default %q, help %q; the table says %q, %q", k.Flag(), f.DefValue, f.Usage, def, k.Describe())
			}

			model := "epoll"
			if k.Models != nil {
				model = k.Models[0]
			}
			yaml := fmt.Sprintf("version: 1\nservers: [%s]\nknobs: {%s: %s}\n", model, k.Name, def)
			plan, err := config.Parse("knob.yaml", []byte(yaml))
			if err != nil {
				t.Errorf("knobs: {%s: %s}: %v", k.Name, def, err)
			} else if got := plan.Cells[0].Server.Knobs[k.Name]; got != k.Default {
				t.Errorf("knobs: {%s: %s} gave %v (%T)", k.Name, def, got, got)
			}
			axis := fmt.Sprintf("version: 1\nservers: [%s]\nmatrix: {%s: [%s]}\n", model, k.Name, def)
			if plan, err := config.Parse("axis.yaml", []byte(axis)); err != nil {
				t.Errorf("matrix axis %s: %v", k.Name, err)
			} else if got := plan.Cells[0].Axes[k.Name]; got != def {
				t.Errorf("matrix axis %s: cell value %q, want %q", k.Name, got, def)
			}

			if p, ok := schemaKnobs[k.Name]; !ok {
				t.Errorf("configs/schema.json has no knob %s", k.Name)
			} else if got, _ := json.Marshal(p["default"]); string(got) != jsonText(k.JSON(k.Default)) {
				t.Errorf("configs/schema.json: %s default %s, the table says %s", k.Name, got, jsonText(k.JSON(k.Default)))
			}

			models := "all"
			if k.Models != nil {
				models = strings.Join(k.Models, ", ")
			}
			post := k.Post
			if post == "" {
				post = "—"
			}
			want := []string{"`" + k.Name + "`", "`--" + k.Flag() + "`", "`" + def + "`", models, post, k.Help}
			if got, ok := readmeRows[k.Name]; !ok {
				t.Errorf("README.md's knob table has no row for %s; add:\n| %s |", k.Name, strings.Join(want, " | "))
			} else if !slices.Equal(got, want) {
				t.Errorf("README.md's row for %s is\n| %s |\nthe table says\n| %s |", k.Name, strings.Join(got, " | "), strings.Join(want, " | "))
			}
		})
	}
	names := servers.KnobNames()
	for name := range schemaKnobs {
		if !slices.Contains(names, name) {
			t.Errorf("configs/schema.json has a knob %s the table lacks", name)
		}
	}
	for name := range readmeRows {
		if !slices.Contains(names, name) {
			t.Errorf("README.md's knob table has a row %s the table lacks", name)
		}
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func readSchemaKnobs(t *testing.T) map[string]map[string]any {
	t.Helper()
	data, err := os.ReadFile("../../configs/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs struct {
			Knobs struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"knobs"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("configs/schema.json: %v", err)
	}
	return s.Defs.Knobs.Properties
}

// readReadmeKnobRows returns the cells of the README's knob table by the
// knob's name: the rows after the marker comment, up to the first line
// that is not a table row.
func readReadmeKnobRows(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "<!-- knob table:")
	if !ok {
		t.Fatal("README.md has no knob table marker (<!-- knob table: ... -->)")
	}
	rows := map[string][]string{}
	lines := strings.Split(table, "\n")[1:]
	for i, line := range lines {
		if !strings.HasPrefix(line, "|") {
			break
		}
		if i < 2 { // the header and its rule
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), " | ") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows[strings.Trim(cells[0], "`")] = cells
	}
	return rows
}
