package linkerd_test

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// TestRateLimitPerMinute checks requestsPerMinute against HTTPLocalRateLimitPolicy, whose
// total.requestsPerSecond is an integer: multiples of 60 are exact, anything else rounds up to
// the nearest whole requests per second (more permissive, never rejecting what the design
// allows) with a warning naming the field and what is lost.
//
// Round-trip normalisation (documented loss): import(translate(d)) gives requestsPerSecond, the
// policy's only unit, with the policy's bucket (no burst): requestsPerMinute 30 comes back as
// requestsPerSecond 1, requestsPerMinute 120 as requestsPerSecond 2.
func TestRateLimitPerMinute(t *testing.T) {
	for _, tc := range []struct {
		perMinute, burst int32
		wantRPS          int64
		warnings         []string // path suffix: message part
	}{
		{perMinute: 30, burst: 5, wantRPS: 1, warnings: []string{
			"rateLimit.burst: the bucket holds 1 requests per second, not a burst of 5",
			"rateLimit.requestsPerMinute: 30 per minute is enforced as 1 per second (60 per minute), a looser limit",
		}},
		{perMinute: 1, burst: 1, wantRPS: 1, warnings: []string{
			"rateLimit.requestsPerMinute: 1 per minute is enforced as 1 per second (60 per minute)",
		}},
		{perMinute: 90, burst: 2, wantRPS: 2, warnings: []string{
			"rateLimit.requestsPerMinute: 90 per minute is enforced as 2 per second (120 per minute)",
		}},
		{perMinute: 120, burst: 2, wantRPS: 2},
	} {
		name := fmt.Sprintf("%d per minute, burst %d", tc.perMinute, tc.burst)
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
		objs, ws := translate(t, ds[0], adapters.Options{})
		var got []string
		for _, w := range ws {
			if w.Feature != adapters.FeatureRateLimit {
				continue
			}
			if w.Severity != adapters.SeverityWarning || w.Mesh != "linkerd" {
				t.Errorf("%s: warning %s: want severity warning from linkerd", name, w)
			}
			got = append(got, strings.TrimPrefix(w.Path, "spec.traffic[0].resilience.")+": "+w.Lost)
		}
		if len(got) != len(tc.warnings) {
			t.Errorf("%s: rate-limit warnings %q, want %d", name, got, len(tc.warnings))
		}
		for i := 0; i < len(got) && i < len(tc.warnings); i++ {
			want := strings.SplitN(tc.warnings[i], ": ", 2)
			if !strings.HasPrefix(got[i], want[0]+": ") || !strings.Contains(got[i], want[1]) {
				t.Errorf("%s: warning %q, want %q", name, got[i], tc.warnings[i])
			}
		}
		pol := find(objs, "policy.linkerd.io/v1alpha1", "HTTPLocalRateLimitPolicy", "demo", "api-http")
		if pol == nil {
			t.Fatalf("%s: no HTTPLocalRateLimitPolicy demo/api-http", name)
		}
		if rps, _, _ := unstructured.NestedInt64(pol.Object, "spec", "total", "requestsPerSecond"); rps != tc.wantRPS {
			t.Errorf("%s: total.requestsPerSecond %d, want %d", name, rps, tc.wantRPS)
		}
		back, _ := importObjects(t, objs)
		if len(back.Spec.Traffic) != 1 || back.Spec.Traffic[0].Resilience == nil || back.Spec.Traffic[0].Resilience.RateLimit == nil ||
			*back.Spec.Traffic[0].Resilience.RateLimit != (spec.RateLimit{RequestsPerSecond: int32(tc.wantRPS)}) {
			t.Errorf("%s: imported %+v, want requestsPerSecond %d (the documented normalisation)", name, back.Spec.Traffic, tc.wantRPS)
		}
	}
}
