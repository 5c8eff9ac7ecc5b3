// Package policies checks designs, and the objects adapters generate from them, against a
// catalogue of best-practice rules written in Rego (OPA). The built-in catalogue lives in rego/
// and is embedded; users add rules with the same METADATA contract from directories.
//
// Each rule is one Rego package with a package-scoped METADATA block (title, description and
// custom: {id, severity, category, remedy, anchors, mesh?}) and a partial set rule "findings"
// whose elements are objects {msg, path, object?, service?}. The input document is the defaulted
// design (its JSON form) plus, for every selected mesh, input.meshes.<mesh>.objects.
package policies

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Options configures an Engine.
type Options struct {
	// PolicyDirs are directories (or single .rego files) of user rules added to the built-in
	// catalogue. Files ending in _test.rego are skipped.
	PolicyDirs []string
	// Workers bounds parallel evaluation. Default: GOMAXPROCS.
	Workers int
	// Progress, when set, is called after each rule evaluation of a check with the number of
	// evaluations done and the total (rules × designs). Calls are serialized and done rises by
	// one each time; the callback must return quickly. Default: no progress reports.
	Progress func(done, total int)
}

// Engine evaluates the rule catalogue. Queries are compiled once; an Engine is safe for
// concurrent use.
type Engine struct {
	rules    []Rule
	byID     map[string]*Rule
	queries  []*ruleQuery
	workers  int
	progress func(done, total int)
	// whole disables the early start of design-only rules (tests compare both schedules).
	whole bool
}

type ruleQuery struct {
	rule *Rule
	q    rego.PreparedEvalQuery
	// designOnly is set when the rule provably never reads input.meshes: it can run on the
	// design part of the input before the mesh outputs are converted.
	designOnly bool
	// cost is the learned evaluation time in nanoseconds per unit of target size.
	cost atomic.Int64
}

// New compiles the built-in catalogue plus the user policies in opts.PolicyDirs. Broken
// policies (parse or compile errors, missing metadata) yield a *PolicyError naming file:line.
func New(ctx context.Context, opts Options) (*Engine, error) {
	srcs, err := builtinSources(false)
	if err != nil {
		return nil, err
	}
	for _, dir := range opts.PolicyDirs {
		more, err := dirSources(dir, false)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, more...)
	}
	builtin := map[string]bool{}
	for _, s := range srcs {
		builtin[s.name] = s.builtin
	}
	mods, err := parseSources(srcs)
	if err != nil {
		return nil, err
	}
	compiler := ast.NewCompiler().WithEnablePrintStatements(false)
	compiler.Compile(mods)
	if compiler.Failed() {
		return nil, &PolicyError{Problems: []string{formatRegoErr(compiler.Errors)}}
	}
	rules, err := buildCatalogue(mods, builtin)
	if err != nil {
		return nil, err
	}
	e := &Engine{rules: rules, byID: map[string]*Rule{}, workers: opts.Workers, progress: opts.Progress}
	if e.workers <= 0 {
		e.workers = runtime.GOMAXPROCS(0)
	}
	ids := map[string]any{}
	for _, r := range e.rules {
		ids[r.ID] = true
	}
	// data.trellis.catalogue lists the rule ids in use (rule GEN-004 checks suppressions with it).
	store := inmem.NewFromObject(map[string]any{"trellis": map[string]any{"catalogue": ids}})
	for i := range e.rules {
		r := &e.rules[i]
		e.byID[r.ID] = r
		pq, err := rego.New(
			rego.Query("data."+r.Package+"."+findingsRule),
			rego.Compiler(compiler),
			rego.Store(store),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, &PolicyError{Problems: []string{fmt.Sprintf("%s: preparing rule %s: %s", r.File, r.ID, formatRegoErr(err))}}
		}
		e.queries = append(e.queries, &ruleQuery{rule: r, q: pq, designOnly: r.Mesh == "" && designOnly(compiler, r.Package)})
	}
	return e, nil
}

// Rules returns the catalogue, sorted by id.
func (e *Engine) Rules() []Rule { return append([]Rule(nil), e.rules...) }

