package policies

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
	_ "github.com/trellis-mesh/trellis/adapters/istio" // the istio adapter for mesh rules
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// benchTarget builds a generated design of n services and its Istio output.
func benchTarget(b *testing.B, n int) Target {
	b.Helper()
	d := spectest.Design(n)
	a, err := adapters.Lookup("istio")
	if err != nil {
		b.Fatal(err)
	}
	out, _, err := adapters.Translate(context.Background(), a, d, adapters.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return Target{Design: d, Meshes: map[string]*adapters.Output{"istio": out}}
}

func benchCheck(b *testing.B, n int) {
	e := newEngine(b, Options{})
	t := benchTarget(b, n)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var findings int
	for b.Loop() {
		fs, err := e.Check(ctx, t, nil)
		if err != nil {
			b.Fatal(err)
		}
		findings = len(fs)
	}
	b.ReportMetric(float64(findings), "findings")
	b.ReportMetric(float64(len(t.Meshes["istio"].Objects)), "objects")
}

// BenchmarkCheck1000 checks a 1,000-service design and its Istio output (target: ≤ 1 s).
func BenchmarkCheck1000(b *testing.B) { benchCheck(b, 1000) }

// BenchmarkCheck10000 checks a 10,000-service design and its Istio output (target: ≤ 10× the
// 1,000-service time).
func BenchmarkCheck10000(b *testing.B) { benchCheck(b, 10000) }

func benchTranslate(b *testing.B, n int) {
	d := spectest.Design(n)
	a, err := adapters.Lookup("istio")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := adapters.Translate(ctx, a, d, adapters.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIstioTranslate1000 is the baseline the check time is compared with: translating the
// same design to Istio.
func BenchmarkIstioTranslate1000(b *testing.B) { benchTranslate(b, 1000) }

// BenchmarkIstioTranslate10000 is the 10,000-service baseline.
func BenchmarkIstioTranslate10000(b *testing.B) { benchTranslate(b, 10000) }

// BenchmarkCheckRatios measures, in one run, the check of 1,000- and 10,000-service designs (with
// their Istio output) and the Istio translation of the same designs, and reports the ratios the
// budgets are stated in: check10k/check1k (target ≤ 10) and check/translate. Each timing is the
// best of three, interleaved, to damp noise from other processes; check10k/check1k-cpu is the
// same ratio in CPU time (of the best runs), steadier when the machine is shared.
func BenchmarkCheckRatios(b *testing.B) {
	e := newEngine(b, Options{})
	ctx := context.Background()
	a, err := adapters.Lookup("istio")
	if err != nil {
		b.Fatal(err)
	}
	small, large := benchTarget(b, 1000), benchTarget(b, 10000)
	// best returns the shortest wall time of three runs of f and the CPU time (all goroutines,
	// GC included) of that run: on a shared machine the CPU time is the steadier figure.
	best := func(f func()) (wall, cpu time.Duration) {
		for range 3 {
			c0, t0 := cpuTime(), time.Now()
			f()
			if d := time.Since(t0); wall == 0 || d < wall {
				wall, cpu = d, cpuTime()-c0
			}
		}
		return wall, cpu
	}
	check := func(t Target) func() {
		return func() {
			if _, err := e.Check(ctx, t, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	translate := func(t Target) func() {
		return func() {
			if _, _, err := adapters.Translate(ctx, a, t.Design, adapters.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	// One interleaved measurement (best of three each) is enough for the ratios; the loop itself
	// does nothing, so ns/op is meaningless for this benchmark: read the reported metrics.
	c1, cpu1 := best(check(small))
	c10, cpu10 := best(check(large))
	t1, _ := best(translate(small))
	t10, _ := best(translate(large))
	b.ResetTimer()
	for b.Loop() {
	}
	// Reported after the loop: ResetTimer clears metrics reported before it.
	b.ReportMetric(c1.Seconds(), "check1k-s")
	b.ReportMetric(c10.Seconds(), "check10k-s")
	b.ReportMetric(float64(c10)/float64(c1), "check10k/check1k")
	b.ReportMetric(float64(cpu10)/float64(cpu1), "check10k/check1k-cpu")
	b.ReportMetric(float64(t10)/float64(t1), "translate10k/translate1k")
	b.ReportMetric(float64(c1)/float64(t1), "check/translate-1k")
	b.ReportMetric(float64(c10)/float64(t10), "check/translate-10k")
}
