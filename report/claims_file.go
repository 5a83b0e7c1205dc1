package report

import (
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sockbench/sockbench/runner/config"
	"github.com/sockbench/sockbench/runner/results"
)

// The claims file (configs/forum/claims.yaml) says, claim by claim, what
// the forum thread found and which comparison of stored results tests it.
// It is read by the run configuration's decoder, so a mistake is refused
// as "file:line: field: what is wrong" before anything is evaluated.

// ClaimsVersion is the claims file format this package reads.
const ClaimsVersion = 1

type claimsFile struct {
	Version int         `yaml:"version"`
	Claims  []claimSpec `yaml:"claims"`
}

// claimSpec is one claim of the thread.
type claimSpec struct {
	ID string `yaml:"id"`
	// Post is the thread's post that makes the claim.
	Post int `yaml:"post"`
	// Thread is the claim in the thread's words, in short; Figure is the
	// number the thread gave.
	Thread string `yaml:"thread"`
	Figure string `yaml:"figure"`
	// Experiment is the name of the run configuration whose results test
	// it (configs/forum/NN-*.yaml's name).
	Experiment string `yaml:"experiment"`
	// Python and Go say how the claim is tested on each stack.
	Python stackSpec `yaml:"python"`
	Go     stackSpec `yaml:"go"`
}

// stackSpec is a claim's test on one stack: every check must hold, or the
// stack's reason why the claim does not apply to it.
type stackSpec struct {
	NotApplicable string      `yaml:"not_applicable"`
	Checks        []checkSpec `yaml:"checks"`
	// Explain lists what may account for a claim that does not hold;
	// each is said only when the run's data satisfy its condition.
	Explain []explainSpec `yaml:"explain"`
}

// checkSpec is one comparison: the metric of a cell, or its ratio to the
// metric of another cell (Over), against a bound.
type checkSpec struct {
	Metric string `yaml:"metric"`
	// Cell and Over select cells by their axes: "server=py-epoll,
	// backlog=1".
	Cell string `yaml:"cell"`
	Over string `yaml:"over"`
	// AtLeast and AtMost bound the figure (both: a range).
	AtLeast *float64 `yaml:"at_least"`
	AtMost  *float64 `yaml:"at_most"`
	// Tolerance widens the bound: at_least 2 with 10% holds from 1.8.
	Tolerance results.Percent `yaml:"tolerance"`
	// Statistic is what is compared: "median" (default) of the counted
	// repetitions, or "highest", the largest of them (a stall or a
	// timeout that shows in one repetition of several).
	Statistic string `yaml:"statistic"`
	// ErrorsExpected says why failed requests in the cells are what the
	// claim is about (listen(1)'s timeouts), so they flag nothing.
	ErrorsExpected string `yaml:"errors_expected"`
}

// explainSpec is one possible reason a claim does not hold, with the
// condition on the run's recorded facts that makes it one: a kernel
// setting, a machine fact, or a metric of a cell, below or above a value;
// or an interpreter's version newer than the thread's.
type explainSpec struct {
	Sysctl  string   `yaml:"sysctl"`
	Machine string   `yaml:"machine"`
	Metric  string   `yaml:"metric"`
	Cell    string   `yaml:"cell"`
	Below   *float64 `yaml:"below"`
	Above   *float64 `yaml:"above"`
	// Interpreter is a program the servers run ("/usr/bin/python3");
	// NewerThan the version it must be newer than ("3.7").
	Interpreter string `yaml:"interpreter"`
	NewerThan   string `yaml:"newer_than"`
	// Say is the sentence, with {value} replaced by the recorded value.
	Say string `yaml:"say"`
}

const (
	statisticMedian  = "median"
	statisticHighest = "highest"
)

// machineFacts the explanations may test, by name: the keys of the
// run's machine facts they read.
var explainMachine = map[string]string{"cpus": "CPUs"}

var claimID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// selector is a parsed cell selector: axis → value.
type selector []keyValue

func (s selector) String() string {
	parts := make([]string, len(s))
	for i, kv := range s {
		parts[i] = kv.Key + "=" + kv.Value
	}
	return strings.Join(parts, ", ")
}

// matches reports whether the cell has every axis value of the selector.
func (s selector) matches(c *cell) bool {
	for _, kv := range s {
		if c.Axes[kv.Key] != kv.Value {
			return false
		}
	}
	return true
}

// parseSelector reads "server=py-epoll, backlog=1".
func parseSelector(text string) (selector, error) {
	var s selector
	for _, part := range strings.Split(text, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q is not axis=value (write cells as \"server=py-epoll, backlog=1\")", strings.TrimSpace(part))
		}
		if slices.ContainsFunc(s, func(kv keyValue) bool { return kv.Key == k }) {
			return nil, fmt.Errorf("axis %s is given twice", k)
		}
		s = append(s, keyValue{k, v})
	}
	return s, nil
}

