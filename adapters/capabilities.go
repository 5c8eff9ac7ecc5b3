package adapters

// Feature names one entry of the capability matrix: a concept of the design that a mesh may or
// may not express.
type Feature string

// The features of the capability matrix, in the matrix's row order.
const (
	FeatureWeightedSplit    Feature = "traffic.split"            // weighted split between versions or services
	FeaturePathMatch        Feature = "traffic.match.path"       // path exact/prefix/regex match
	FeatureMethodMatch      Feature = "traffic.match.method"     // HTTP method match
	FeatureHeaderMatch      Feature = "traffic.match.headers"    // header match
	FeatureQueryMatch       Feature = "traffic.match.query"      // query-parameter match
	FeatureTimeout          Feature = "traffic.timeout"          // request timeout
	FeatureRetries          Feature = "traffic.retries"          // retry attempts and conditions
	FeatureRetryPerTry      Feature = "traffic.retries.perTry"   // per-try timeout
	FeatureRetryBackoff     Feature = "traffic.retries.backoff"  // retry backoff
	FeatureRetryBudget      Feature = "traffic.retries.budget"   // retry budget
	FeatureFaultDelay       Feature = "traffic.fault.delay"      // injected delay
	FeatureFaultAbort       Feature = "traffic.fault.abort"      // injected abort
	FeatureMirror           Feature = "traffic.mirror"           // request mirroring
	FeatureHeaderOps        Feature = "traffic.headers"          // request/response header set/add/remove
	FeatureRewrite          Feature = "traffic.rewrite"          // path/host rewrite
	FeatureConnectionLimits Feature = "resilience.connections"   // connection/pending/request limits
	FeatureOutlierDetection Feature = "resilience.outlier"       // outlier ejection
	FeatureRateLimit        Feature = "resilience.rateLimit"     // local rate limit
	FeatureLoadBalancer     Feature = "resilience.loadBalancer"  // LB algorithm
	FeatureConsistentHash   Feature = "resilience.stickySession" // consistent-hash sticky sessions
	FeatureHealthCheck      Feature = "resilience.healthCheck"   // active health checks
	FeatureExternalServices Feature = "services.external"        // external services with TLS origination
	FeatureMTLSStrict       Feature = "security.mtls.strict"     // mTLS strict
	FeatureMTLSPermissive   Feature = "security.mtls.permissive" // mTLS permissive
	FeatureMTLSDisabled     Feature = "security.mtls.disabled"   // mTLS disabled
	FeatureDefaultDeny      Feature = "security.defaultDeny"     // default-deny baseline
	FeatureAuthzAllow       Feature = "security.access.allow"    // allow rules by identity
	FeatureAuthzDeny        Feature = "security.access.deny"     // deny rules by identity
	FeatureAuthzConditions  Feature = "security.access.http"     // method/path/header conditions on rules
	FeatureJWT              Feature = "security.jwt"             // JWT request authentication
	FeatureMetrics          Feature = "telemetry.metrics"        // metrics on/off
	FeatureTracing          Feature = "telemetry.tracing"        // tracing provider + endpoint
	FeatureTracingSampling  Feature = "telemetry.tracing.sampling"
	FeatureAccessLogs       Feature = "telemetry.accessLogs" // access logs and format
	FeatureWasm             Feature = "extensions.wasm"      // WebAssembly extensions
)

// FeatureInfo describes one feature for the capability matrix.
type FeatureInfo struct {
	// Feature is the feature's id.
	Feature Feature `json:"feature"`
	// Title is a short human name.
	Title string `json:"title"`
	// Field is the design field that expresses the feature.
	Field string `json:"field"`
}

