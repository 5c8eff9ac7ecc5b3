package linkerd_test

import (
	"context"
	"runtime"
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
// BenchmarkTranslateLinkerd1000 reports "x-load", its time divided by the time loading the same
// design took, interleaved in the same iterations.

var benchYAML = spectest.Generate(1000)

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

// BenchmarkTranslateLinkerd1000 translates a 1,000-service design to Linkerd. Every iteration
// also loads the design with the timer stopped, so the reported "x-load" ratio compares both
// under the same machine load (the CPUs are shared).
func BenchmarkTranslateLinkerd1000(b *testing.B) {
	d := loadDesign(b)
	a := linkerd.New()
	ctx := context.Background()
	var load time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		runtime.GC() // each side pays for its own garbage only
		start := time.Now()
		loadDesign(b)
		load += time.Since(start)
		runtime.GC()
		b.StartTimer()
		out, _, err := a.Translate(ctx, d, adapters.Options{})
		if err != nil || len(out.Objects) == 0 {
			b.Fatalf("translate: %v", err)
		}
	}
	if load > 0 {
		b.ReportMetric(float64(b.Elapsed())/float64(load), "x-load")
		b.ReportMetric(float64(load.Milliseconds())/float64(b.N), "load-ms/op")
	}
}
