package spec_test

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/spectest"
)

// The load benchmarks compare spec.LoadBytes (parse with positions, decode, default, validate)
// with a plain yaml.v3 decode of the same bytes into `any`, the baseline. Target: ratio ≤ 4.
//
//	go test ./spec -run '^$' -bench 'Load|YAMLDecode' -benchmem

var bench1000 = spectest.Generate(1000)

func loadOnce(b *testing.B) {
	ds, err := spec.LoadBytes("bench.yaml", bench1000)
	if err != nil || len(ds) != 1 {
		b.Fatal(err)
	}
}

func decodeOnce(b *testing.B) {
	var v any
	if err := yaml.Unmarshal(bench1000, &v); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLoadValidate1000 loads, defaults and validates a 1,000-service design.
func BenchmarkLoadValidate1000(b *testing.B) {
	b.SetBytes(int64(len(bench1000)))
	b.ReportAllocs()
	for b.Loop() {
		loadOnce(b)
	}
}

// BenchmarkYAMLDecode1000 is the baseline: yaml.v3 decoding the same bytes into any.
func BenchmarkYAMLDecode1000(b *testing.B) {
	b.SetBytes(int64(len(bench1000)))
	b.ReportAllocs()
	for b.Loop() {
		decodeOnce(b)
	}
}

// BenchmarkLoadRatio1000 runs both in the same process, interleaved, and reports
// load-ns/decode-ns as "ratio" (target ≤ 4).
func BenchmarkLoadRatio1000(b *testing.B) {
	var load, dec time.Duration
	for b.Loop() {
		t0 := time.Now()
		loadOnce(b)
		t1 := time.Now()
		decodeOnce(b)
		load += t1.Sub(t0)
		dec += time.Since(t1)
	}
	b.ReportMetric(float64(load)/float64(dec), "ratio")
	b.ReportMetric(float64(load.Nanoseconds())/float64(b.N), "load-ns/op")
	b.ReportMetric(float64(dec.Nanoseconds())/float64(b.N), "decode-ns/op")
}
