package policies

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// BenchmarkCheckStages breaks the check of the 1,000- and 10,000-service designs (with their
// Istio output) down into stages — input conversion, each rule evaluated alone on one goroutine,
// finding conversion, suppressions and sorting — and reports, per stage, the 10k/1k time ratio,
// so superlinear parts stand out (a linear stage has a ratio near 10). With
// TRELLIS_BENCH_VERBOSE=1 it prints every rule's times, slowest first.
func BenchmarkCheckStages(b *testing.B) {
	e := newEngine(b, Options{})
	ctx := context.Background()
	small, large := benchTarget(b, 1000), benchTarget(b, 10000)
	type stageTimes map[string]time.Duration
	cpu := map[string]time.Duration{}
	gcs := map[string]uint32{}
	allocs := map[string]uint64{}
	var key string
	best := func(f func()) time.Duration {
		var m time.Duration
		for range 3 {
			runtime.GC()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			c0 := cpuTime()
			t0 := time.Now()
			f()
			d := time.Since(t0)
			c := cpuTime() - c0
			runtime.ReadMemStats(&ms1)
			if m == 0 || d < m {
				m = d
				cpu[key] = c
				gcs[key] = ms1.NumGC - ms0.NumGC
				allocs[key] = ms1.TotalAlloc - ms0.TotalAlloc
			}
		}
		return m
	}
	measure := func(t Target) stageTimes {
		st := stageTimes{}
		var in ast.Value
		key = fmt.Sprint(len(t.Design.Spec.Services), "input")
		st["input"] = best(func() {
			v, err := Input(t.Design, t.Meshes)
			if err != nil {
				b.Fatal(err)
			}
			in = v
		})
		for _, q := range e.queries {
			if q.rule.Mesh != "" && t.Meshes[q.rule.Mesh] == nil {
				continue
			}
			key = fmt.Sprint(len(t.Design.Spec.Services), "rule "+q.rule.ID)
			st["rule "+q.rule.ID] = best(func() {
				if _, err := e.eval(ctx, q, in, t.Design); err != nil {
					b.Fatal(err)
				}
			})
		}
		key = fmt.Sprint(len(t.Design.Spec.Services), "check (all, parallel)")
		st["check (all, parallel)"] = best(func() {
			if _, err := e.Check(ctx, t, nil); err != nil {
				b.Fatal(err)
			}
		})
		return st
	}
	s1, s10 := measure(small), measure(large)
	b.ResetTimer()
	for b.Loop() {
	}
	names := make([]string, 0, len(s1))
	var sum1, sum10 time.Duration
	for n := range s1 {
		names = append(names, n)
		if n != "check (all, parallel)" {
			sum1 += s1[n]
			sum10 += s10[n]
		}
	}
	sort.Slice(names, func(i, j int) bool { return s10[names[i]] > s10[names[j]] })
	if os.Getenv("TRELLIS_BENCH_VERBOSE") != "" {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		for _, n := range names {
			k1, k10 := "1000"+n, "10000"+n
			fmt.Fprintf(os.Stderr, "%-24s wall 1k %8.1f ms 10k %8.1f ms ratio %5.1f | cpu 1k %8.1f 10k %8.1f ratio %5.1f | alloc MB %6.0f %6.0f gcs %d %d\n", n,
				ms(s1[n]), ms(s10[n]), float64(s10[n])/float64(s1[n]),
				ms(cpu[k1]), ms(cpu[k10]), float64(cpu[k10])/float64(cpu[k1]),
				float64(allocs[k1])/1e6, float64(allocs[k10])/1e6, gcs[k1], gcs[k10])
		}
		fmt.Fprintf(os.Stderr, "%-24s wall 1k %8.1f ms 10k %8.1f ms ratio %5.1f\n", "sum of stages",
			float64(sum1.Microseconds())/1000, float64(sum10.Microseconds())/1000, float64(sum10)/float64(sum1))
	}
	b.ReportMetric(sum1.Seconds(), "serial1k-s")
	b.ReportMetric(sum10.Seconds(), "serial10k-s")
	b.ReportMetric(float64(sum10)/float64(sum1), "serial10k/serial1k")
}

// cpuTime is the CPU time (user + system) the process has used, GC workers included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
