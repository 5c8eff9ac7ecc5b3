package table

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	lrlv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
)

// PeerIdentityHeader is never trusted from the wire: both listeners remove it from requests, the
// inbound listener then sets it to the SPIFFE ID of the peer verified by mTLS (information for the
// local app), and RBAC header rules on it match that verified identity.
const PeerIdentityHeader = "x-trellis-peer-identity"

// RetryPolicy is a compiled route retry policy.
type RetryPolicy struct {
	// NumRetries is the number of retries (Envoy default 1).
	NumRetries int
	// PerTry is the per-try timeout (0 = route timeout only).
	PerTry time.Duration
	// Base and Max bound the exponential backoff (Envoy defaults 25ms / 250ms).
	Base, Max time.Duration

	on5xx, gateway, reset, connect, retriable4xx, refused bool
	codes                                                 []int
	grpc                                                  map[int]bool
}

func compileRetry(p *routev3.RetryPolicy) (*RetryPolicy, error) {
	rp := &RetryPolicy{NumRetries: 1, Base: 25 * time.Millisecond, grpc: map[int]bool{}}
	for _, c := range strings.Split(p.GetRetryOn(), ",") {
		switch strings.TrimSpace(c) {
		case "":
		case "5xx":
			rp.on5xx = true
		case "gateway-error":
			rp.gateway = true
		case "reset", "reset-before-request":
			rp.reset = true
		case "connect-failure":
			rp.connect = true
		case "retriable-4xx":
			rp.retriable4xx = true
		case "refused-stream":
			rp.refused = true
		case "retriable-status-codes":
			// Codes come from retriable_status_codes.
		case "cancelled":
			rp.grpc[1] = true
		case "deadline-exceeded":
			rp.grpc[4] = true
		case "resource-exhausted":
			rp.grpc[8] = true
		case "internal":
			rp.grpc[13] = true
		case "unavailable":
			rp.grpc[14] = true
		default:
			return nil, fmt.Errorf("retry_on: unsupported condition %q", c)
		}
	}
	for _, c := range p.GetRetriableStatusCodes() {
		rp.codes = append(rp.codes, int(c))
	}
	if v := p.GetNumRetries(); v != nil {
		rp.NumRetries = int(v.GetValue())
	}
	if d := p.GetPerTryTimeout(); d != nil {
		rp.PerTry = d.AsDuration()
	}
	if b := p.GetRetryBackOff(); b != nil {
		if d := b.GetBaseInterval(); d != nil {
			rp.Base = d.AsDuration()
		}
		if d := b.GetMaxInterval(); d != nil {
			rp.Max = d.AsDuration()
		}
	}
	if rp.Base <= 0 {
		return nil, fmt.Errorf("retry_back_off.base_interval: must be positive")
	}
	if rp.Max == 0 {
		rp.Max = 10 * rp.Base
	}
	if rp.Max < rp.Base {
		return nil, fmt.Errorf("retry_back_off.max_interval: must be >= base_interval")
	}
	return rp, nil
}

// RetryStatus reports whether a response with status (and gRPC status, "" when absent) is retried.
func (p *RetryPolicy) RetryStatus(status int, grpcStatus string) bool {
	if status >= 500 && p.on5xx {
		return true
	}
	if (status == 502 || status == 503 || status == 504) && p.gateway {
		return true
	}
	if status == 409 && p.retriable4xx {
		return true
	}
	for _, c := range p.codes {
		if c == status {
			return true
		}
	}
	if grpcStatus != "" && len(p.grpc) > 0 {
		if n, err := strconv.Atoi(grpcStatus); err == nil && p.grpc[n] {
			return true
		}
	}
	return false
}

// RetryError reports whether a transport failure is retried; connectFailure distinguishes dial
// errors from resets of an established connection.
func (p *RetryPolicy) RetryError(connectFailure bool) bool {
	if p.on5xx || p.gateway || p.reset || p.refused {
		return true
	}
	return connectFailure && p.connect
}

