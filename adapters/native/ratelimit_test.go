package native_test

import (
	"strings"
	"testing"
	"time"

	localrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/native"
	"github.com/trellis-mesh/trellis/spec"
)

// TestRateLimitBucket checks the inbound local rate limit bucket: the refill never exceeds the
// burst and the sustained rate is the designed one; where no exact bucket exists the adapter
// warns on the burst and renders the fastest bucket under the rate.
func TestRateLimitBucket(t *testing.T) {
	for _, tc := range []struct {
		in        spec.RateLimit
		maxTokens uint32
		perFill   uint32
		fill      time.Duration
		lossy     string
	}{
		{spec.RateLimit{RequestsPerSecond: 100, Burst: 20}, 20, 5, 50 * time.Millisecond, ""},
		{spec.RateLimit{RequestsPerMinute: 30, Burst: 5}, 5, 1, 2 * time.Second, ""},
		{spec.RateLimit{RequestsPerSecond: 50}, 50, 50, time.Second, ""},
		{spec.RateLimit{RequestsPerSecond: 1000, Burst: 10}, 10, 10, 50 * time.Millisecond,
			"no token bucket carries 1000 per second exactly, enforced as 10 every 50ms (200 per second)"},
		{spec.RateLimit{RequestsPerMinute: 7, Burst: 2}, 2, 2, 17143 * time.Millisecond,
			"no token bucket carries 7 per minute exactly, enforced as 2 every 17.143s (6.99994 per minute)"},
	} {
		rl := tc.in
		d := &spec.Design{APIVersion: spec.APIVersion, Kind: spec.Kind, Metadata: spec.Metadata{Name: "rl", Namespace: "shop"},
			Spec: spec.DesignSpec{
				Services: []spec.Service{{Name: "api", Ports: []spec.Port{{Port: 8080}}}},
				Traffic:  []spec.TrafficPolicy{{Service: "api", Resilience: &spec.Resilience{RateLimit: &rl}}},
			}}
		d.Default()
		res, ws, err := native.Build(d, adapters.Options{})
		if err != nil {
			t.Fatalf("%+v: %v", tc.in, err)
		}
		var lossy []string
		for _, w := range ws {
			if w.Path == "spec.traffic[0].resilience.rateLimit.burst" && w.Feature == adapters.FeatureRateLimit {
				lossy = append(lossy, w.Lost)
			}
		}
		switch {
		case tc.lossy == "" && len(lossy) > 0:
			t.Errorf("%+v: unexpected warnings %q", tc.in, lossy)
		case tc.lossy != "" && (len(lossy) != 1 || !strings.Contains(lossy[0], tc.lossy)):
			t.Errorf("%+v: warnings %q, want one containing %q", tc.in, lossy, tc.lossy)
		}
		var cfg *localrlv3.LocalRateLimit
		for _, f := range res.Services["api.shop"].HTTPFilters {
			if f.GetName() == native.RateLimitFilter {
				cfg = &localrlv3.LocalRateLimit{}
				if err := f.GetTypedConfig().UnmarshalTo(cfg); err != nil {
					t.Fatal(err)
				}
			}
		}
		tb := cfg.GetTokenBucket()
		if tb.GetMaxTokens() != tc.maxTokens || tb.GetTokensPerFill().GetValue() != tc.perFill || tb.GetFillInterval().AsDuration() != tc.fill {
			t.Errorf("%+v: bucket %v, want max_tokens %d, tokens_per_fill %d, fill_interval %v", tc.in, tb, tc.maxTokens, tc.perFill, tc.fill)
		}
	}
}
