package report

import (
	"math"
	"strconv"
	"strings"
)

// missing is what a table shows for a value that was not measured; a zero
// would read as a measurement.
const missing = "–"

// fmtCount writes an integer with thousands separators, the way people read
// requests per second.
func fmtCount(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return missing
	}
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

// fmtMS writes a latency given in µs as milliseconds with three significant
// digits, so one column in one unit covers 50 µs to 2 s.
func fmtMS(us float64) string {
	if math.IsNaN(us) || math.IsInf(us, 0) {
		return missing
	}
	return fmtSig(us/1000, 3)
}

// fmtSig writes v with n significant digits and no exponent; values of 1000
// and more are written as whole numbers.
func fmtSig(v float64, n int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return missing
	}
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	if a >= 1000 {
		return fmtCount(v)
	}
	digits := n - 1 - int(math.Floor(math.Log10(a)))
	if digits < 0 {
		digits = 0
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// fmtFixed writes v with d decimals, or "–" when not measured.
func fmtFixed(v float64, d int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return missing
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

// csvFloat writes a raw value for a spreadsheet: no separators, empty when
// not measured.
func csvFloat(v float64, d int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

// plural writes a count with its noun, "1 repetition", "5 repetitions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
