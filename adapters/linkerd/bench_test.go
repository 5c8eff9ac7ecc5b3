package linkerd_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/linkerd"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// Translating a design must cost no more than loading it (budget: ratio ≤ 1).
//
//	go test ./adapters/linkerd -run '^$' -bench 'TranslateLinkerd1000|Load1000' -benchmem
//
// BenchmarkTranslateLinkerd1000 reports "x-load", its time per op divided by the load time of the
// same design measured in the same run.

var (
	benchYAML   = spectest.Generate(1000)
	loadNsOnce  sync.Once
	loadNsPerOp float64
)

func loadDesign(b *testing.B) *spec.Design {
	ds, err := spec.LoadBytes("bench.yaml", benchYAML)
	if err != nil || len(ds) != 1 {
		b.Fatalf("loading the generated design: %v", err)
	}
	return ds[0]
}

// BenchmarkLoad1000 is the baseline: load (parse, default, validate) a 1,000-service design.
func BenchmarkLoad1000(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		loadDesign(b)
	}
}

// BenchmarkTranslateLinkerd1000 translates a 1,000-service design to Linkerd and reports the
// ratio to the load time of the same design, measured in the same run before the timed loop.
func BenchmarkTranslateLinkerd1000(b *testing.B) {
	loadNsOnce.Do(func() {
		const rounds = 5
		loadDesign(b) // warm up
		start := time.Now()
		for range rounds {
			loadDesign(b)
		}
		loadNsPerOp = float64(time.Since(start).Nanoseconds()) / rounds
	})
	d := loadDesign(b)
	a := linkerd.New()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, _, err := a.Translate(ctx, d, adapters.Options{})
		if err != nil || len(out.Objects) == 0 {
			b.Fatalf("translate: %v", err)
		}
	}
	if loadNsPerOp > 0 && b.N > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/loadNsPerOp, "x-load")
		b.ReportMetric(loadNsPerOp/1e6, "load-ms")
	}
}
