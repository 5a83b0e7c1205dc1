package report

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sockbench/sockbench/runner/results"
)

// The forum's verdicts (issue #13): every claim of a claims file judged
// from stored results alone, on the Python stacks and on Go's, with the
// same statistics as every other comparison of the report
// (significance.go): a median with its order-statistics interval, and a
// ratio of two cells with the interval that inverts the rank test.

// claimVerdict is what the data say about a claim on one stack.
type claimVerdict int

const (
	verdictReproduced claimVerdict = iota
	// verdictInconclusive: the interval holds the bound; more or longer
	// repetitions could tell.
	verdictInconclusive
	verdictNotReproduced
	// verdictFlagged: the cells' numbers were flagged (client saturated,
	// failed requests), so the figure is not the server's to judge.
	verdictFlagged
	verdictNoClaimData
	verdictNotApplicable
)

func (v claimVerdict) String() string {
	return [...]string{"reproduced", "inconclusive", "not reproduced", "flagged", "no data", "not applicable here"}[v]
}

// checkResult is one check evaluated.
type checkResult struct {
	Check check
	// Cells are the cell and, for a ratio, the cell it is over.
	Cells []*cell
	// Value is the figure, Lo and Hi its interval (NaN without one) at
	// Confidence; How says how the interval was made.
	Value, Lo, Hi, Confidence float64
	How                       string
	N                         []int
	Verdict                   claimVerdict
	Why                       string
	// OnOneCore says the saturated cells were judged on the figure their
	// server's CPU allows on one core (claimMetric.OnOneCore).
	OnOneCore bool
}

// judgedValues are a cell's values as the check was judged on them.
func (res checkResult) judgedValues(c *cell) cellValues {
	m := res.Check.metric
	cv := values(m, c, nil)
	if res.OnOneCore && cv.Saturated {
		cv = values(m, c, m.OnOneCore)
	}
	return cv
}

// stackResult is a claim on one stack.
type stackResult struct {
	Stack   stack
	Checks  []checkResult
	Verdict claimVerdict
	// Why says what decided a verdict other than reproduced; Reasons are
	// the claim's explanations whose conditions the data meet.
	Why     string
	Reasons []string
}

type claimResult struct {
	Claim  claim
	Run    *run
	Stacks [2]stackResult
}

// forum is the results a claims file is judged on: the runs of one
// `make forum`, by their configuration's name.
type forum struct {
	Dir  string
	Runs map[string]*run
	// Order lists the run names in folder order; Ignored the older runs
	// of a name measured twice.
	Order   []string
	Ignored []string
}

// loadForum reads RUN_DIR: one run folder, or a folder of them (what `make
// forum` writes, results/forum/<stamp>/), keyed by configuration name.
func loadForum(dir string) (*forum, error) {
	f := &forum{Dir: dir, Runs: map[string]*run{}}
	var dirs []string
	if _, err := os.Stat(filepath.Join(dir, results.ManifestName)); err == nil {
		dirs = []string{dir}
	} else {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read results: %w", err)
		}
		for _, e := range entries {
			// results' "latest" link names a run already listed.
			if e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
				if _, err := os.Stat(filepath.Join(dir, e.Name(), results.ManifestName)); err == nil {
					dirs = append(dirs, filepath.Join(dir, e.Name()))
				}
			}
		}
		if len(dirs) == 0 {
			return nil, fmt.Errorf("%s holds no run: neither a %s nor folders with one (sockbench run --out %s, or make forum)", dir, results.ManifestName, dir)
		}
	}
	for _, d := range dirs {
		m, err := results.ReadManifest(d)
		if err != nil {
			return nil, err
		}
		r, err := loadRun(d)
		if err != nil {
			return nil, err
		}
		name := m.Plan.Name
		if old, ok := f.Runs[name]; ok {
			// Folder names start with the run's time: the later one is
			// the newer measurement.
			f.Ignored = append(f.Ignored, old.ID)
		} else {
			f.Order = append(f.Order, name)
		}
		f.Runs[name] = r
	}
	return f, nil
}

// evaluate judges every claim on the forum's results.
func (cs *claims) evaluate(f *forum) ([]claimResult, error) {
	var out []claimResult
	for _, c := range cs.List {
		cr := claimResult{Claim: c, Run: f.Runs[c.Experiment]}
		for i, st := range c.Stacks {
			sr, err := cs.evaluateStack(st, cr.Run, c.Experiment)
			if err != nil {
				return nil, err
			}
			cr.Stacks[i] = sr
		}
		out = append(out, cr)
	}
	return out, nil
}