// Features lists every feature of the capability matrix, in row order. Adapters must declare a
// Capability for each one (checked by RegisterAdapter).
var Features = []FeatureInfo{
	{FeatureWeightedSplit, "Weighted split", "spec.traffic[].routes[].backends[].weight"},
	{FeaturePathMatch, "Path match (exact/prefix/regex)", "spec.traffic[].routes[].match[].path"},
	{FeatureMethodMatch, "Method match", "spec.traffic[].routes[].match[].method"},
	{FeatureHeaderMatch, "Header match", "spec.traffic[].routes[].match[].headers"},
	{FeatureQueryMatch, "Query parameter match", "spec.traffic[].routes[].match[].queryParams"},
	{FeatureTimeout, "Request timeout", "spec.traffic[].routes[].timeout"},
	{FeatureRetries, "Retries: attempts and conditions", "spec.traffic[].routes[].retries"},
	{FeatureRetryPerTry, "Retries: per-try timeout", "spec.traffic[].routes[].retries.perTryTimeout"},
	{FeatureRetryBackoff, "Retries: backoff", "spec.traffic[].routes[].retries.backoff"},
	{FeatureRetryBudget, "Retry budget", "spec.traffic[].routes[].retries.budget"},
	{FeatureFaultDelay, "Fault: delay", "spec.traffic[].routes[].fault.delay"},
	{FeatureFaultAbort, "Fault: abort", "spec.traffic[].routes[].fault.abort"},
	{FeatureMirror, "Mirroring", "spec.traffic[].routes[].mirror"},
	{FeatureHeaderOps, "Header manipulation", "spec.traffic[].routes[].headers"},
	{FeatureRewrite, "Path/host rewrite", "spec.traffic[].routes[].rewrite"},
	{FeatureConnectionLimits, "Connection/pending/request limits", "spec.traffic[].resilience.connections"},
	{FeatureOutlierDetection, "Outlier ejection", "spec.traffic[].resilience.outlierDetection"},
	{FeatureRateLimit, "Local rate limit", "spec.traffic[].resilience.rateLimit"},
	{FeatureLoadBalancer, "Load-balancing algorithm", "spec.traffic[].resilience.loadBalancer.algorithm"},
	{FeatureConsistentHash, "Sticky sessions (consistent hash)", "spec.traffic[].resilience.loadBalancer.consistentHash"},
	{FeatureHealthCheck, "Active health checks", "spec.services[].healthCheck"},
	{FeatureExternalServices, "External services, TLS origination", "spec.externalServices"},
	{FeatureMTLSStrict, "mTLS strict", "spec.security.mtls"},
	{FeatureMTLSPermissive, "mTLS permissive", "spec.security.mtls"},
	{FeatureMTLSDisabled, "mTLS disabled", "spec.security.mtls"},
	{FeatureDefaultDeny, "Default-deny baseline", "spec.security.defaultPolicy"},
	{FeatureAuthzAllow, "Access: allow by identity", "spec.security.access[]"},
	{FeatureAuthzDeny, "Access: deny by identity", "spec.security.access[].action"},
	{FeatureAuthzConditions, "Access: method/path/header conditions", "spec.security.access[].when"},
	{FeatureJWT, "JWT request authentication", "spec.security.requestAuthentication"},
	{FeatureMetrics, "Metrics", "spec.telemetry.metrics"},
	{FeatureTracing, "Tracing provider and endpoint", "spec.telemetry.tracing"},
	{FeatureTracingSampling, "Tracing sampling rate", "spec.telemetry.tracing.samplingPercent"},
	{FeatureAccessLogs, "Access logs", "spec.telemetry.accessLogs"},
	{FeatureWasm, "WebAssembly extensions", "spec.extensions"},
}

// Support is how well a mesh expresses a feature.
type Support string

// The support levels.
const (
	// Native means the mesh expresses the feature fully.
	Native Support = "native"
	// Partial means the mesh expresses part of it; Capability.Note says what is missing.
	Partial Support = "partial"
	// Unsupported means the mesh cannot express it; translating it yields a warning.
	Unsupported Support = "unsupported"
)

// Capability is one cell of the capability matrix.
type Capability struct {
	// Support is native, partial or unsupported.
	Support Support `json:"support"`
	// Note explains a partial or unsupported entry (what is lost, which object carries it).
	Note string `json:"note,omitempty"`
}

// Capabilities maps every Feature to its Capability for one mesh.
type Capabilities map[Feature]Capability
