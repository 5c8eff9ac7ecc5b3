package table

import (
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	lrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/trellis-mesh/trellis/proxy/stats"
	"github.com/trellis-mesh/trellis/proxy/upstream"
)

// TestRateLimitPerMinute checks the bucket the native adapter renders for requestsPerMinute
// (fill_interval 60s) by token counts, moving the bucket's last fill back instead of sleeping:
// no refill before a whole minute, tokensPerFill after each minute, never more than max_tokens.
func TestRateLimitPerMinute(t *testing.T) {
	full := &typev3.FractionalPercent{Numerator: 100, Denominator: typev3.FractionalPercent_HUNDRED}
	compile := func(maxTokens, perFill uint32) *RateLimit {
		t.Helper()
		rl, err := NewBuilder(upstream.NewManager(nil), stats.NewRegistry(), nil).compileRateLimit("inbound", &lrlv3.LocalRateLimit{
			StatPrefix: "http_local_rate_limiter",
			TokenBucket: &typev3.TokenBucket{
				MaxTokens: maxTokens, TokensPerFill: wrapperspb.UInt32(perFill), FillInterval: durationpb.New(time.Minute),
			},
			FilterEnabled:  &corev3.RuntimeFractionalPercent{DefaultValue: full},
			FilterEnforced: &corev3.RuntimeFractionalPercent{DefaultValue: full},
		})
		if err != nil {
			t.Fatal(err)
		}
		return rl
	}
	allowed := func(rl *RateLimit, tries int) int {
		n := 0
		for range tries {
			if rl.Allow() {
				n++
			}
		}
		return n
	}
	back := func(rl *RateLimit, d time.Duration) {
		rl.bucket.mu.Lock()
		rl.bucket.last = rl.bucket.last.Add(-d)
		rl.bucket.mu.Unlock()
	}

	// requestsPerMinute: 30 (burst defaults to 30).
	rl := compile(30, 30)
	if got := allowed(rl, 100); got != 30 {
		t.Fatalf("first minute: %d of 100 allowed, want the bucket's 30", got)
	}
	back(rl, 59*time.Second)
	if got := allowed(rl, 10); got != 0 {
		t.Errorf("after 59s: %d allowed, want 0 (the bucket refills once a minute)", got)
	}
	back(rl, time.Second)
	if got := allowed(rl, 100); got != 30 {
		t.Errorf("after a minute: %d of 100 allowed, want 30", got)
	}
	back(rl, 3*time.Minute)
	if got := allowed(rl, 100); got != 30 {
		t.Errorf("after three idle minutes: %d of 100 allowed, want 30 (never more than max_tokens)", got)
	}

	// requestsPerMinute: 30, burst 5 (the shared rate-limit-per-minute case): 5 at once.
	rl = compile(5, 30)
	if got := allowed(rl, 10); got != 5 {
		t.Errorf("burst: %d of 10 allowed, want 5", got)
	}
	back(rl, time.Minute)
	if got := allowed(rl, 10); got != 5 {
		t.Errorf("burst after a minute: %d of 10 allowed, want 5", got)
	}
}
