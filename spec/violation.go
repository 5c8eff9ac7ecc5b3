package spec

import (
	"fmt"
	"strings"
)

// Position is a place in a source file.
type Position struct {
	// File is the file's path as given to the loader ("" when loaded from bytes without a name).
	File string `json:"file,omitempty"`
	// Line is 1-based.
	Line int `json:"line,omitempty"`
	// Column is 1-based.
	Column int `json:"column,omitempty"`
}

// String formats the position as file:line:column (file:line when the column is unknown).
func (p Position) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Violation is one problem found in a design.
type Violation struct {
	// Path is the field path ("spec.traffic[0].routes[1].backends[0].weight").
	Path string `json:"path"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Expected says what a valid value looks like. Optional.
	Expected string `json:"expected,omitempty"`
	// Hint says how to fix it. Optional.
	Hint string `json:"hint,omitempty"`
	// Pos is where the field is in its file, when the design was loaded from one.
	Pos *Position `json:"position,omitempty"`
}

// String formats the violation on one line: "file:line:col: path: message (expected …; hint: …)".
func (v Violation) String() string {
	var b strings.Builder
	if v.Pos != nil && v.Pos.String() != "" {
		b.WriteString(v.Pos.String())
		b.WriteString(": ")
	}
	if v.Path != "" {
		b.WriteString(v.Path)
		b.WriteString(": ")
	}
	b.WriteString(v.Message)
	switch {
	case v.Expected != "" && v.Hint != "":
		fmt.Fprintf(&b, " (expected %s; hint: %s)", v.Expected, v.Hint)
	case v.Expected != "":
		fmt.Fprintf(&b, " (expected %s)", v.Expected)
	case v.Hint != "":
		fmt.Fprintf(&b, " (hint: %s)", v.Hint)
	}
	return b.String()
}

// ValidationError carries every violation found in one or more designs.
type ValidationError struct {
	// Violations lists every problem, in file and path order.
	Violations []Violation
}

// Error lists the violations, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		lines[i] = v.String()
	}
	return fmt.Sprintf("%d violation(s):\n%s", len(e.Violations), strings.Join(lines, "\n"))
}