func (cs *claims) evaluateStack(st stack, r *run, experiment string) (stackResult, error) {
	sr := stackResult{Stack: st}
	switch {
	case st.NotApplicable != "":
		sr.Verdict, sr.Why = verdictNotApplicable, st.NotApplicable
		return sr, nil
	case r == nil:
		sr.Verdict, sr.Why = verdictNoClaimData, "the results hold no run of "+experiment
		return sr, nil
	}
	for _, c := range st.Checks {
		res, err := cs.evaluateCheck(c, r)
		if err != nil {
			return sr, err
		}
		sr.Checks = append(sr.Checks, res)
	}
	// A check the data contradict decides; then what keeps a check from
	// being judged; all reproduced is reproduced.
	for _, v := range []claimVerdict{verdictNotReproduced, verdictNoClaimData, verdictFlagged, verdictInconclusive} {
		if i := slices.IndexFunc(sr.Checks, func(res checkResult) bool { return res.Verdict == v }); i >= 0 {
			sr.Verdict, sr.Why = v, sr.Checks[i].Why
			break
		}
	}
	// Reasons for a claim that does not hold: one the data contradict,
	// or whose figure misses the bound though its interval reaches it
	// (not one that merely has too few repetitions for an interval).
	if sr.Verdict == verdictNotReproduced || slices.ContainsFunc(sr.Checks, checkResult.misses) {
		reasons, err := cs.explain(st.Explain, r)
		if err != nil {
			return sr, err
		}
		sr.Reasons = reasons
	}
	return sr, nil
}

// findCell is the one cell of the run the selector names; a selector
// that names several is a mistake of the claims file.
func (cs *claims) findCell(r *run, s selector, path string) (*cell, error) {
	var found []*cell
	for _, c := range r.Cells {
		if s.matches(c) {
			found = append(found, c)
		}
	}
	if len(found) > 1 {
		labels := make([]string, len(found))
		for i, c := range found {
			labels[i] = cellLabel(r, c)
		}
		return nil, fmt.Errorf("%s:%d: %s: %q matches %d cells of %s (%s): name more axes", cs.File, cs.doc.Line(path), path, s.String(), len(found), r.ID, strings.Join(labels, "; "))
	}
	if len(found) == 0 {
		return nil, nil
	}
	return found[0], nil
}

// cellValues are the metric's values over a cell's counted repetitions,
// with what flags them: a saturated load generator, failed requests.
type cellValues struct {
	Values    []float64
	Saturated bool
	Errors    int64
	// LeftOut counts the successful repetitions measured on a busy
	// machine, which do not count.
	LeftOut int
}

// values are the cell's values of the metric; of, when not nil, takes
// the place of the metric's own figure of a repetition.
func values(m claimMetric, c *cell, of func(*rep) float64) cellValues {
	if of == nil {
		of = m.of
	}
	var cv cellValues
	for _, rp := range c.Reps {
		if rp.OK && !rp.Counts {
			cv.LeftOut++
		}
	}
	for _, rp := range c.countedReps() {
		if v := of(rp); !math.IsNaN(v) {
			cv.Values = append(cv.Values, v)
		}
		cv.Saturated = cv.Saturated || rp.Saturated
		cv.Errors += rp.Errors
	}
	return cv
}

// flag says why the cell's figure of the metric is not the server's to
// judge; saturatedOnly, that the only flag is a saturated generator.
// Failed requests the check expects (errors_expected) flag nothing.
func (cv cellValues) flag(c check, cl *cell) (flag string, saturatedOnly bool) {
	var fs []string
	if cv.Saturated && c.metric.ClientBound {
		fs = append(fs, fmt.Sprintf("the load generator was saturated in %s: its %s are the client's", cl.ID, c.metric.Title))
	}
	errorsFlag := cv.Errors > 0 && !c.metric.AboutErrors && c.ErrorsExpected == ""
	if errorsFlag {
		fs = append(fs, fmt.Sprintf("%s requests failed in %s", fmtCount(float64(cv.Errors)), cl.ID))
	}
	return strings.Join(fs, "; "), len(fs) == 1 && !errorsFlag
}

