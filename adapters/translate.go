package adapters

import (
	"context"
	"fmt"
	"strings"

	"github.com/trellis-mesh/trellis/spec"
)

// StrictError is returned by Translate in strict mode when the translation produced warnings.
type StrictError struct {
	// Mesh is the adapter's name.
	Mesh string
	// Warnings are every warning of the translation, sorted.
	Warnings []Warning
}

// Error lists the warnings, one per line.
func (e *StrictError) Error() string {
	lines := make([]string, len(e.Warnings))
	for i, w := range e.Warnings {
		lines[i] = "  " + w.String()
	}
	return fmt.Sprintf("strict mode: translating to %s produced %d warning(s):\n%s", e.Mesh, len(e.Warnings), strings.Join(lines, "\n"))
}

// Translate runs a's translation of d and puts the output in canonical order and the warnings in
// sorted order. With opts.Strict, any warning makes it fail with a *StrictError listing them
// (the output is still returned, so callers can show what would have been generated).
func Translate(ctx context.Context, a Adapter, d *spec.Design, opts Options) (*Output, []Warning, error) {
	if d == nil {
		return nil, nil, fmt.Errorf("translating to %s: no design", a.Name())
	}
	// Adapters report warnings themselves; strictness is applied here, uniformly.
	inner := opts
	inner.Strict = false
	out, ws, err := a.Translate(ctx, d, inner)
	if err != nil {
		return nil, ws, fmt.Errorf("translating design %q to %s: %w", d.Metadata.Name, a.Name(), err)
	}
	if out == nil {
		out = &Output{}
	}
	out.Sort()
	SortWarnings(ws)
	if opts.Strict && len(ws) > 0 {
		return out, ws, &StrictError{Mesh: a.Name(), Warnings: ws}
	}
	return out, ws, nil
}
