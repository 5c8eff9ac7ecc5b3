package spec

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// TestRateLimitTokenBucket checks the Envoy token bucket of a rate limit: the designed rate is
// the sustained rate (tokensPerFill/fill) whatever the burst, tokensPerFill never exceeds the
// bucket, the fill is at least 50ms in whole milliseconds, and where no exact bucket exists the
// rendering is the fastest one that never exceeds the rate.
func TestRateLimitTokenBucket(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        RateLimit
		maxTokens int32
		perFill   int32
		fill      time.Duration
		exact     bool
	}{
		// A burst holding the count keeps the plain bucket (today's rendering).
		{"rps, default burst", RateLimit{RequestsPerSecond: 50}, 50, 50, time.Second, true},
		{"rps, burst equal", RateLimit{RequestsPerSecond: 500, Burst: 500}, 500, 500, time.Second, true},
		{"rps, burst above", RateLimit{RequestsPerSecond: 10, Burst: 40}, 40, 10, time.Second, true},
		{"rpm, default burst", RateLimit{RequestsPerMinute: 4}, 4, 4, time.Minute, true},
		{"rpm, burst above", RateLimit{RequestsPerMinute: 30, Burst: 60}, 60, 30, time.Minute, true},
		// A smaller burst refills the smallest exact step of at least 50ms.
		{"100 rps, burst 20", RateLimit{RequestsPerSecond: 100, Burst: 20}, 20, 5, 50 * time.Millisecond, true},
		{"200 rps, burst 50", RateLimit{RequestsPerSecond: 200, Burst: 50}, 50, 10, 50 * time.Millisecond, true},
		{"30 rpm, burst 5", RateLimit{RequestsPerMinute: 30, Burst: 5}, 5, 1, 2 * time.Second, true},
		{"8 rps, burst 1", RateLimit{RequestsPerSecond: 8, Burst: 1}, 1, 1, 125 * time.Millisecond, true},
		{"4 rps, burst 2", RateLimit{RequestsPerSecond: 4, Burst: 2}, 2, 1, 250 * time.Millisecond, true},
		{"20 rps, burst 1", RateLimit{RequestsPerSecond: 20, Burst: 1}, 1, 1, 50 * time.Millisecond, true},
		{"1000 rps, burst 50", RateLimit{RequestsPerSecond: 1000, Burst: 50}, 50, 50, 50 * time.Millisecond, true},
		{"60 rpm, burst 1", RateLimit{RequestsPerMinute: 60, Burst: 1}, 1, 1, time.Second, true},
		{"1200 rpm, burst 1", RateLimit{RequestsPerMinute: 1200, Burst: 1}, 1, 1, 50 * time.Millisecond, true},
		// No exact bucket: the fastest that never exceeds the rate.
		{"1000 rps, burst 10", RateLimit{RequestsPerSecond: 1000, Burst: 10}, 10, 10, 50 * time.Millisecond, false},
		{"23 rps, burst 1", RateLimit{RequestsPerSecond: 23, Burst: 1}, 1, 1, 50 * time.Millisecond, false},
		{"101 rps, burst 10", RateLimit{RequestsPerSecond: 101, Burst: 10}, 10, 5, 50 * time.Millisecond, false},
		{"7 rps, burst 1", RateLimit{RequestsPerSecond: 7, Burst: 1}, 1, 1, 143 * time.Millisecond, false},
		{"3 rps, burst 2", RateLimit{RequestsPerSecond: 3, Burst: 2}, 2, 2, 667 * time.Millisecond, false},
		{"59 rpm, burst 1", RateLimit{RequestsPerMinute: 59, Burst: 1}, 1, 1, 1017 * time.Millisecond, false},
		{"7 rpm, burst 2", RateLimit{RequestsPerMinute: 7, Burst: 2}, 2, 2, 17143 * time.Millisecond, false},
		{"max rps, burst 1", RateLimit{RequestsPerSecond: math.MaxInt32, Burst: 1}, 1, 1, 50 * time.Millisecond, false},
		// No rate: nothing to render.
		{"no rate", RateLimit{Burst: 3}, 0, 0, 0, false},
	} {
		maxTokens, perFill, fill, exact := tc.in.TokenBucket()
		if maxTokens != tc.maxTokens || perFill != tc.perFill || fill != tc.fill || exact != tc.exact {
			t.Errorf("%s: bucket %d, %d every %v, exact %v; want %d, %d every %v, exact %v",
				tc.name, maxTokens, perFill, fill, exact, tc.maxTokens, tc.perFill, tc.fill, tc.exact)
		}
		if tc.in.Count() > 0 {
			checkBucket(t, tc.name, tc.in, maxTokens, perFill, fill, exact)
		}
	}
}