// claims is a checked claims file, ready to evaluate.
type claims struct {
	File string
	List []claim
	doc  *config.Document
}

type claim struct {
	claimSpec
	Path   string
	Stacks [2]stack // Python, Go
}

type stack struct {
	Name          string
	NotApplicable string
	Checks        []check
	Explain       []explanation
}

type check struct {
	checkSpec
	Path       string
	metric     claimMetric
	cell, over selector
}

// cellRef is a cell selector with the path of the field it was given in.
type cellRef struct {
	Selector selector
	Path     string
}

// cellRefs are the cells a check compares: its cell, and the one a ratio
// is over.
func (c check) cellRefs() []cellRef {
	refs := []cellRef{{c.cell, c.Path + ".cell"}}
	if c.over != nil {
		refs = append(refs, cellRef{c.over, c.Path + ".over"})
	}
	return refs
}

type explanation struct {
	explainSpec
	Path   string
	metric claimMetric
	cell   selector
}

var stackNames = [2]string{"Python", "Go"}

// readClaims reads and checks a claims file.
func readClaims(path string) (*claims, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	return parseClaims(path, data)
}

// parseClaims checks a claims file; file names it in problems.
func parseClaims(file string, data []byte) (*claims, error) {
	var f claimsFile
	doc, err := config.Decode(file, "claims file", data, &f)
	if err != nil {
		return nil, err
	}
	cs := &claims{File: file, doc: doc}
	switch {
	case !doc.Given("version"):
		doc.Problem("version", "missing; this sockbench reads version %d (add \"version: %d\")", ClaimsVersion, ClaimsVersion)
	case f.Version != ClaimsVersion:
		doc.Problem("version", "version %d is not one this sockbench reads (it reads %d)", f.Version, ClaimsVersion)
	}
	if len(f.Claims) == 0 {
		doc.Problem("claims", "no claims: list at least one")
	}
	seen := map[string]string{}
	for i, spec := range f.Claims {
		path := fmt.Sprintf("claims[%d]", i)
		c := claim{claimSpec: spec, Path: path}
		for _, req := range []struct{ field, value string }{{"id", spec.ID}, {"thread", spec.Thread}, {"figure", spec.Figure}, {"experiment", spec.Experiment}} {
			if strings.TrimSpace(req.value) == "" {
				doc.Problem(path+"."+req.field, "missing; every claim has an id, a post, the thread's words, its figure and the experiment that tests it")
			}
		}
		if spec.ID != "" && !claimID.MatchString(spec.ID) {
			doc.Problem(path+".id", "%q: an id is lower-case letters, digits and '-' (it names the claim's plot)", spec.ID)
		}
		if first, dup := seen[spec.ID]; dup && spec.ID != "" {
			doc.Problem(path+".id", "%q is already the id of %s", spec.ID, first)
		}
		seen[spec.ID] = path
		if spec.Post < 1 {
			doc.Problem(path+".post", "want the number of the thread's post (1 to 20)")
		}
		for j, s := range []stackSpec{spec.Python, spec.Go} {
			c.Stacks[j] = checkStack(doc, path+"."+strings.ToLower(stackNames[j]), stackNames[j], s)
		}
		cs.List = append(cs.List, c)
	}
	if err := doc.Err(); err != nil {
		return nil, err
	}
	return cs, nil
}

