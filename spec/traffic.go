package spec

import "time"

// TrafficPolicy is the routing and resilience of calls to one service.
type TrafficPolicy struct {
	// Service is the name of the destination service or external service. Required; at most one
	// traffic policy per service.
	Service string `json:"service"`
	// Routes are evaluated in order; the first route whose match holds handles the request.
	// Default none: all traffic goes to the service's instances round robin. A route without
	// matches is a catch-all and must be last.
	Routes []Route `json:"routes,omitempty"`
	// Resilience holds connection limits, outlier detection, rate limiting and load balancing for
	// the service. Default nil: the mesh's defaults.
	Resilience *Resilience `json:"resilience,omitempty"`
	// Annotations carry tool settings such as IgnoreAnnotation. Default none.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Route is one ordered routing rule.
type Route struct {
	// Name identifies the route in warnings, findings and generated objects: a DNS-1123 label
	// unique within the traffic policy. Default: "route-<index>".
	Name string `json:"name,omitempty"`
	// Match lists alternative conditions: the route applies when any one of them holds (each
	// condition is the AND of its fields). Default none: the route matches every request.
	Match []Match `json:"match,omitempty"`
	// Backends receive the matched requests, split by weight. Default: one backend, the service
	// itself (all versions), weight 100.
	Backends []Backend `json:"backends,omitempty"`
	// Timeout is the whole request's deadline, retries included. Default 0: no timeout (the mesh's
	// default applies; policy TRF-012 reports it for HTTP and gRPC routes).
	Timeout Duration `json:"timeout,omitzero"`
	// Retries retries failed requests. Default nil: the mesh's default retry behaviour.
	Retries *Retries `json:"retries,omitempty"`
	// Fault injects delays and aborts, for testing resilience. Default nil: no faults.
	Fault *Fault `json:"fault,omitempty"`
	// Mirror sends a copy of matched requests to another backend and discards its responses.
	// Default nil: no mirroring.
	Mirror *Mirror `json:"mirror,omitempty"`
	// Headers modifies request and response headers. Default nil: headers pass unchanged.
	Headers *HeaderOps `json:"headers,omitempty"`
	// Rewrite rewrites the path or host before forwarding. Default nil: no rewrite.
	Rewrite *Rewrite `json:"rewrite,omitempty"`
}

// Match is one condition of a route; all its set fields must hold.
type Match struct {
	// Path matches the request path. Default nil: any path.
	Path *PathMatch `json:"path,omitempty"`
	// Method matches the HTTP method (GET, POST, …), upper case. Default "": any method.
	Method string `json:"method,omitempty"`
	// Headers match request headers by lower-case name. Default none.
	Headers map[string]StringMatch `json:"headers,omitempty"`
	// QueryParams match query parameters by name. Default none.
	QueryParams map[string]StringMatch `json:"queryParams,omitempty"`
}

// PathMatch matches a request path. Exactly one field must be set.
type PathMatch struct {
	// Exact matches the whole path, which must start with "/".
	Exact string `json:"exact,omitempty"`
	// Prefix matches a path prefix, which must start with "/". It matches whole path segments:
	// "/api" matches "/api" and "/api/x" but not "/apix" (Gateway API PathPrefix semantics).
	Prefix string `json:"prefix,omitempty"`
	// Regex matches the whole path with an RE2 regular expression.
	Regex string `json:"regex,omitempty"`
}

// StringMatch matches a header or query-parameter value. Exactly one field must be set.
type StringMatch struct {
	// Exact matches the whole value.
	Exact string `json:"exact,omitempty"`
	// Prefix matches the start of the value.
	Prefix string `json:"prefix,omitempty"`
	// Regex matches the whole value with an RE2 regular expression.
	Regex string `json:"regex,omitempty"`
	// Present matches when the header or parameter is present with any value. Only true is
	// meaningful; false is the same as not set.
	Present bool `json:"present,omitempty"`
}

// Backend is one weighted destination of a route.
type Backend struct {
	// Service is the destination service's name. Default: the traffic policy's service.
	Service string `json:"service,omitempty"`
	// Version is the name of a version of the destination service. Default "": all instances.
	Version string `json:"version,omitempty"`
	// Port is the destination port. Default 0: the service's first port.
	Port int32 `json:"port,omitempty"`
	// Weight is the backend's relative share of the route's traffic (0-10000). Default: when no
	// backend of the route sets a weight, traffic is split equally with weights summing to 100.
	// Zero, when another backend of the route has a weight, means this backend gets no traffic.
	Weight int32 `json:"weight,omitempty"`
}

// RetryOn conditions accepted in Retries.On, besides three-digit HTTP status codes ("503").
var RetryOn = []string{
	"5xx", "gateway-error", "reset", "connect-failure", "refused-stream", "retriable-4xx",
	"cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
}

// Retries retries failed requests.
type Retries struct {
	// Attempts is the number of retries after the first try (0-10). Required: zero disables
	// retries, overriding any default retries of the mesh.
	Attempts int32 `json:"attempts"`
	// PerTryTimeout is the deadline of each try. Default 0: each try may use the route's whole
	// timeout. Must not exceed the route's timeout.
	PerTryTimeout Duration `json:"perTryTimeout,omitzero"`
	// On lists the conditions that trigger a retry: values of RetryOn or HTTP status codes.
	// Default ["5xx", "connect-failure", "reset"] (gRPC services: ["unavailable", "cancelled",
	// "deadline-exceeded", "connect-failure"]).
	On []string `json:"on,omitempty"`
	// Backoff spaces retries. Default nil: the mesh's default backoff (Envoy: 25ms base).
	Backoff *Backoff `json:"backoff,omitempty"`
	// Budget caps retries as a share of active requests. Default nil: no budget.
	Budget *RetryBudget `json:"budget,omitempty"`
}

// Backoff is exponential backoff with jitter between retries.
type Backoff struct {
	// BaseInterval is the first delay. Required, positive.
	BaseInterval Duration `json:"baseInterval"`
	// MaxInterval caps the delay. Default: 10 × BaseInterval. Must be ≥ BaseInterval.
	MaxInterval Duration `json:"maxInterval,omitzero"`
}

// RetryBudget limits retries to a share of the active requests to a service.
type RetryBudget struct {
	// Percent of active requests that may be retries (0-100]. Default 20.
	Percent float64 `json:"percent,omitempty"`
	// MinRetryConcurrency is the number of concurrent retries always allowed. Default 3.
	MinRetryConcurrency int32 `json:"minRetryConcurrency,omitempty"`
}

// Fault injects failures into matched requests.
type Fault struct {
	// Delay delays requests before forwarding them. Default nil: no delay.
	Delay *DelayFault `json:"delay,omitempty"`
	// Abort answers requests with an error instead of forwarding them. Default nil: no aborts.
	Abort *AbortFault `json:"abort,omitempty"`
}

// DelayFault delays a share of requests.
type DelayFault struct {
	// Fixed is the delay. Required, positive.
	Fixed Duration `json:"fixed"`
	// Percent of requests delayed, (0-100]. Default 100.
	Percent float64 `json:"percent,omitempty"`
}

// AbortFault aborts a share of requests.
type AbortFault struct {
	// HTTPStatus is the status returned (200-599). Exactly one of HTTPStatus and GRPCStatus is
	// required.
	HTTPStatus int32 `json:"httpStatus,omitempty"`
	// GRPCStatus is the gRPC status name returned (for example "UNAVAILABLE").
	GRPCStatus string `json:"grpcStatus,omitempty"`
	// Percent of requests aborted, (0-100]. Default 100.
	Percent float64 `json:"percent,omitempty"`
}

// Mirror copies a share of requests to another backend; responses to the copies are discarded.
type Mirror struct {
	// Service is the mirror's service. Default: the traffic policy's service.
	Service string `json:"service,omitempty"`
	// Version is a version of the mirror's service. Default "": all instances.
	Version string `json:"version,omitempty"`
	// Percent of requests mirrored, (0-100]. Default 100.
	Percent float64 `json:"percent,omitempty"`
}

// HeaderOps modifies request and response headers.
type HeaderOps struct {
	// Request modifies the request before it is forwarded. Default nil.
	Request *HeaderOperations `json:"request,omitempty"`
	// Response modifies the response before it is returned. Default nil.
	Response *HeaderOperations `json:"response,omitempty"`
}

// HeaderOperations sets, appends and removes headers, applied in that order.
type HeaderOperations struct {
	// Set replaces a header's value. Default none.
	Set map[string]string `json:"set,omitempty"`
	// Add appends a value to a header. Default none.
	Add map[string]string `json:"add,omitempty"`
	// Remove deletes headers by name. Default none.
	Remove []string `json:"remove,omitempty"`
}

// Rewrite changes the request before it is forwarded. At most one of FullPath and Prefix.
type Rewrite struct {
	// Prefix replaces the path prefix matched by the route's prefix match (every match of the
	// route must be a prefix match). Default "": no path rewrite.
	Prefix string `json:"prefix,omitempty"`
	// FullPath replaces the whole path. Default "": no path rewrite.
	FullPath string `json:"fullPath,omitempty"`
	// Host replaces the Host/:authority header. Default "": unchanged.
	Host string `json:"host,omitempty"`
}

// Resilience protects a service from overload and failing instances.
type Resilience struct {
	// Connections limits connections and requests to the service. Default nil: no limits.
	Connections *ConnectionLimits `json:"connections,omitempty"`
	// OutlierDetection ejects failing instances. Default nil: no ejection.
	OutlierDetection *OutlierDetection `json:"outlierDetection,omitempty"`
	// RateLimit limits the requests each instance accepts. Default nil: no limit.
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	// LoadBalancer picks an instance per request. Default nil: round robin (Linkerd: EWMA).
	LoadBalancer *LoadBalancer `json:"loadBalancer,omitempty"`
}

// ConnectionLimits is a circuit breaker on connections and requests.
type ConnectionLimits struct {
	// Max is the maximum number of connections to the service per caller. Default 0: unlimited.
	Max int32 `json:"max,omitempty"`
	// MaxPendingRequests is the maximum number of requests waiting for a connection. Default 0:
	// unlimited.
	MaxPendingRequests int32 `json:"maxPendingRequests,omitempty"`
	// MaxRequests is the maximum number of concurrent requests. Default 0: unlimited.
	MaxRequests int32 `json:"maxRequests,omitempty"`
	// MaxRequestsPerConnection closes a connection after this many requests. Default 0: unlimited.
	MaxRequestsPerConnection int32 `json:"maxRequestsPerConnection,omitempty"`
	// ConnectTimeout is the TCP connect deadline. Default 0: the mesh's default (Envoy 10s).
	ConnectTimeout Duration `json:"connectTimeout,omitzero"`
}

// OutlierDetection ejects instances that keep failing.
type OutlierDetection struct {
	// Consecutive5xx ejects an instance after this many consecutive 5xx responses or connection
	// errors. Default 5.
	Consecutive5xx int32 `json:"consecutive5xx,omitempty"`
	// Interval between ejection sweeps. Default 10s.
	Interval Duration `json:"interval,omitzero"`
	// BaseEjectionTime is how long an instance stays ejected the first time (multiplied by the
	// number of ejections). Default 30s.
	BaseEjectionTime Duration `json:"baseEjectionTime,omitzero"`
	// MaxEjectionPercent caps the share of instances ejected at once (1-100). Default 10.
	MaxEjectionPercent int32 `json:"maxEjectionPercent,omitempty"`
}

// RateLimit is a local token-bucket rate limit enforced by each instance's proxy. Exactly one of
// RequestsPerSecond and RequestsPerMinute is set: that is the sustained rate, whatever the burst.
// Envoy-based meshes (Istio, the bundled proxy) render it as a token bucket of max_tokens burst
// refilled tokens_per_fill every fill_interval: the whole count every second or minute when the
// burst holds it, else a finer refill at the same rate (100 per second with burst 20: 5 every
// 50ms), since a refill is cut to the bucket size.
type RateLimit struct {
	// RequestsPerSecond is the sustained rate per instance. Default 0: not set, RequestsPerMinute
	// gives the rate. Exactly one of requestsPerSecond and requestsPerMinute is set, positive.
	RequestsPerSecond int32 `json:"requestsPerSecond,omitempty"`
	// RequestsPerMinute is the sustained rate per instance, for limits below one request per
	// second (Envoy: fill_interval 60s, shorter with a smaller burst; Consul: N/60 per second;
	// Linkerd, whose limit is whole requests per second, rounds it up to 1 per second with a
	// warning). Default 0: not set, RequestsPerSecond gives the rate. Exactly one of
	// requestsPerSecond and requestsPerMinute is set, positive.
	RequestsPerMinute int32 `json:"requestsPerMinute,omitempty"`
	// Burst is the bucket size: the most requests accepted at once, after an idle period, before
	// the rate applies. It does not change the sustained rate: with Envoy a burst below the rate's
	// count refills smaller steps more often (tokens_per_fill at most the burst, fill_interval at
	// least 50ms), and where no such bucket carries the rate exactly (a burst below a twentieth of
	// a per-second rate, or a prime rate with a tiny burst) the fastest slower one is used with a
	// warning. Consul refills its whole per-second rate once a second (a burst below it is
	// rendered as is, with a warning); Linkerd has no burst (one second's requests, with a
	// warning). Default 0: the rate's own count (RequestsPerSecond, or RequestsPerMinute).
	Burst int32 `json:"burst,omitempty"`
}

// Count is the number of requests the limit refills per Interval: RequestsPerSecond, or
// RequestsPerMinute when that is the one set.
func (r *RateLimit) Count() int32 {
	if r.RequestsPerSecond == 0 && r.RequestsPerMinute != 0 {
		return r.RequestsPerMinute
	}
	return r.RequestsPerSecond
}

// Interval is the refill period of the limit: one minute when RequestsPerMinute is the rate set,
// one second otherwise.
func (r *RateLimit) Interval() time.Duration {
	if r.RequestsPerSecond == 0 && r.RequestsPerMinute != 0 {
		return time.Minute
	}
	return time.Second
}

// MinFillInterval is the shortest token-bucket refill period Envoy's local rate limit filter
// accepts (fill_interval must be >= 50ms; Envoy reads it in whole milliseconds).
const MinFillInterval = 50 * time.Millisecond

// TokenBucket returns the Envoy-style token bucket that enforces the limit: maxTokens (the burst,
// or the rate's count when Burst is unset) and tokensPerFill tokens added every fill, never more
// than maxTokens in the bucket. The sustained rate tokensPerFill/fill is the designed rate, and
// tokensPerFill never exceeds maxTokens (a refill above the bucket size would be cut to it, so the
// rate would silently become the burst):
//   - a burst of at least the count keeps the plain bucket: count every Interval;
//   - a smaller burst refills the smallest whole multiple of the reduced rate whose fill is at
//     least MinFillInterval in whole milliseconds (100 per second, burst 20: 5 every 50ms; 30 per
//     minute, burst 5: 1 every 2s);
//   - when no such multiple fits the burst, exact is false and the bucket is the fastest one under
//     the constraints that never exceeds the designed rate (1000 per second, burst 10: 10 every
//     50ms, 200 per second).
//
// A limit without a positive rate returns zeros and exact false.
func (r *RateLimit) TokenBucket() (maxTokens, tokensPerFill int32, fill time.Duration, exact bool) {
	count := int64(r.Count())
	if count <= 0 {
		return 0, 0, 0, false
	}
	burst := int64(r.Burst)
	if burst <= 0 {
		burst = count
	}
	if burst >= count {
		return int32(burst), int32(count), r.Interval(), true
	}
	// The rate is count tokens per unit milliseconds, reduced to t0 per f0; every exact bucket is
	// k*t0 per k*f0 ms.
	unit := r.Interval().Milliseconds()
	minMS := MinFillInterval.Milliseconds()
	g := gcd(count, unit)
	t0, f0 := count/g, unit/g
	k := max(1, (minMS+f0-1)/f0)
	if k*t0 <= burst {
		return int32(burst), int32(k * t0), time.Duration(k*f0) * time.Millisecond, true
	}
	// No exact bucket: search the fill intervals from the minimum to the one where the whole burst
	// fits (at most unit ms, since burst < count), each with the most tokens that neither exceed
	// the burst nor the rate, and keep the fastest (the shortest fill on a tie). The last interval
	// always holds the whole burst, so a bucket is found.
	bestT, bestF := int64(0), int64(0)
	last := max(minMS, (burst*unit+count-1)/count)
	for f := minMS; f <= last; f++ {
		t := min(burst, count*f/unit)
		if t < 1 {
			continue
		}
		if bestT == 0 || t*bestF > bestT*f {
			bestT, bestF = t, f
		}
	}
	return int32(burst), int32(bestT), time.Duration(bestF) * time.Millisecond, false
}

// gcd returns the greatest common divisor of two positive numbers.
func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// LoadBalancerAlgorithm names a load-balancing algorithm.
type LoadBalancerAlgorithm string

// The load-balancing algorithms.
const (
	// LBRoundRobin cycles through instances.
	LBRoundRobin LoadBalancerAlgorithm = "round-robin"
	// LBLeastRequest picks the less loaded of two random instances.
	LBLeastRequest LoadBalancerAlgorithm = "least-request"
	// LBRandom picks a random instance.
	LBRandom LoadBalancerAlgorithm = "random"
	// LBConsistentHash hashes a request attribute onto a ring (sticky sessions).
	LBConsistentHash LoadBalancerAlgorithm = "consistent-hash"
)

// LoadBalancer picks an instance for each request.
type LoadBalancer struct {
	// Algorithm is one of round-robin, least-request, random, consistent-hash. Default
	// "round-robin", or "consistent-hash" when ConsistentHash is set.
	Algorithm LoadBalancerAlgorithm `json:"algorithm,omitempty"`
	// ConsistentHash says what is hashed; required with consistent-hash, not allowed otherwise.
	ConsistentHash *ConsistentHash `json:"consistentHash,omitempty"`
}

// ConsistentHash selects the request attribute hashed for sticky sessions. Exactly one field.
type ConsistentHash struct {
	// Header hashes the value of this request header.
	Header string `json:"header,omitempty"`
	// Cookie hashes this cookie, which the proxy sets when missing.
	Cookie *HashCookie `json:"cookie,omitempty"`
	// SourceIP hashes the caller's IP address.
	SourceIP bool `json:"sourceIP,omitempty"`
	// QueryParam hashes the value of this query parameter.
	QueryParam string `json:"queryParam,omitempty"`
}

// HashCookie is the cookie used for consistent hashing.
type HashCookie struct {
	// Name of the cookie. Required.
	Name string `json:"name"`
	// TTL of the cookie the proxy generates. Default 0: a session cookie.
	TTL Duration `json:"ttl,omitzero"`
	// Path of the generated cookie. Default "/".
	Path string `json:"path,omitempty"`
}
