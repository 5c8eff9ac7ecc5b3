package controlplane_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// BenchmarkSetDesigns1000x20 pushes a changed 1000-service design to 20 connected nodes (build,
// merge, per-node snapshots, hashing, cache update) and reports the time as a multiple of
// loading the design ("x-load", measured in the same run).
func BenchmarkSetDesigns1000x20(b *testing.B) {
	data := spectest.Generate(1000)
	a := spectest.Design(1000)
	c := spectest.Design(1000)
	c.Spec.Traffic[0].Routes[0].Timeout = spec.Dur(7 * time.Second)
	cp := controlplane.New(controlplane.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for i := 0; i < 20; i++ {
		svc := fmt.Sprintf("svc-%d", i)
		if err := cp.RegisterStream(int64(i+1), node(fmt.Sprintf("%s.shop~v1~%d", svc, i), svc, "v1", fmt.Sprintf("127.0.0.1:%d", 20000+i))); err != nil {
			b.Fatal(err)
		}
	}
	designs := [][]*spec.Design{{a}, {c}}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := cp.SetDesigns(context.Background(), designs[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	b.StopTimer()
	start := time.Now()
	for j := 0; j < 3; j++ {
		if _, err := spec.LoadBytes("generated.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(perOp)/float64(time.Since(start)/3), "x-load")
}