func checkStack(doc *config.Document, path, name string, s stackSpec) stack {
	st := stack{Name: name, NotApplicable: strings.TrimSpace(s.NotApplicable)}
	switch {
	case !doc.Given(path):
		doc.Problem(path, "missing; say how the claim is tested on %s (checks), or why it does not apply (not_applicable)", name)
	case st.NotApplicable != "" && len(s.Checks) > 0:
		doc.Problem(path+".checks", "a stack the claim does not apply to has no checks")
	case st.NotApplicable == "" && len(s.Checks) == 0:
		doc.Problem(path, "no checks: give at least one, or not_applicable with the reason")
	}
	for i, cs := range s.Checks {
		cp := fmt.Sprintf("%s.checks[%d]", path, i)
		c := check{checkSpec: cs, Path: cp}
		c.metric, c.cell, c.over = metricAt(doc, cp+".metric", cs.Metric), selectorAt(doc, cp+".cell", cs.Cell, true), selectorAt(doc, cp+".over", cs.Over, false)
		switch {
		case cs.AtLeast == nil && cs.AtMost == nil:
			doc.Problem(cp, "no bound: give at_least, at_most or both")
		case cs.AtLeast != nil && cs.AtMost != nil && *cs.AtLeast > *cs.AtMost:
			doc.Problem(cp+".at_most", "%g is below at_least %g", *cs.AtMost, *cs.AtLeast)
		}
		if cs.Tolerance < 0 || cs.Tolerance >= 1 {
			doc.Problem(cp+".tolerance", "want a share from 0%% to below 100%%")
		}
		switch cs.Statistic {
		case "":
			c.Statistic = statisticMedian
		case statisticMedian, statisticHighest:
		default:
			doc.Problem(cp+".statistic", "%q: want median or highest", cs.Statistic)
		}
		if c.Statistic == statisticHighest && c.over != nil {
			doc.Problem(cp+".statistic", "highest compares one cell's largest repetition with a bound; a ratio is of medians")
		}
		st.Checks = append(st.Checks, c)
	}
	for i, es := range s.Explain {
		ep := fmt.Sprintf("%s.explain[%d]", path, i)
		e := explanation{explainSpec: es, Path: ep}
		kinds := 0
		for _, given := range []bool{es.Sysctl != "", es.Machine != "", es.Metric != "", es.Interpreter != ""} {
			if given {
				kinds++
			}
		}
		switch {
		case kinds != 1:
			doc.Problem(ep, "give one of sysctl, machine, metric (with cell) or interpreter: the recorded fact the reason rests on")
		case es.Machine != "":
			if _, ok := explainMachine[es.Machine]; !ok {
				doc.Problem(ep+".machine", "%q: the machine facts are %s", es.Machine, strings.Join(slices.Sorted(maps.Keys(explainMachine)), ", "))
			}
		case es.Metric != "":
			e.metric = metricAt(doc, ep+".metric", es.Metric)
			e.cell = selectorAt(doc, ep+".cell", es.Cell, true)
		}
		if es.Metric == "" && es.Cell != "" {
			doc.Problem(ep+".cell", "a cell goes with a metric")
		}
		switch {
		case es.Interpreter != "":
			if _, err := parseVersion(es.NewerThan); err != nil {
				doc.Problem(ep+".newer_than", "%v: give the version the interpreter is compared with (\"3.7\")", err)
			}
			if es.Below != nil || es.Above != nil {
				doc.Problem(ep, "an interpreter is compared by newer_than, not below or above")
			}
		case es.NewerThan != "":
			doc.Problem(ep+".newer_than", "newer_than goes with an interpreter")
		case (es.Below == nil) == (es.Above == nil):
			doc.Problem(ep, "give one of below or above: when the fact makes the reason true")
		}
		if strings.TrimSpace(es.Say) == "" {
			doc.Problem(ep+".say", "missing: the sentence the report gives")
		}
		st.Explain = append(st.Explain, e)
	}
	return st
}

// parseVersion reads the numbers of "3.13.5" or "CPython 3.13.5" (its last
// word).
func parseVersion(text string) ([]int, error) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return nil, fmt.Errorf("no version")
	}
	var v []int
	for _, part := range strings.Split(fields[len(fields)-1], ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a version such as 3.7", text)
		}
		v = append(v, n)
	}
	return v, nil
}

func metricAt(doc *config.Document, path, name string) claimMetric {
	if name == "" {
		doc.Problem(path, "missing; the metrics are %s", strings.Join(claimMetricNames(), ", "))
		return claimMetric{}
	}
	m, ok := lookupClaimMetric(name)
	if !ok {
		doc.Problem(path, "unknown metric %q; the metrics are %s", name, strings.Join(claimMetricNames(), ", "))
	}
	return m
}

func selectorAt(doc *config.Document, path, text string, required bool) selector {
	if text == "" {
		if required {
			doc.Problem(path, "missing: the cell, as its axes (\"server=py-epoll, backlog=1\")")
		}
		return nil
	}
	s, err := parseSelector(text)
	if err != nil {
		doc.Problem(path, "%v", err)
	}
	return s
}

// boundText writes a check's bound with its tolerance, "≥ 2 (1.8 with
// 10% tolerance)".
func (c check) boundText() string {
	// A ratio is a plain number; a figure of one cell is in its metric's
	// unit (µs of latency read as ms).
	text := fmt3
	if c.over == nil && c.metric.text != nil {
		text = c.metric.text
	}
	var parts []string
	lo, hi := c.bounds()
	if c.AtLeast != nil {
		parts = append(parts, "≥ "+text(*c.AtLeast))
	}
	if c.AtMost != nil {
		parts = append(parts, "≤ "+text(*c.AtMost))
	}
	s := strings.Join(parts, " and ")
	if c.Tolerance > 0 {
		var eff []string
		if !math.IsInf(lo, -1) {
			eff = append(eff, "≥ "+text(lo))
		}
		if !math.IsInf(hi, 1) {
			eff = append(eff, "≤ "+text(hi))
		}
		s += " (" + strings.Join(eff, " and ") + " with " + fmtShare(float64(c.Tolerance)) + " tolerance)"
	}
	return s
}

// bounds are the check's bounds widened by its tolerance; infinite where
// it has none.
func (c check) bounds() (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	t := float64(c.Tolerance)
	if c.AtLeast != nil {
		lo = *c.AtLeast * (1 - t)
	}
	if c.AtMost != nil {
		hi = *c.AtMost * (1 + t)
	}
	return lo, hi
}
