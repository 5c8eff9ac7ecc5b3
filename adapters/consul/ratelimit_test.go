package consul_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/consul"
	"github.com/trellis-mesh/trellis/spec"
)

// TestRateLimitPerMinute checks requestsPerMinute against Consul's integer
// rateLimits.instanceLevel.requestsPerSecond (consul-k8s CRD: type integer; config entry API: int):
// multiples of 60 translate exactly, other rates round up to whole requests per second with a
// warning, and import reads the integer back as requestsPerSecond (the documented normalisation:
// 30 per minute round-trips as 1 per second).
func TestRateLimitPerMinute(t *testing.T) {
	a := consul.New()
	ctx := context.Background()
	for _, tc := range []struct {
		perMinute, burst int32
		wantRPS, wantMax int64
		lossy            bool
		back             spec.RateLimit // the imported rate limit
	}{
		{perMinute: 120, wantRPS: 2, wantMax: 120, back: spec.RateLimit{RequestsPerSecond: 2, Burst: 120}},
		{perMinute: 30, burst: 5, wantRPS: 1, wantMax: 5, lossy: true, back: spec.RateLimit{RequestsPerSecond: 1, Burst: 5}},
		{perMinute: 1, wantRPS: 1, wantMax: 1, lossy: true, back: spec.RateLimit{RequestsPerSecond: 1}},
		{perMinute: 61, wantRPS: 2, wantMax: 61, lossy: true, back: spec.RateLimit{RequestsPerSecond: 2, Burst: 61}},
	} {
		for _, format := range []string{consul.FormatCRD, consul.FormatConfigEntry} {
			name := fmt.Sprintf("%s/%d per minute", format, tc.perMinute)
			ds, err := spec.LoadBytes("d.yaml", fmt.Appendf(nil, `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: rl, namespace: demo}
spec:
  services: [{name: api}]
  traffic:
    - service: api
      resilience: {rateLimit: {requestsPerMinute: %d, burst: %d}}
`, tc.perMinute, tc.burst))
			if err != nil {
				t.Fatal(err)
			}
			out, ws, err := a.Translate(ctx, ds[0], adapters.Options{ConsulFormat: format})
			if err != nil {
				t.Fatal(err)
			}
			var lossy []adapters.Warning
			for _, w := range ws {
				if strings.HasSuffix(w.Path, ".requestsPerMinute") {
					lossy = append(lossy, w)
				}
			}
			switch {
			case tc.lossy && (len(lossy) != 1 || lossy[0].Feature != adapters.FeatureRateLimit || lossy[0].Severity != adapters.SeverityWarning ||
				!strings.Contains(lossy[0].Lost, fmt.Sprintf("%d per minute is enforced as %d per second", tc.perMinute, tc.wantRPS))):
				t.Errorf("%s: warnings %v, want one rate-limit warning at spec.traffic[0].resilience.rateLimit.requestsPerMinute", name, lossy)
			case !tc.lossy && len(lossy) > 0:
				t.Errorf("%s: unexpected warnings %v", name, lossy)
			}
			var rl map[string]any
			for _, o := range out.Objects {
				if m, ok, _ := unstructured.NestedMap(o.Object, "spec", "rateLimits", "instanceLevel"); ok {
					rl = m
				} else if m, ok, _ := unstructured.NestedMap(o.Object, "RateLimits", "InstanceLevel"); ok {
					rl = m
				}
			}
			rps, max := rl["requestsPerSecond"], rl["requestsMaxBurst"]
			if format == consul.FormatConfigEntry {
				rps, max = rl["RequestsPerSecond"], rl["RequestsMaxBurst"]
			}
			if rps != tc.wantRPS || max != tc.wantMax {
				t.Errorf("%s: instanceLevel %v, want requestsPerSecond %d, requestsMaxBurst %d", name, rl, tc.wantRPS, tc.wantMax)
			}
			back, _, err := a.Import(ctx, out.Objects, adapters.ImportOptions{Name: "rl", Namespace: "demo"})
			if err != nil {
				t.Fatal(err)
			}
			if len(back.Spec.Traffic) != 1 || back.Spec.Traffic[0].Resilience == nil || back.Spec.Traffic[0].Resilience.RateLimit == nil ||
				*back.Spec.Traffic[0].Resilience.RateLimit != tc.back {
				t.Errorf("%s: imported %+v, want rate limit %+v", name, back.Spec.Traffic, tc.back)
			}
		}
	}
}

// TestImportFractionalRate checks hand-written fractional rates: a whole number per minute is
// imported exactly as requestsPerMinute, anything else rounds up to whole requests per second
// with a warning, and a missing rate is reported instead of producing an invalid design.
func TestImportFractionalRate(t *testing.T) {
	for _, tc := range []struct {
		rps, burst any
		want       *spec.RateLimit
		warning    string
	}{
		{0.5, int64(30), &spec.RateLimit{RequestsPerMinute: 30}, ""},
		{0.5, int64(4), &spec.RateLimit{RequestsPerMinute: 30, Burst: 4}, ""},
		{0.3, int64(18), &spec.RateLimit{RequestsPerMinute: 18}, ""},
		{1.5, int64(90), &spec.RateLimit{RequestsPerMinute: 90}, ""},
		{0.001, int64(1), &spec.RateLimit{RequestsPerSecond: 1}, "0.001 requests per second is neither a whole number per second nor per minute: imported as 1 per second"},
		{int64(3), int64(3), &spec.RateLimit{RequestsPerSecond: 3}, ""},
		{nil, int64(3), nil, "is not a positive rate: the rate limit is not imported"},
	} {
		objs := []*unstructured.Unstructured{{Object: map[string]any{
			"Kind": "service-defaults", "Name": "api", "Protocol": "http",
			"RateLimits": map[string]any{"InstanceLevel": map[string]any{"RequestsPerSecond": tc.rps, "RequestsMaxBurst": tc.burst}},
		}}}
		d, ws, err := consul.New().Import(context.Background(), objs, adapters.ImportOptions{Name: "imp"})
		if err != nil {
			t.Fatal(err)
		}
		var got *spec.RateLimit
		if len(d.Spec.Traffic) == 1 && d.Spec.Traffic[0].Resilience != nil {
			got = d.Spec.Traffic[0].Resilience.RateLimit
		}
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("%v per second: imported %+v, want %+v", tc.rps, got, tc.want)
		}
		var rlWarnings []string
		for _, w := range ws {
			if w.Feature == adapters.FeatureRateLimit {
				rlWarnings = append(rlWarnings, w.Lost)
			}
		}
		switch {
		case tc.warning == "" && len(rlWarnings) > 0:
			t.Errorf("%v per second: unexpected warnings %q", tc.rps, rlWarnings)
		case tc.warning != "" && (len(rlWarnings) != 1 || !strings.Contains(rlWarnings[0], tc.warning)):
			t.Errorf("%v per second: warnings %q, want one containing %q", tc.rps, rlWarnings, tc.warning)
		}
		d.Default()
		if vs := d.Validate(); len(vs) > 0 {
			t.Errorf("%v per second: imported design is invalid: %v", tc.rps, vs)
		}
	}
}