// UnknownRules returns the rule ids cfg's ignore entries name that are not in the catalogue, as
// "ignore[i].rule: ID" strings, so callers can warn about suppressions that suppress nothing.
func (e *Engine) UnknownRules(cfg *Config) []string {
	if cfg == nil {
		return nil
	}
	var out []string
	for i, ig := range cfg.Ignore {
		if _, ok := e.byID[ig.Rule]; !ok {
			out = append(out, fmt.Sprintf("ignore[%d].rule: %s", i, ig.Rule))
		}
	}
	return out
}

// Rule returns the catalogue entry with the given id.
func (e *Engine) Rule(id string) (Rule, bool) {
	r, ok := e.byID[id]
	if !ok {
		return Rule{}, false
	}
	return *r, true
}

// Target is one design to check, with the outputs of the meshes it was translated to.
type Target struct {
	// Design is a defaulted, valid design.
	Design *spec.Design
	// Meshes maps a mesh name to the adapter's output for Design. Mesh rules run only for the
	// meshes present.
	Meshes map[string]*adapters.Output
}

// Check evaluates every rule against one target and applies suppressions from cfg (which may be
// nil). Findings are sorted by file, line, rule and path.
func (e *Engine) Check(ctx context.Context, t Target, cfg *Config) ([]Finding, error) {
	res, err := e.CheckAll(ctx, []Target{t}, cfg)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// CheckAll evaluates every rule against every target, in parallel across targets and rules, and
// returns the findings of each target in the targets' order. See schedule.go for the order in
// which the work is done.
func (e *Engine) CheckAll(ctx context.Context, targets []Target, cfg *Config) ([][]Finding, error) {
	inputs := make([]*targetInput, len(targets))
	var tasks []task
	for ti, t := range targets {
		if t.Design == nil {
			return nil, fmt.Errorf("building policy input: no design")
		}
		in := &targetInput{names: meshNames(t.Meshes), size: targetSize(t)}
		in.meshes = make([]*ast.Term, len(in.names))
		in.pending.Store(int32(1 + len(in.names)))
		inputs[ti] = in
		tasks = append(tasks, task{run: func() error {
			d, err := designInput(t.Design)
			if err != nil {
				return err
			}
			in.design = d
			in.dReady.Store(true)
			in.partDone()
			return nil
		}})
		for mi, m := range in.names {
			tasks = append(tasks, task{run: func() error {
				v, err := meshInput(m, t.Meshes[m])
				if err != nil {
					return err
				}
				in.meshes[mi] = v
				in.partDone()
				return nil
			}})
		}
	}
	type job struct {
		t    int
		q    *ruleQuery
		cost int64
	}
	var jobs []job
	for ti, t := range targets {
		for _, q := range e.queries {
			if q.rule.Mesh != "" && t.Meshes[q.rule.Mesh] == nil {
				continue
			}
			jobs = append(jobs, job{ti, q, q.cost.Load() * inputs[ti].size})
		}
	}
	// Longest first; rules never measured keep their catalogue order, after the measured ones.
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].cost > jobs[j].cost })
	results := make([][]Finding, len(jobs))
	var (
		progressMu sync.Mutex
		done       int
	)
	report := func() {
		if e.progress == nil {
			return
		}
		progressMu.Lock()
		defer progressMu.Unlock()
		done++
		e.progress(done, len(jobs))
	}
	for i, j := range jobs {
		in := inputs[j.t]
		ready := in.fReady.Load
		if j.q.designOnly && !e.whole {
			ready = in.dReady.Load
		}
		tasks = append(tasks, task{ready: ready, run: func() error {
			var input ast.Value = in.design
			if in.fReady.Load() {
				input = in.full
			}
			t0 := time.Now()
			fs, err := e.eval(ctx, j.q, input, targets[j.t].Design)
			j.q.learn(time.Since(t0), in.size)
			results[i] = fs
			if err == nil {
				report()
			}
			return err
		}})
	}
	if err := runTasks(ctx, e.workers, tasks); err != nil {
		return nil, err
	}
	out := make([][]Finding, len(targets))
	for i, j := range jobs {
		out[j.t] = append(out[j.t], results[i]...)
	}
	for i := range out {
		applySuppressions(out[i], targets[i].Design, cfg)
		SortFindings(out[i])
	}
	return out, nil
}

