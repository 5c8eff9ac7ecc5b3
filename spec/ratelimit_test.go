package spec

import (
	"testing"
	"time"
)

// TestRateLimitPerMinute checks the per-minute rate: its default burst, its refill interval, and
// the exactly-one-of rule with its expected value and hint.
func TestRateLimitPerMinute(t *testing.T) {
	ds, err := LoadFile("testdata/cases/rate-limit-per-minute.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rl := ds[0].Spec.Traffic[0].Resilience.RateLimit
	if rl.Count() != 30 || rl.Interval() != time.Minute || rl.Burst != 5 {
		t.Errorf("rate limit = %d per %v, burst %d; want 30 per 1m, burst 5", rl.Count(), rl.Interval(), rl.Burst)
	}

	for _, tc := range []struct {
		name      string
		in        RateLimit
		wantBurst int32
		interval  time.Duration
	}{
		{"per minute, default burst", RateLimit{RequestsPerMinute: 30}, 30, time.Minute},
		{"per second, default burst", RateLimit{RequestsPerSecond: 7}, 7, time.Second},
		{"per minute, explicit burst", RateLimit{RequestsPerMinute: 4, Burst: 1}, 1, time.Minute},
	} {
		d := base()
		rl := tc.in
		d.Spec.Traffic = []TrafficPolicy{{Service: "web", Resilience: &Resilience{RateLimit: &rl}}}
		d.Default()
		if vs := d.Validate(); len(vs) != 0 {
			t.Errorf("%s: unexpected violations %v", tc.name, vs)
		}
		if rl.Burst != tc.wantBurst || rl.Interval() != tc.interval {
			t.Errorf("%s: burst %d per %v, want %d per %v", tc.name, rl.Burst, rl.Interval(), tc.wantBurst, tc.interval)
		}
	}

	for _, tc := range []struct {
		name     string
		in       RateLimit
		path     string
		expected string
		hint     string
	}{
		{"both", RateLimit{RequestsPerSecond: 1, RequestsPerMinute: 60}, "spec.traffic[0].resilience.rateLimit", "exactly one of requestsPerSecond and requestsPerMinute", "remove one of them"},
		{"neither", RateLimit{Burst: 3}, "spec.traffic[0].resilience.rateLimit.requestsPerSecond", "exactly one of requestsPerSecond and requestsPerMinute, positive", ""},
		{"negative per minute", RateLimit{RequestsPerMinute: -5}, "spec.traffic[0].resilience.rateLimit.requestsPerMinute", "a positive number of requests per minute", "use requestsPerMinute for limits below one request per second"},
		{"negative per second", RateLimit{RequestsPerSecond: -5}, "spec.traffic[0].resilience.rateLimit.requestsPerSecond", "a positive number of requests per second", ""},
	} {
		d := base()
		rl := tc.in
		d.Spec.Traffic = []TrafficPolicy{{Service: "web", Resilience: &Resilience{RateLimit: &rl}}}
		vs := d.Validate()
		found := false
		for _, v := range vs {
			if v.Path == tc.path {
				found = true
				if v.Expected != tc.expected || v.Hint != tc.hint {
					t.Errorf("%s: violation %q: expected %q hint %q, want %q and %q", tc.name, v.Message, v.Expected, v.Hint, tc.expected, tc.hint)
				}
			}
		}
		if !found {
			t.Errorf("%s: no violation at %s in %v", tc.name, tc.path, vs)
		}
	}
}