// noValues says why a cell has no value of the metric.
func noValues(m claimMetric, c *cell) string {
	counted, busy, failed := 0, 0, 0
	for _, rp := range c.Reps {
		switch {
		case !rp.OK:
			failed++
		case !rp.Counts:
			busy++
		default:
			counted++
		}
	}
	switch {
	case len(c.Reps) == 0:
		return c.ID + " has no repetition"
	case counted == 0:
		return fmt.Sprintf("no repetition of %s counts (%d failed, %d on a busy machine)", c.ID, failed, busy)
	}
	return fmt.Sprintf("no counted repetition of %s recorded %s", c.ID, m.Title)
}

func (cs *claims) evaluateCheck(c check, r *run) (checkResult, error) {
	res := checkResult{Check: c, Value: math.NaN(), Lo: math.NaN(), Hi: math.NaN(), Confidence: math.NaN()}
	for _, ref := range c.cellRefs() {
		cl, err := cs.findCell(r, ref.Selector, ref.Path)
		if err != nil {
			return res, err
		}
		if cl == nil {
			res.Verdict, res.Why = verdictNoClaimData, fmt.Sprintf("%s has no cell %s", r.ID, ref.Selector)
			return res, nil
		}
		res.Cells = append(res.Cells, cl)
	}
	// Every cell is found before any is judged, so the plot shows both
	// sides of a ratio even when one has no data.
	judged := c.judge(res, false)
	if judged.Verdict == verdictFlagged && judged.saturatedOnly && c.metric.OnOneCore != nil && r.ServerCPUs == 1 {
		// The client's figures could not decide: the saturated cells'
		// servers are judged on what their CPU per request allows, if
		// their CPU was measured.
		if onOneCore := c.judge(res, true); onOneCore.Verdict != verdictNoClaimData {
			return onOneCore.checkResult, nil
		}
	}
	return judged.checkResult, nil
}

// judged is a check's result, with whether its only flags were saturated
// generators.
type judged struct {
	checkResult
	saturatedOnly bool
}

// judge evaluates the check on the cells res has found; onOneCore judges
// a saturated cell on its server's requests on one core instead of the
// client's figure.
func (c check) judge(res checkResult, onOneCore bool) judged {
	var samples [][]float64
	var flags, notes, leftOut []string
	// saturated marks the cells whose only flag is a saturated generator.
	saturatedOnly, saturated := true, make([]bool, len(res.Cells))
	res.OnOneCore = onOneCore
	for i, cl := range res.Cells {
		cv := res.judgedValues(cl)
		if onOneCore && cv.Saturated {
			notes = append(notes, fmt.Sprintf("the load generator was saturated in %s, so its figure is the %s its server's CPU µs per request allow on its one CPU (10⁶ ÷ µs)", cl.ID, c.metric.Title))
			cv.Saturated = false
		}
		if len(cv.Values) == 0 {
			res.Verdict, res.Why = verdictNoClaimData, noValues(c.metric, cl)
			return judged{checkResult: res}
		}
		if flag, sat := cv.flag(c, cl); flag != "" {
			flags = append(flags, flag)
			saturatedOnly = saturatedOnly && sat
			saturated[i] = sat
		}
		if cv.Errors > 0 && c.ErrorsExpected != "" && !c.metric.AboutErrors {
			notes = append(notes, fmt.Sprintf("%s requests failed in %s, as the check expects: %s", fmtCount(float64(cv.Errors)), cl.ID, c.ErrorsExpected))
		}
		if cv.LeftOut > 0 {
			leftOut = append(leftOut, fmt.Sprintf("%d of %s left out (machine busy)", cv.LeftOut, plural(cv.LeftOut+len(cv.Values), "repetition")+" of "+cl.ID))
		}
		samples = append(samples, cv.Values)
		res.N = append(res.N, len(cv.Values))
	}
	if len(samples) == 2 {
		ratioFigure(&res, samples[0], samples[1])
	} else {
		singleFigure(&res, samples[0])
	}
	if len(leftOut) > 0 {
		res.How += "; " + strings.Join(leftOut, ", ")
	}
	if len(notes) > 0 {
		res.How += "; " + strings.Join(notes, "; ")
	}
	out := judged{saturatedOnly: len(flags) > 0 && saturatedOnly}
	lo, hi := c.bounds()
	switch {
	case math.IsNaN(res.Value) && c.Statistic == statisticHighest:
		res.Verdict, res.Why = verdictInconclusive, res.How
		out.checkResult = res
		return out
	case math.IsNaN(res.Value):
		res.Verdict, res.Why = verdictNoClaimData, "no figure: "+res.How
		out.checkResult = res
		return out
	case math.IsNaN(res.Lo):
		// No interval: only "highest", an existence statement, is
		// judged on its value alone.
		if c.Statistic != statisticHighest {
			res.Verdict, res.Why = verdictInconclusive, res.How
			out.checkResult = res
			return out
		}
		res.Lo, res.Hi = res.Value, res.Value
	}
	switch {
	case res.Lo >= lo && res.Hi <= hi:
		res.Verdict = verdictReproduced
	case res.Hi < lo || res.Lo > hi:
		res.Verdict = verdictNotReproduced
		res.Why = fmt.Sprintf("%s is %s, outside %s", c.describe(), res.figureText(), c.boundText())
	default:
		res.Verdict = verdictInconclusive
		res.Why = fmt.Sprintf("%s is %s: the interval reaches across %s", c.describe(), res.figureText(), c.boundText())
	}
	if len(flags) > 0 && saturatedOnly && res.Verdict == verdictReproduced && c.holdsAFortiori(saturated) {
		res.How += "; " + strings.Join(flags, "; ") + ", so the bound holds for the server's own figure too"
		out.checkResult, out.saturatedOnly = res, false
		return out
	}
	if len(flags) > 0 {
		// Never reproduced on flagged numbers; a contradiction on them
		// is flagged too, since the flag may be what explains it.
		why := strings.Join(flags, "; ")
		if res.Verdict == verdictNotReproduced {
			why += "; the figure is outside the bound"
		}
		res.Verdict, res.Why = verdictFlagged, why
	}
	out.checkResult = res
	return out
}

