package istio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/adaptertest"
	"github.com/trellis-mesh/trellis/adapters/istio"
	"github.com/trellis-mesh/trellis/spec"
)

// TestImportRateLimitFillIntervals checks how an EnvoyFilter token bucket becomes a design rate:
// a whole number per second as requestsPerSecond, else a whole number per minute (Istio's task:
// 4 every 60s) as requestsPerMinute, both exact and without a warning; anything else rounds up
// to whole requests per second with a lossy warning. A refill above max_tokens is read as the
// continuous-refill rate with a warning naming what older timer-based Envoy enforced.
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
		{90, "60s", spec.RateLimit{RequestsPerMinute: 90, Burst: 9}, "tokens_per_fill 90 exceeds max_tokens 9: imported as the rate Envoy's continuous refill enforces (90 every 60s), with burst 9"},
		{120, "60s", spec.RateLimit{RequestsPerSecond: 2, Burst: 9}, "tokens_per_fill 120 exceeds max_tokens 9"},
		{1, "500ms", spec.RateLimit{RequestsPerSecond: 2, Burst: 9}, ""},
		{100, "1s", spec.RateLimit{RequestsPerSecond: 100, Burst: 9}, "enforced only 9 every 1s"},
		{60, "1h", spec.RateLimit{RequestsPerMinute: 1, Burst: 9}, "enforced only 9 every 1h"},
		{1, "7s", spec.RateLimit{RequestsPerSecond: 1, Burst: 9}, "1 requests every 7s (0.143 per second) is imported as 1 per second"},
		{1, "1h", spec.RateLimit{RequestsPerSecond: 1, Burst: 9}, "1 requests every 1h (0.000278 per second) is imported as 1 per second"},
		{3, "2s", spec.RateLimit{RequestsPerMinute: 90, Burst: 9}, ""},
		{5, "0.050s", spec.RateLimit{RequestsPerSecond: 100, Burst: 9}, ""},
		{1, "2s", spec.RateLimit{RequestsPerMinute: 30, Burst: 9}, ""},
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

// TestRateLimitBurstBelowRate checks the EnvoyFilter bucket of a burst below the rate's count:
// the refill never exceeds the burst (Envoy cuts a refill to max_tokens), the sustained rate is
// the designed one, and import reads the design back; where no exact bucket exists the
// translation warns and renders the fastest bucket that stays under the rate.
func TestRateLimitBurstBelowRate(t *testing.T) {
	for _, tc := range []struct {
		in          spec.RateLimit
		maxTokens   int64
		perFill     int64
		fill        string
		lossy       string
		roundTrip   bool
		importedRPS int32
	}{
		{spec.RateLimit{RequestsPerSecond: 100, Burst: 20}, 20, 5, "0.050s", "", true, 0},
		{spec.RateLimit{RequestsPerSecond: 200, Burst: 50}, 50, 10, "0.050s", "", true, 0},
		{spec.RateLimit{RequestsPerMinute: 30, Burst: 5}, 5, 1, "2s", "", true, 0},
		{spec.RateLimit{RequestsPerSecond: 8, Burst: 1}, 1, 1, "0.125s", "", true, 0},
		{spec.RateLimit{RequestsPerSecond: 100, Burst: 100}, 100, 100, "1s", "", true, 0},
		{spec.RateLimit{RequestsPerSecond: 1000, Burst: 10}, 10, 10, "0.050s",
			"no token bucket carries 1000 per second exactly, enforced as 10 every 0.050s (200 per second)", false, 200},
		{spec.RateLimit{RequestsPerSecond: 3, Burst: 2}, 2, 2, "0.667s",
			"no token bucket carries 3 per second exactly, enforced as 2 every 0.667s (2.9985 per second)", false, 3},
	} {
		name := fmt.Sprintf("%+v", tc.in)
		rl := tc.in
		d := &spec.Design{APIVersion: spec.APIVersion, Kind: spec.Kind, Metadata: spec.Metadata{Name: "rl", Namespace: "shop"},
			Spec: spec.DesignSpec{
				Services: []spec.Service{{Name: "api", Ports: []spec.Port{{Port: 8080}}}},
				Traffic:  []spec.TrafficPolicy{{Service: "api", Resilience: &spec.Resilience{RateLimit: &rl}}},
			}}
		d.Default()
		if vs := d.Validate(); len(vs) > 0 {
			t.Fatalf("%s: invalid design: %v", name, vs)
		}
		out, ws, err := adapters.Translate(context.Background(), istio.New(), d, adapters.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var lossy []string
		for _, w := range ws {
			if w.Path == "spec.traffic[0].resilience.rateLimit.burst" {
				lossy = append(lossy, w.Lost)
			}
		}
		switch {
		case tc.lossy == "" && len(lossy) > 0:
			t.Errorf("%s: unexpected warnings %q", name, lossy)
		case tc.lossy != "" && (len(lossy) != 1 || !strings.Contains(lossy[0], tc.lossy)):
			t.Errorf("%s: warnings %q, want one containing %q", name, lossy, tc.lossy)
		}
		var tb map[string]any
		for _, o := range out.Objects {
			if o.GetKind() == "EnvoyFilter" {
				patches, _, _ := unstructured.NestedSlice(o.Object, "spec", "configPatches")
				tb, _, _ = unstructured.NestedMap(patches[0].(map[string]any), "patch", "value", "typed_config", "token_bucket")
			}
		}
		if tb["max_tokens"] != tc.maxTokens || tb["tokens_per_fill"] != tc.perFill || tb["fill_interval"] != tc.fill {
			t.Errorf("%s: token bucket %v, want max_tokens %d, tokens_per_fill %d, fill_interval %s", name, tb, tc.maxTokens, tc.perFill, tc.fill)
		}
		// The bucket is what Envoy parses (protobuf JSON) and accepts (its validation rules).
		raw, _ := json.Marshal(tb)
		var pb typev3.TokenBucket
		if err := protojson.Unmarshal(raw, &pb); err != nil {
			t.Errorf("%s: token bucket %s is not protobuf JSON: %v", name, raw, err)
		} else if err := pb.ValidateAll(); err != nil || pb.GetFillInterval().AsDuration() < 50*time.Millisecond {
			t.Errorf("%s: token bucket %s is rejected by Envoy (validation: %v; fill_interval must be >= 50ms)", name, raw, err)
		}
		got, _, err := istio.New().Import(context.Background(), append(out.Objects, kubeServices(d)...), adapters.ImportOptions{Name: "rl", Namespace: "shop"})
		if err != nil {
			t.Fatalf("%s: import: %v", name, err)
		}
		if len(got.Spec.Traffic) != 1 || got.Spec.Traffic[0].Resilience == nil || got.Spec.Traffic[0].Resilience.RateLimit == nil {
			t.Fatalf("%s: no rate limit imported: %+v", name, got.Spec.Traffic)
		}
		imported := *got.Spec.Traffic[0].Resilience.RateLimit
		want := tc.in
		if !tc.roundTrip {
			want = spec.RateLimit{RequestsPerSecond: tc.importedRPS, Burst: tc.in.Burst}
		}
		if imported != want {
			t.Errorf("%s: imported %+v, want %+v", name, imported, want)
		}
	}
}