// meshNames lists the meshes of a target, sorted.
func meshNames(meshes map[string]*adapters.Output) []string {
	names := make([]string, 0, len(meshes))
	for n := range meshes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// targetSize measures a target for scheduling: services, traffic policies, access rules and
// generated objects.
func targetSize(t Target) int64 {
	n := 1 + len(t.Design.Spec.Services) + len(t.Design.Spec.Traffic)
	if t.Design.Spec.Security != nil {
		n += len(t.Design.Spec.Security.Access)
	}
	for _, o := range t.Meshes {
		if o != nil {
			n += len(o.Objects)
		}
	}
	return int64(n)
}

// Input builds the pre-parsed input document for a design and its mesh outputs: the design's
// JSON form plus "meshes": {<mesh>: {"objects": [...], "kinds": {<kind>: [...]}}}, where kinds
// indexes the same objects by kind so rules need not scan every object.
func Input(d *spec.Design, meshes map[string]*adapters.Output) (ast.Value, error) {
	if d == nil {
		return nil, fmt.Errorf("building policy input: no design")
	}
	names := meshNames(meshes)
	// The design and each mesh output are converted concurrently.
	meshValues := make([]*ast.Term, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			meshValues[i], errs[i] = meshInput(n, meshes[n])
		}()
	}
	obj, err := designInput(d)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return withMeshes(obj, names, meshValues), nil
}

// designInput converts the design to the AST object of its JSON form (directly, see toAST).
func designInput(d *spec.Design) (ast.Object, error) {
	v, err := toAST(reflect.ValueOf(d))
	if err != nil {
		return nil, fmt.Errorf("building policy input for design %q: %w", d.Metadata.Name, err)
	}
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("building policy input for design %q: design is not an object", d.Metadata.Name)
	}
	return obj, nil
}

// meshInput converts one mesh output to {"objects": [...], "kinds": {<kind>: [...]}}.
func meshInput(name string, out *adapters.Output) (*ast.Term, error) {
	objs := make([]*ast.Term, 0)
	kinds := map[string][]*ast.Term{}
	var kindOrder []string
	if out != nil {
		c := newConverter()
		for _, o := range out.Objects {
			if o == nil {
				continue
			}
			// Unstructured objects hold JSON-compatible Go values: convert them directly.
			t, err := c.iface(o.Object)
			if err != nil {
				return nil, fmt.Errorf("building policy input for mesh %s, object %s %s: %w", name, o.GetKind(), o.GetName(), err)
			}
			objs = append(objs, t)
			k := o.GetKind()
			if _, ok := kinds[k]; !ok {
				kindOrder = append(kindOrder, k)
			}
			kinds[k] = append(kinds[k], t)
		}
	}
	byKind := ast.NewObject()
	for _, k := range kindOrder {
		byKind.Insert(ast.StringTerm(k), ast.ArrayTerm(kinds[k]...))
	}
	return ast.ObjectTerm(
		ast.Item(ast.StringTerm("objects"), ast.ArrayTerm(objs...)),
		ast.Item(ast.StringTerm("kinds"), ast.NewTerm(byKind)),
	), nil
}

// eval runs one rule against one input and converts its results.
func (e *Engine) eval(ctx context.Context, rq *ruleQuery, input ast.Value, d *spec.Design) ([]Finding, error) {
	rs, err := rq.q.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, fmt.Errorf("evaluating rule %s (%s) on design %q: %w", rq.rule.ID, rq.rule.File, d.Metadata.Name, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	set, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("rule %s (%s): findings must be a set of objects, got %T", rq.rule.ID, rq.rule.File, rs[0].Expressions[0].Value)
	}
	out := make([]Finding, 0, len(set))
	for _, x := range set {
		f, err := newFinding(rq.rule, x, d)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}
