package policies

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// This file schedules a check over the workers. The work of one CheckAll call is a list of
// tasks: building each target's input (the design and every mesh output converted separately)
// and evaluating each rule on each target. Tasks are taken in list order, skipping those whose
// input is not built yet, so:
//   - rules that never read input.meshes (designOnly, proven from the compiled policy) start on
//     the design part while the mesh outputs are still being converted, instead of one worker
//     idling until the slower conversion ends;
//   - rule evaluations are listed longest first (each rule's cost per unit of target size is
//     learned from earlier checks), so the last tasks to finish are short ones and both cores
//     stay busy to the end.
// None of this changes what a rule sees: a design-only rule's findings cannot depend on the
// mesh part it is not given (TestPartitionedCheckIdentical checks it on generated designs).

// task is one unit of work.
type task struct {
	run   func() error
	ready func() bool // nil: always ready
}

// runTasks runs tasks on n workers: each worker takes the first task not yet taken whose input
// is ready, and waits when none is. It returns the first error (remaining tasks are dropped).
// A task's readiness may only depend on tasks listed before it, so some ready task always
// exists while tasks remain.
func runTasks(ctx context.Context, n int, tasks []task) error {
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		taken   = make([]bool, len(tasks))
		first   = 0 // tasks before first are all taken
		running = 0
		err     error
		wg      sync.WaitGroup
	)
	next := func() (int, bool) { // called with mu held
		for {
			if err != nil || first == len(tasks) {
				return 0, false
			}
			for i := first; i < len(tasks); i++ {
				if taken[i] || (tasks[i].ready != nil && !tasks[i].ready()) {
					continue
				}
				taken[i] = true
				for first < len(tasks) && taken[first] {
					first++
				}
				return i, true
			}
			if running == 0 {
				// Cannot happen with readiness depending on earlier tasks only; do not hang.
				return 0, false
			}
			cond.Wait()
		}
	}
	for range min(n, len(tasks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			for {
				i, ok := next()
				if !ok {
					mu.Unlock()
					return
				}
				running++
				mu.Unlock()
				e := ctx.Err()
				if e == nil {
					e = tasks[i].run()
				}
				mu.Lock()
				running--
				if e != nil && err == nil {
					err = e
				}
				cond.Broadcast()
			}
		}()
	}
	wg.Wait()
	return err
}

// targetInput is the input of one target, built in parts.
type targetInput struct {
	design  ast.Object
	meshes  []*ast.Term // in meshNames order
	names   []string    // selected meshes, sorted
	pending atomic.Int32
	full    ast.Value   // design plus meshes, set when every part is built
	dReady  atomic.Bool // design is built
	fReady  atomic.Bool // full is built
	size    int64       // services, traffic policies, access rules and objects: the cost unit
}

// partDone assembles the full input once the design and every mesh output are converted.
func (in *targetInput) partDone() {
	if in.pending.Add(-1) > 0 {
		return
	}
	in.full = withMeshes(in.design, in.names, in.meshes)
	in.fReady.Store(true)
}

// withMeshes returns the input document: the design object plus "meshes" (a new object; the
// design object itself is left as it is, since design-only rules may be reading it).
func withMeshes(design ast.Object, names []string, meshes []*ast.Term) ast.Value {
	if len(names) == 0 {
		return design
	}
	items := make([][2]*ast.Term, 0, design.Len()+1)
	design.Foreach(func(k, v *ast.Term) { items = append(items, [2]*ast.Term{k, v}) })
	ms := make([][2]*ast.Term, len(names))
	for i, n := range names {
		ms[i] = [2]*ast.Term{ast.StringTerm(n), meshes[i]}
	}
	items = append(items, [2]*ast.Term{ast.StringTerm("meshes"), ast.ObjectTerm(ms...)})
	return ast.NewObject(items...)
}

// learn records the cost of one evaluation of q on a target of the given size (an exponential
// moving average of nanoseconds per unit of size).
func (q *ruleQuery) learn(d time.Duration, size int64) {
	per := int64(d) / max(size, 1)
	old := q.cost.Load()
	if old == 0 {
		q.cost.Store(per)
		return
	}
	q.cost.Store((3*old + per) / 4)
}

// designOnly reports whether the value of data.<pkg>.findings cannot depend on input.meshes:
// neither its rules nor any rule or function they depend on, transitively, refers to
// input.meshes, to the whole input document or to input or data with a computed key.
func designOnly(c *ast.Compiler, pkg string) bool {
	ref := ast.MustParseRef("data." + pkg + ".findings")
	seen := map[util.T]bool{}
	var queue []util.T
	for _, r := range c.GetRules(ref) {
		queue = append(queue, r)
	}
	if len(queue) == 0 {
		return false
	}
	ok := true
	for len(queue) > 0 && ok {
		x := queue[0]
		queue = queue[1:]
		if seen[x] {
			continue
		}
		seen[x] = true
		ast.WalkRefs(x, func(r ast.Ref) bool {
			switch {
			case r.HasPrefix(ast.InputRootRef):
				if len(r) == 1 {
					ok = false
				} else if s, isStr := r[1].Value.(ast.String); !isStr || s == "meshes" {
					ok = false
				}
			case r.HasPrefix(ast.DefaultRootRef):
				// Dynamic data references could reach any rule: give up.
				for _, t := range r[1:min(len(r), 3)] {
					if _, isStr := t.Value.(ast.String); !isStr {
						ok = false
					}
				}
			}
			return !ok
		})
		for d := range c.Graph.Dependencies(x) {
			if !seen[d] {
				queue = append(queue, d)
			}
		}
	}
	return ok
}
