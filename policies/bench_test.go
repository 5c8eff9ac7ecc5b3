package policies

import (
	"context"
	"testing"

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
