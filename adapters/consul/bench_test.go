package consul_test

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/consul"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// The translation budget is at most the cost of loading the same design (parse, default,
// validate). Run:
//
//	go test ./adapters/consul -run '^$' -bench 'Consul1000' -benchmem

var (
	benchYAML   = spectest.Generate(1000)
	benchDesign = spectest.Design(1000)
)

func translateOnce(b *testing.B, format string) {
	out, _, err := consul.New().Translate(context.Background(), benchDesign, adapters.Options{ConsulFormat: format})
	if err != nil || len(out.Objects) == 0 {
		b.Fatalf("translate: %v", err)
	}
}

func loadOnce(b *testing.B) {
	if _, err := spec.LoadBytes("bench.yaml", benchYAML); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTranslateConsul1000 translates a 1,000-service design to consul-k8s resources and
// reports the time relative to loading the design, measured interleaved in the same run
// ("x-load", budget ≤ 1).
func BenchmarkTranslateConsul1000(b *testing.B) {
	benchRatio(b, consul.FormatCRD)
}

// BenchmarkTranslateConsulConfigEntries1000 is the same for the config-entry form.
func BenchmarkTranslateConsulConfigEntries1000(b *testing.B) {
	benchRatio(b, consul.FormatConfigEntry)
}

func benchRatio(b *testing.B, format string) {
	b.ReportAllocs()
	var tr, load time.Duration
	for b.Loop() {
		t0 := time.Now()
		translateOnce(b, format)
		t1 := time.Now()
		loadOnce(b)
		tr += t1.Sub(t0)
		load += time.Since(t1)
	}
	b.ReportMetric(float64(tr)/float64(load), "x-load")
	b.ReportMetric(float64(tr.Nanoseconds())/float64(b.N), "translate-ns/op")
	b.ReportMetric(float64(load.Nanoseconds())/float64(b.N), "load-ns/op")
}
