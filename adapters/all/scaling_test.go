package all_test

import (
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// BenchmarkScaling translates generated designs of 500 and 2,000 services with every adapter and
// imports the output back with every importer, and reports each time ratio (4 when linear: four
// times the services). It guards the quadratic shapes found before: the native adapter building
// a whole snapshot per service, the Istio importer scanning every traffic policy per
// VirtualService and every service per principal, the Linkerd importer scanning every Server per
// versioned service and every service per identity. The loop does nothing; read the metrics.
func BenchmarkScaling(b *testing.B) {
	ctx := b.Context()
	best := func(f func()) time.Duration {
		var m time.Duration
		for range 2 {
			t0 := time.Now()
			f()
			if d := time.Since(t0); m == 0 || d < m {
				m = d
			}
		}
		return m
	}
	type result struct{ translate, imp [2]time.Duration }
	results := map[string]*result{}
	for i, n := range []int{500, 2000} {
		d := spectest.Design(n)
		for _, name := range adapters.Names() {
			a, err := adapters.Lookup(name)
			if err != nil {
				b.Fatal(err)
			}
			r := results[a.Name()]
			if r == nil {
				r = &result{}
				results[a.Name()] = r
			}
			var out *adapters.Output
			r.translate[i] = best(func() {
				o, _, err := adapters.Translate(ctx, a, d, adapters.Options{})
				if err != nil {
					b.Fatal(err)
				}
				out = o
			})
			if im, ok := a.(adapters.Importer); ok {
				r.imp[i] = best(func() {
					if _, _, err := im.Import(ctx, out.Objects, adapters.ImportOptions{}); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
	}
	for name, r := range results {
		b.ReportMetric(float64(r.translate[1])/float64(r.translate[0]), "translate-"+name+"-2000/500")
		if r.imp[0] > 0 {
			b.ReportMetric(float64(r.imp[1])/float64(r.imp[0]), "import-"+name+"-2000/500")
		}
	}
}
