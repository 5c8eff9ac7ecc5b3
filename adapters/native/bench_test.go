package native_test

import (
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/native"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// loadBaseline measures loading (parse + default + validate) the generated design, the baseline
// the translation benchmarks are reported against.
func loadBaseline(b *testing.B, data []byte) time.Duration {
	b.Helper()
	const runs = 3
	start := time.Now()
	for i := 0; i < runs; i++ {
		if _, err := spec.LoadBytes("generated.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / runs
}

// BenchmarkLoad1000 is the baseline: loading a 1000-service design.
func BenchmarkLoad1000(b *testing.B) {
	data := spectest.Generate(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spec.LoadBytes("generated.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildNative1000 builds the design-level xDS resources of a 1000-service design and
// reports the time as a multiple of loading that design ("x-load", measured in the same run).
func BenchmarkBuildNative1000(b *testing.B) {
	data := spectest.Generate(1000)
	d := spectest.Design(1000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := native.Build(d, adapters.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	b.StopTimer()
	b.ReportMetric(float64(perOp)/float64(loadBaseline(b, data)), "x-load")
}

// BenchmarkForNode1000 builds one proxy's snapshot (all 1000 services' routes and clusters, 2000
// endpoints) from prebuilt resources, as the control plane does on every push.
func BenchmarkForNode1000(b *testing.B) {
	data := spectest.Generate(1000)
	res, _, err := native.Build(spectest.Design(1000), adapters.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var eps []native.Endpoint
	for i, key := range res.ServiceKeys() {
		n := native.CanonicalNode(res, key)
		n.ID = key + "~v1~" + key
		n.Version = "v1"
		n.Labels = map[string]string{"version": "v1"}
		n.InboundAddr = "127.0.0.1:" + itoa(10000+i)
		eps = append(eps, n.Endpoint())
	}
	node := native.CanonicalNode(res, res.ServiceKeys()[0])
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := native.ForNode(res, node, eps); err != nil {
			b.Fatal(err)
		}
	}
	perOp := b.Elapsed() / time.Duration(b.N)
	b.StopTimer()
	b.ReportMetric(float64(perOp)/float64(loadBaseline(b, data)), "x-load")
}

func itoa(i int) string {
	s := ""
	for i > 0 {
		s = string(rune('0'+i%10)) + s
		i /= 10
	}
	return s
}

// BenchmarkTranslateScaling renders the resources of 500- and 2,000-service designs (what
// `trellis translate --mesh native` prints) and reports the time ratio, 4 when linear. Rendering
// used to build a whole snapshot per service, every shared cluster included: 12.6× for 4× the
// services.
func BenchmarkTranslateScaling(b *testing.B) {
	a := &native.Adapter{}
	ctx := b.Context()
	measure := func(n int) time.Duration {
		d := spectest.Design(n)
		var best time.Duration
		for range 2 {
			t0 := time.Now()
			if _, _, err := a.Translate(ctx, d, adapters.Options{}); err != nil {
				b.Fatal(err)
			}
			if el := time.Since(t0); best == 0 || el < best {
				best = el
			}
		}
		return best
	}
	small, large := measure(500), measure(2000)
	b.ResetTimer()
	for b.Loop() {
	}
	b.ReportMetric(small.Seconds(), "translate500-s")
	b.ReportMetric(large.Seconds(), "translate2000-s")
	b.ReportMetric(float64(large)/float64(small), "translate2000/translate500")
}