// Backoff returns the jittered exponential delay before retry attempt (1-based).
func (p *RetryPolicy) Backoff(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	if d > p.Max {
		d = p.Max
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// RBAC is a compiled RBAC filter.
type RBAC struct {
	allow    bool
	policies []rbacPolicy
	// ShadowOnly is true when only shadow rules are configured (never enforced).
	ShadowOnly bool
}

type rbacPolicy struct {
	name       string
	perms      []func(Req) bool
	principals []func(Req) bool
}

// Allowed reports whether the request may pass.
func (r *RBAC) Allowed(req Req) bool {
	if r == nil || r.ShadowOnly {
		return true
	}
	matched := false
	for i := range r.policies {
		p := &r.policies[i]
		if anyMatch(p.perms, req) && anyMatch(p.principals, req) {
			matched = true
			break
		}
	}
	if r.allow {
		return matched
	}
	return !matched
}

func anyMatch(fs []func(Req) bool, r Req) bool {
	for _, f := range fs {
		if f(r) {
			return true
		}
	}
	return false
}

func allMatch(fs []func(Req) bool, r Req) bool {
	for _, f := range fs {
		if !f(r) {
			return false
		}
	}
	return true
}

func compileRBAC(rules *rbacv3.RBAC) (*RBAC, error) {
	out := &RBAC{allow: rules.GetAction() == rbacv3.RBAC_ALLOW}
	if rules.GetAction() != rbacv3.RBAC_ALLOW && rules.GetAction() != rbacv3.RBAC_DENY {
		return nil, fmt.Errorf("action: unsupported %s (expected ALLOW or DENY)", rules.GetAction())
	}
	names := make([]string, 0, len(rules.GetPolicies()))
	for n := range rules.GetPolicies() {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		p := rules.GetPolicies()[n]
		rp := rbacPolicy{name: n}
		for i, perm := range p.GetPermissions() {
			f, err := compilePermission(perm)
			if err != nil {
				return nil, fmt.Errorf("policies[%q].permissions[%d]: %w", n, i, err)
			}
			rp.perms = append(rp.perms, f)
		}
		for i, pr := range p.GetPrincipals() {
			f, err := compilePrincipal(pr)
			if err != nil {
				return nil, fmt.Errorf("policies[%q].principals[%d]: %w", n, i, err)
			}
			rp.principals = append(rp.principals, f)
		}
		out.policies = append(out.policies, rp)
	}
	return out, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func compilePermission(p *rbacv3.Permission) (func(Req) bool, error) {
	switch r := p.GetRule().(type) {
	case *rbacv3.Permission_Any:
		return func(Req) bool { return true }, nil
	case *rbacv3.Permission_Header:
		hm, err := compileHeaderMatcher(r.Header)
		if err != nil {
			return nil, fmt.Errorf("header: %w", err)
		}
		return hm.match, nil
	case *rbacv3.Permission_UrlPath:
		sm, err := compileStringMatcher(r.UrlPath.GetPath())
		if err != nil {
			return nil, fmt.Errorf("url_path: %w", err)
		}
		return func(q Req) bool { return sm(q.Path()) }, nil
	case *rbacv3.Permission_AndRules:
		fs, err := compilePermissions(r.AndRules.GetRules())
		if err != nil {
			return nil, fmt.Errorf("and_rules: %w", err)
		}
		return func(q Req) bool { return allMatch(fs, q) }, nil
	case *rbacv3.Permission_OrRules:
		fs, err := compilePermissions(r.OrRules.GetRules())
		if err != nil {
			return nil, fmt.Errorf("or_rules: %w", err)
		}
		return func(q Req) bool { return anyMatch(fs, q) }, nil
	case *rbacv3.Permission_NotRule:
		f, err := compilePermission(r.NotRule)
		if err != nil {
			return nil, fmt.Errorf("not_rule: %w", err)
		}
		return func(q Req) bool { return !f(q) }, nil
	case *rbacv3.Permission_DestinationPort:
		// The service port the caller addressed (from the authority), as the control plane's
		// design ports are service ports, not the proxy's inbound port.
		want := strconv.Itoa(int(r.DestinationPort))
		return func(q Req) bool {
			h := q.Host()
			i := strings.LastIndexByte(h, ':')
			return i >= 0 && h[i+1:] == want
		}, nil
	default:
		return nil, fmt.Errorf("unsupported permission %T (supported: any, header, url_path, destination_port, and_rules, or_rules, not_rule)", r)
	}
}

func compilePermissions(ps []*rbacv3.Permission) ([]func(Req) bool, error) {
	var out []func(Req) bool
	for i, p := range ps {
		f, err := compilePermission(p)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, f)
	}
	return out, nil
}

func compilePrincipal(p *rbacv3.Principal) (func(Req) bool, error) {
	switch r := p.GetIdentifier().(type) {
	case *rbacv3.Principal_Any:
		return func(Req) bool { return true }, nil
	case *rbacv3.Principal_Header:
		hm, err := compileHeaderMatcher(r.Header)
		if err != nil {
			return nil, fmt.Errorf("header: %w", err)
		}
		return hm.match, nil
	case *rbacv3.Principal_Authenticated_:
		// The principal is the SPIFFE ID of the client certificate verified by mTLS; a connection
		// without one (plaintext, permissive) matches no authenticated principal.
		sm, err := compileStringMatcher(r.Authenticated.GetPrincipalName())
		if err != nil {
			return nil, fmt.Errorf("authenticated.principal_name: %w", err)
		}
		return func(q Req) bool {
			v := q.Peer()
			return v != "" && sm(v)
		}, nil
	case *rbacv3.Principal_AndIds:
		fs, err := compilePrincipals(r.AndIds.GetIds())
		if err != nil {
			return nil, fmt.Errorf("and_ids: %w", err)
		}
		return func(q Req) bool { return allMatch(fs, q) }, nil
	case *rbacv3.Principal_OrIds:
		fs, err := compilePrincipals(r.OrIds.GetIds())
		if err != nil {
			return nil, fmt.Errorf("or_ids: %w", err)
		}
		return func(q Req) bool { return anyMatch(fs, q) }, nil
	case *rbacv3.Principal_NotId:
		f, err := compilePrincipal(r.NotId)
		if err != nil {
			return nil, fmt.Errorf("not_id: %w", err)
		}
		return func(q Req) bool { return !f(q) }, nil
	default:
		return nil, fmt.Errorf("unsupported principal %T (supported: any, header, authenticated, and_ids, or_ids, not_id)", r)
	}
}

func compilePrincipals(ps []*rbacv3.Principal) ([]func(Req) bool, error) {
	var out []func(Req) bool
	for i, p := range ps {
		f, err := compilePrincipal(p)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// RateLimit is a local token-bucket rate limiter (state survives configuration updates when the
// bucket configuration is unchanged).
type RateLimit struct {
	// Status is the reply status when limited (429).
	Status int
	// EnabledPerMillion and EnforcedPerMillion are filter_enabled / filter_enforced.
	EnabledPerMillion, EnforcedPerMillion uint32
	bucket                                *Bucket
}

// Allow takes a token; false means the request is rate limited.
func (r *RateLimit) Allow() bool {
	if r == nil || r.bucket == nil {
		return true
	}
	if r.EnabledPerMillion < 1_000_000 && rand.Uint32N(1_000_000) >= r.EnabledPerMillion {
		return true
	}
	if r.bucket.take() {
		return true
	}
	return r.EnforcedPerMillion < 1_000_000 && rand.Uint32N(1_000_000) >= r.EnforcedPerMillion
}

// Bucket is a token bucket refilled tokensPerFill every interval up to max.
type Bucket struct {
	mu       sync.Mutex
	max      float64
	perFill  float64
	interval time.Duration
	tokens   float64
	last     time.Time
	// clock is the time source; nil is time.Now (tests move a fake clock instead of sleeping).
	clock func() time.Time
}

// take refills tokensPerFill for every whole interval since the last fill, never above max (as
// Envoy's timer-based bucket: a refill larger than the bucket is cut to it), and takes a token.
func (b *Bucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	var now time.Time
	if b.clock != nil {
		now = b.clock()
	} else {
		now = time.Now()
	}
	if n := now.Sub(b.last) / b.interval; n > 0 {
		b.tokens += float64(n) * b.perFill
		if b.tokens > b.max {
			b.tokens = b.max
		}
		b.last = b.last.Add(n * b.interval)
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

func (bld *Builder) compileRateLimit(key string, c *lrlv3.LocalRateLimit) (*RateLimit, error) {
	rl := &RateLimit{Status: 429, EnabledPerMillion: 0, EnforcedPerMillion: 0}
	if s := c.GetStatus(); s != nil && s.GetCode() != 0 {
		rl.Status = int(s.GetCode())
	}
	if f := c.GetFilterEnabled(); f != nil {
		rl.EnabledPerMillion = percentPerMillion(f.GetDefaultValue())
	}
	if f := c.GetFilterEnforced(); f != nil {
		rl.EnforcedPerMillion = percentPerMillion(f.GetDefaultValue())
	}
	tb := c.GetTokenBucket()
	if tb == nil {
		return rl, nil
	}
	interval := tb.GetFillInterval().AsDuration()
	if interval <= 0 {
		return nil, fmt.Errorf("token_bucket.fill_interval: must be positive")
	}
	perFill := float64(1)
	if v := tb.GetTokensPerFill(); v != nil {
		perFill = float64(v.GetValue())
	}
	max := float64(tb.GetMaxTokens())
	if max <= 0 {
		return nil, fmt.Errorf("token_bucket.max_tokens: must be positive")
	}
	k := fmt.Sprintf("%s|%g|%g|%s", key, max, perFill, interval)
	bld.mu.Lock()
	defer bld.mu.Unlock()
	b := bld.buckets[k]
	if b == nil {
		b = &Bucket{max: max, perFill: perFill, interval: interval, tokens: max, last: time.Now()}
		bld.buckets[k] = b
	}
	rl.bucket = b
	return rl, nil
}