// holdsAFortiori reports whether a bound the figure meets holds for the
// servers' own figures too, given which cells' generator was saturated.
// Where a saturated client's figure is a floor of the server's (it
// answered at least what the client could send), a floor met by a
// saturated cell, or by a ratio with only its numerator saturated, holds,
// and a ceiling met by a ratio with only its denominator saturated. Where
// it is a ceiling (a latency the client's delay only adds to), the same
// with floor and ceiling swapped.
func (c check) holdsAFortiori(saturated []bool) bool {
	floor := c.metric.AtLeastWhenSaturated
	if !floor && !c.metric.AtMostWhenSaturated {
		return false
	}
	// keeps is the kind of bound a saturated figure, or a ratio with it
	// on top, keeps meeting: a floor for a floor metric.
	keeps := func(top bool) bool {
		if top == floor {
			return c.AtMost == nil
		}
		return c.AtLeast == nil
	}
	switch {
	case len(saturated) == 1:
		return keeps(true)
	case saturated[0] && saturated[1]:
		return false
	case saturated[0]:
		return keeps(true)
	}
	return keeps(false)
}

// misses reports whether the check's figure is outside its bound.
func (res checkResult) misses() bool {
	// A figure without an interval (too few repetitions) decides
	// nothing, so no reason explains it.
	if math.IsNaN(res.Lo) {
		return false
	}
	lo, hi := res.Check.bounds()
	return res.Value < lo || res.Value > hi
}

// singleFigure is one cell's median with its interval (benchmath's order
// statistics; with fewer repetitions than that needs, but as many as the
// rank test needs, the range of the repetitions, which holds the median
// with probability 1 − 2^(1−n)), or for "highest" the largest
// repetition.
func singleFigure(res *checkResult, vs []float64) {
	e := estimateOf(vs)
	switch {
	case res.Check.Statistic == statisticHighest && e.N >= minRepsToTell():
		res.Value = e.Max
		res.How = fmt.Sprintf("the highest of %s", plural(e.N, "repetition"))
	case res.Check.Statistic == statisticHighest:
		res.How = fmt.Sprintf("%s: too few to judge by (need %d)", plural(e.N, "repetition"), minRepsToTell())
	case e.hasCI():
		res.Value, res.Lo, res.Hi, res.Confidence = e.Center, e.Lo, e.Hi, e.Confidence
		res.How = fmt.Sprintf("median of %s, its order-statistics interval", plural(e.N, "repetition"))
	case e.N >= minRepsToTell():
		res.Value, res.Lo, res.Hi = e.Center, e.Min, e.Max
		res.Confidence = 1 - math.Pow(2, float64(1-e.N))
		res.How = fmt.Sprintf("median of %s, their range as the interval", plural(e.N, "repetition"))
	default:
		// As few as the rank test cannot tell apart: their range holds
		// the median too seldom to judge by.
		res.Value = e.Center
		res.How = fmt.Sprintf("median of %s: too few for an interval (need %d)", plural(e.N, "repetition"), minRepsToTell())
	}
}

