package config

import (
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a configuration, located.
type Problem struct {
	File string
	Line int
	// Field is the path of the offending value, e.g. "load.connections"
	// or "servers[2].command[0]"; empty for a syntax error.
	Field   string
	Message string
}

func (p Problem) String() string {
	if p.Field == "" {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Field, p.Message)
}

// Error is every problem found in a configuration, one per line in the
// order of the file.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects the problems of one file, once each.
type problems struct {
	file string
	list []Problem
}

func (ps *problems) add(line int, field, format string, args ...any) {
	p := Problem{File: ps.file, Line: line, Field: field, Message: fmt.Sprintf(format, args...)}
	if !slices.Contains(ps.list, p) {
		ps.list = append(ps.list, p)
	}
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	slices.SortStableFunc(ps.list, func(a, b Problem) int { return a.Line - b.Line })
	return &Error{Problems: ps.list}
}