// TestRateLimitTokenBucketSweep checks every per-second rate up to 400 and every per-minute rate
// up to 90 with every burst below the count against the bucket invariants, and that a bucket is
// reported exact exactly when some fill of 50ms or more (whole milliseconds) carries the rate
// with at most burst tokens (found here by brute force).
func TestRateLimitTokenBucketSweep(t *testing.T) {
	for _, unit := range []time.Duration{time.Second, time.Minute} {
		top := int32(400)
		if unit == time.Minute {
			top = 90
		}
		for count := int32(1); count <= top; count++ {
			for burst := int32(1); burst < count; burst++ {
				rl := RateLimit{RequestsPerSecond: count, Burst: burst}
				if unit == time.Minute {
					rl = RateLimit{RequestsPerMinute: count, Burst: burst}
				}
				maxTokens, perFill, fill, exact := rl.TokenBucket()
				name := fmt.Sprintf("%d per %v, burst %d", count, unit, burst)
				if !checkBucket(t, name, rl, maxTokens, perFill, fill, exact) {
					return
				}
				wantExact := false
				u := unit.Milliseconds()
				for f := MinFillInterval.Milliseconds(); f <= u && !wantExact; f++ {
					wantExact = int64(count)*f%u == 0 && int64(count)*f/u <= int64(burst)
				}
				if exact != wantExact {
					t.Fatalf("%s: exact %v, brute force says %v", name, exact, wantExact)
				}
			}
		}
	}
}

// checkBucket asserts the invariants of a rendered bucket: the burst is the bucket size, a refill
// fits the bucket, the fill is at least 50ms in whole milliseconds, the sustained rate never
// exceeds the designed one and equals it when exact, and an inexact bucket is the fastest one
// (every fill from 50ms to the rate's interval with the most tokens that fit).
func checkBucket(t *testing.T, name string, rl RateLimit, maxTokens, perFill int32, fill time.Duration, exact bool) bool {
	t.Helper()
	count, unit := int64(rl.Count()), rl.Interval().Milliseconds()
	burst := int64(rl.Burst)
	if burst == 0 {
		burst = count
	}
	ms := fill.Milliseconds()
	switch {
	case int64(maxTokens) != burst:
		t.Errorf("%s: max_tokens %d, want the burst %d", name, maxTokens, burst)
	case perFill < 1 || (perFill > maxTokens && burst < count):
		t.Errorf("%s: tokens_per_fill %d outside 1..max_tokens %d", name, perFill, maxTokens)
	case fill < MinFillInterval || fill%time.Millisecond != 0:
		t.Errorf("%s: fill_interval %v is not whole milliseconds of at least 50ms", name, fill)
	case int64(perFill)*unit > count*ms:
		t.Errorf("%s: %d every %v exceeds the designed %d per %v", name, perFill, fill, count, rl.Interval())
	case exact != (int64(perFill)*unit == count*ms):
		t.Errorf("%s: exact %v but %d every %v against %d per %v", name, exact, perFill, fill, count, rl.Interval())
	default:
		if exact {
			return true
		}
		for f := MinFillInterval.Milliseconds(); f <= unit; f++ {
			tok := min(burst, count*f/unit)
			if tok*ms > int64(perFill)*f {
				t.Errorf("%s: %d every %dms is faster than %d every %v and within the rate", name, tok, f, perFill, fill)
				return false
			}
		}
		return true
	}
	return false
}
