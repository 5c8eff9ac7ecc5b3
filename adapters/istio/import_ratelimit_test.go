package istio_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/istio"
	"github.com/trellis-mesh/trellis/spec"
)

// TestImportRateLimitFillIntervals checks how an EnvoyFilter token bucket becomes a design rate:
// a whole number per second as requestsPerSecond, else a whole number per minute (Istio's task:
// 4 every 60s) as requestsPerMinute, both exact and without a warning; anything else rounds up
// to whole requests per second with a lossy warning.
func TestImportRateLimitFillIntervals(t *testing.T) {
	for _, tc := range []struct {
		tokens   int
		fill     string
		want     spec.RateLimit
		lossyMsg string
	}{
		{4, "60s", spec.RateLimit{RequestsPerMinute: 4, Burst: 9}, ""},
		{4, "1m", spec.RateLimit{RequestsPerMinute: 4, Burst: 9}, ""},
		{1, "30s", spec.RateLimit{RequestsPerMinute: 2, Burst: 9}, ""},
		{90, "60s", spec.RateLimit{RequestsPerMinute: 90, Burst: 9}, ""},
		{120, "60s", spec.RateLimit{RequestsPerSecond: 2, Burst: 9}, ""},
		{1, "500ms", spec.RateLimit{RequestsPerSecond: 2, Burst: 9}, ""},
		{100, "1s", spec.RateLimit{RequestsPerSecond: 100, Burst: 9}, ""},
		{60, "1h", spec.RateLimit{RequestsPerMinute: 1, Burst: 9}, ""},
		{1, "7s", spec.RateLimit{RequestsPerSecond: 1, Burst: 9}, "1 requests every 7s (0.143 per second) is imported as 1 per second"},
		{1, "1h", spec.RateLimit{RequestsPerSecond: 1, Burst: 9}, "1 requests every 1h (0.000278 per second) is imported as 1 per second"},
		{3, "2s", spec.RateLimit{RequestsPerMinute: 90, Burst: 9}, ""},
	} {
		name := fmt.Sprintf("%d per %s", tc.tokens, tc.fill)
		objs, err := adaptertest.ParseObjects(fmt.Appendf(nil, `
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: api-local-ratelimit, namespace: shop}
spec:
  workloadSelector: {labels: {app: api}}
  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          stat_prefix: http_local_rate_limiter
          token_bucket: {max_tokens: 9, tokens_per_fill: %d, fill_interval: %s}
`, tc.tokens, tc.fill))
		if err != nil {
			t.Fatal(err)
		}
		d, ws, err := istio.New().Import(context.Background(), objs, adapters.ImportOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var lossy []string
		for _, w := range ws {
			if w.Feature == adapters.FeatureRateLimit {
				lossy = append(lossy, w.Lost)
			}
		}
		switch {
		case tc.lossyMsg == "" && len(lossy) > 0:
			t.Errorf("%s: unexpected rate-limit warnings %q", name, lossy)
		case tc.lossyMsg != "" && (len(lossy) != 1 || !strings.Contains(lossy[0], tc.lossyMsg)):
			t.Errorf("%s: warnings %q, want one containing %q", name, lossy, tc.lossyMsg)
		}
		if len(d.Spec.Traffic) != 1 || d.Spec.Traffic[0].Resilience == nil || d.Spec.Traffic[0].Resilience.RateLimit == nil {
			t.Errorf("%s: no rate limit imported: %+v", name, d.Spec.Traffic)
			continue
		}
		if got := *d.Spec.Traffic[0].Resilience.RateLimit; got != tc.want {
			t.Errorf("%s: rate limit %+v, want %+v", name, got, tc.want)
		}
		if vs := d.Validate(); len(vs) > 0 {
			t.Errorf("%s: imported design is invalid: %v", name, vs)
		}
	}
}
