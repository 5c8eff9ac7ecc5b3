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
// best of three, interleaved, to damp noise from other processes.
func BenchmarkCheckRatios(b *testing.B) {
	e := newEngine(b, Options{})
	ctx := context.Background()
	a, err := adapters.Lookup("istio")
	if err != nil {
		b.Fatal(err)
	}
	small, large := benchTarget(b, 1000), benchTarget(b, 10000)
	best := func(f func()) time.Duration {
		var m time.Duration
		for range 3 {
			t0 := time.Now()
			f()
			if d := time.Since(t0); m == 0 || d < m {
				m = d
			}
		}
		return m
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
	c1, c10 := best(check(small)), best(check(large))
	t1, t10 := best(translate(small)), best(translate(large))
	b.ResetTimer()
	for b.Loop() {
	}
	// Reported after the loop: ResetTimer clears metrics reported before it.
	b.ReportMetric(c1.Seconds(), "check1k-s")
	b.ReportMetric(c10.Seconds(), "check10k-s")
	b.ReportMetric(float64(c10)/float64(c1), "check10k/check1k")
	b.ReportMetric(float64(t10)/float64(t1), "translate10k/translate1k")
	b.ReportMetric(float64(c1)/float64(t1), "check/translate-1k")
	b.ReportMetric(float64(c10)/float64(t10), "check/translate-10k")
}
