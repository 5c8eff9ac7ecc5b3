package istio_test

import (
	"context"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/istio"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// BenchmarkLoad1000 is the baseline: loading (parse, default, validate) a generated design with
// 1000 services.
func BenchmarkLoad1000(b *testing.B) {
	data := spectest.Generate(1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := spec.LoadBytes("generated.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTranslateIstio1000 translates the same design to Istio objects; the budget is at most
// the baseline's time (ratio ≤ 1).
func BenchmarkTranslateIstio1000(b *testing.B) {
	d := spectest.Design(1000)
	a := istio.New()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out, _, err := adapters.Translate(ctx, a, d, adapters.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Objects) == 0 {
			b.Fatal("no objects")
		}
	}
}

// TestTranslateGeneratedDesign checks that the benchmark's design translates into objects that
// match Istio's CRD schemas (so the benchmark measures real work).
func TestTranslateGeneratedDesign(t *testing.T) {
	d := spectest.Design(50)
	out, _, err := adapters.Translate(context.Background(), istio.New(), d, adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Objects) < 100 {
		t.Fatalf("only %d objects for 50 services", len(out.Objects))
	}
	adaptertestValidate(t, out)
}
