package perf_test

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/perf"
	"github.com/trellis-mesh/trellis/spec"
)

// BenchmarkMeshOverhead measures the bundled mesh's overhead as ratios to a direct baseline
// measured in the same iteration (2,000 req/s, 16 connections, 2 s per configuration):
// x-direct-1proxy / x-direct-2proxies are throughput ratios, added-p50/p99-ms the added latency.
//
//	go test -run '^$' -bench MeshOverhead ./perf/
func BenchmarkMeshOverhead(b *testing.B) {
	designs, err := spec.LoadBytes("shop.yaml", []byte(shopDesign))
	if err != nil {
		b.Fatal(err)
	}
	var last *perf.MeshResult
	for b.Loop() {
		last, err = perf.RunMesh(context.Background(), perf.MeshOptions{
			Designs: designs, Service: "reviews", From: "frontend",
			Profile: perf.Profile{QPS: 2000, Connections: 16, Duration: 2 * time.Second},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	rows := last.Comparison.Rows
	b.ReportMetric(rows[1].Throughput, "x-direct-1proxy")
	b.ReportMetric(rows[2].Throughput, "x-direct-2proxies")
	b.ReportMetric(rows[1].AddedP50, "added-p50-ms-1proxy")
	b.ReportMetric(rows[2].AddedP50, "added-p50-ms-2proxies")
	b.ReportMetric(rows[2].AddedP99, "added-p99-ms-2proxies")
	b.ReportMetric(last.Results[0].Environment.OtherTenantsPercent, "other-cpu-%")
}