// ratioFigure is the ratio of the cells' medians, with the interval of
// the ratio that inverts the Mann–Whitney test (ratioInterval: of every
// ratio of a repetition of one cell to one of the other, the k-th from
// each end).
func ratioFigure(res *checkResult, a, b []float64) {
	ea, eb := estimateOf(a), estimateOf(b)
	if eb.Center == 0 {
		res.How = "the cell it is over has a median of 0"
		return
	}
	res.Value = ea.Center / eb.Center
	lo, hi, conf, ok := ratioInterval(eb.sample.Values, ea.sample.Values, ciLevel)
	if !ok {
		res.How = fmt.Sprintf("ratio of medians (n=%d+%d): too few repetitions, or a value of 0, for an interval of the ratio", ea.N, eb.N)
		return
	}
	res.Lo, res.Hi, res.Confidence = lo, hi, conf
	p := compareEstimates(eb, ea).P
	res.How = fmt.Sprintf("ratio of medians, Hodges–Lehmann interval of the rank test (%s, n=%d+%d)", fmtP(p), ea.N, eb.N)
}

// describe names what a check compares: "requests/s of server=py-epoll ÷
// server=py-trio".
func (c check) describe() string {
	s := c.metric.Title + " of " + c.cell.String()
	if c.over != nil {
		s += " ÷ " + c.over.String()
	}
	if c.Statistic == statisticHighest {
		s = "highest " + s
	}
	return s
}

// figureText writes the figure with its interval: "2.41× (2.20–2.63)",
// "1.83 s (1.70–1.95)".
func (res checkResult) figureText() string {
	text := res.Check.metric.text
	suffix := ""
	if len(res.Cells) == 2 {
		text, suffix = fmt3, "×"
	}
	if math.IsNaN(res.Value) {
		return missing
	}
	s := text(res.Value) + suffix
	if !math.IsNaN(res.Lo) && res.Lo != res.Hi {
		s += " (" + text(res.Lo) + "–" + text(res.Hi) + suffix + ")"
	}
	return s
}

// explain gives the explanations whose conditions the run's recorded
// facts meet, with their values.
func (cs *claims) explain(es []explanation, r *run) ([]string, error) {
	var out []string
	for _, e := range es {
		if e.Interpreter != "" {
			if v, ok := r.Interpreters[e.Interpreter]; ok && newerThan(v, e.NewerThan) {
				out = append(out, strings.ReplaceAll(e.Say, "{value}", v))
			}
			continue
		}
		v, text, ok, err := cs.explainValue(e, r)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if (e.Below != nil && v < *e.Below) || (e.Above != nil && v > *e.Above) {
			out = append(out, strings.ReplaceAll(e.Say, "{value}", text))
		}
	}
	return out, nil
}

// newerThan reports whether the recorded version is newer than the
// claims file's; one that cannot be read ("unknown (...)") is not.
func newerThan(recorded, than string) bool {
	v, err := parseVersion(recorded)
	if err != nil {
		return false
	}
	w, _ := parseVersion(than)
	return slices.Compare(v, w) > 0
}

// explainValue is the recorded fact an explanation tests; ok is false
// when the run did not record it.
func (cs *claims) explainValue(e explanation, r *run) (float64, string, bool, error) {
	lookup := func(kvs []keyValue, key string) (float64, string, bool, error) {
		i := slices.IndexFunc(kvs, func(kv keyValue) bool { return kv.Key == key })
		if i < 0 {
			return 0, "", false, nil
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(kvs[i].Value), 64)
		return v, kvs[i].Value, err == nil, nil
	}
	switch {
	case e.Sysctl != "":
		return lookup(r.Sysctls, e.Sysctl)
	case e.Machine != "":
		return lookup(r.Machine, explainMachine[e.Machine])
	}
	c, err := cs.findCell(r, e.cell, e.Path+".cell")
	if err != nil || c == nil {
		return 0, "", false, err
	}
	if est := estimateOf(values(e.metric, c, nil).Values); est.Known() {
		return est.Center, e.metric.text(est.Center), true, nil
	}
	return 0, "", false, nil
}
