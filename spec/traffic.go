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
// RequestsPerSecond and RequestsPerMinute is set.
type RateLimit struct {
	// RequestsPerSecond is the sustained rate per instance, refilled every second. Default 0: not
	// set, RequestsPerMinute gives the rate. Exactly one of requestsPerSecond and requestsPerMinute
	// is set, positive.
	RequestsPerSecond int32 `json:"requestsPerSecond,omitempty"`
	// RequestsPerMinute is the sustained rate per instance, refilled every minute, for limits
	// below one request per second (Envoy: fill_interval 60s; Consul: N/60 per second; Linkerd,
	// whose limit is whole requests per second, rounds it up to 1 per second with a warning).
	// Default 0: not set, RequestsPerSecond gives the rate. Exactly one of requestsPerSecond and
	// requestsPerMinute is set, positive.
	RequestsPerMinute int32 `json:"requestsPerMinute,omitempty"`
	// Burst is the bucket size: the requests accepted at once before the rate applies. Default 0:
	// the rate's own count (RequestsPerSecond, or RequestsPerMinute).
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
