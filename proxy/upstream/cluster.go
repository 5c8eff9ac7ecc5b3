// Package upstream holds the proxy's upstream clusters: endpoints from EDS or inline load assignments,
// load balancing (round robin, least request, random, ring hash), circuit breakers, retry budgets,
// outlier detection, active health checks and the per-endpoint HTTP/1.1 connection pools. Cluster
// objects are immutable per configuration generation; the mutable state (counters, pools, ejections)
// lives in per-name state objects that survive configuration updates.
package upstream

//lint:file-ignore SA1019 deprecated xDS cluster fields are still sent by control planes; h2c upstreams use x/net/http2 until the move to http.Transport.Protocols

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"golang.org/x/net/http2"

	"github.com/trellis-mesh/trellis/proxy/identity"
)

// ErrOverflow is returned when a circuit breaker threshold is reached.
var ErrOverflow = errors.New("upstream overflow")

// ErrNoHealthyUpstream is returned when a cluster has no endpoints.
var ErrNoHealthyUpstream = errors.New("no healthy upstream")

// LBPolicy is a load-balancing policy.
type LBPolicy int

// Load-balancing policies.
const (
	RoundRobin LBPolicy = iota
	LeastRequest
	Random
	RingHash
)

// Thresholds are circuit-breaker limits (Envoy defaults when unset).
type Thresholds struct {
	// MaxConnections bounds upstream connections of the cluster.
	MaxConnections int64
	// MaxPending bounds requests waiting for a connection.
	MaxPending int64
	// MaxRequests bounds concurrent requests.
	MaxRequests int64
	// MaxRetries bounds concurrent retries (when no retry budget is set).
	MaxRetries int64
	// BudgetPercent, when > 0, enables the retry budget (percent of active requests).
	BudgetPercent float64
	// MinRetryConcurrency is the retry budget's floor.
	MinRetryConcurrency int64
}

// Outlier is the outlier-detection configuration.
type Outlier struct {
	// Consecutive5xx ejects an endpoint after this many consecutive 5xx/connect errors.
	Consecutive5xx int32
	// BaseEjection is multiplied by the number of times the endpoint was ejected.
	BaseEjection time.Duration
	// MaxEjection caps one ejection.
	MaxEjection time.Duration
	// MaxEjectionPercent bounds the share of ejected endpoints.
	MaxEjectionPercent int
	// Interval is the detection interval (used to decay the ejection multiplier).
	Interval time.Duration
}

// Cluster is one immutable generation of an upstream cluster.
type Cluster struct {
	// Name is the cluster name.
	Name string
	// HTTP2 is true when the upstream speaks h2c (http2/gRPC services).
	HTTP2 bool
	// LB is the load-balancing policy.
	LB LBPolicy
	// ConnectTimeout bounds dialing.
	ConnectTimeout time.Duration
	// Thresholds are the circuit breakers.
	Thresholds Thresholds
	// Outlier is nil without outlier detection.
	Outlier *Outlier
	// Endpoints are the cluster's endpoints (weights expanded in wl).
	Endpoints []*Endpoint

	wl    []*Endpoint
	tls   *tls.Config
	mesh  bool
	ring  []ringEntry
	st    *State
	hc    *healthCheck
	proto *clusterv3.Cluster
}

// State is the mutable state of a cluster that survives configuration updates.
type State struct {
	name     string
	mu       sync.Mutex
	eps      map[string]*Endpoint
	rr       atomic.Uint64
	active   atomic.Int64
	pending  atomic.Int64
	conns    atomic.Int64
	retries  atomic.Int64
	h2       *http2.Transport
	h1tls    *http.Transport
	tlsCfg   atomic.Pointer[tls.Config]
	hcStop   context.CancelFunc
	hcKey    string
	gen      *Cluster
	counters Counters
}

// Counters are cumulative per-cluster statistics.
type Counters struct {
	// ConnectionsOpened counts upstream connections dialed.
	ConnectionsOpened atomic.Uint64
	// ConnectFailures counts failed dials.
	ConnectFailures atomic.Uint64
	// Ejections counts outlier ejections.
	Ejections atomic.Uint64
	// Retries counts retries attempted.
	Retries atomic.Uint64
	// Overflows counts circuit-breaker overflows.
	Overflows atomic.Uint64
	// HealthCheckFailures counts failed active health checks.
	HealthCheckFailures atomic.Uint64
	// MirrorDropped counts mirrored requests dropped because the mirror queue was full.
	MirrorDropped atomic.Uint64
}

// Counters returns the cluster's cumulative counters.
func (c *Cluster) Counters() *Counters { return &c.st.counters }

// ActiveConnections returns the number of open upstream connections of the cluster.
func (c *Cluster) ActiveConnections() int64 { return c.st.conns.Load() }

// ActiveRequests returns the number of in-flight requests of the cluster.
func (c *Cluster) ActiveRequests() int64 { return c.st.active.Load() }

// Proto returns the cluster resource this generation was built from.
func (c *Cluster) Proto() *clusterv3.Cluster { return c.proto }

// H2 returns the cluster's h2c transport.
func (c *Cluster) H2() *http2.Transport { return c.st.h2 }

// AcquireRequest reserves a request slot; false means the max_requests breaker is open.
func (c *Cluster) AcquireRequest() bool {
	if c.st.active.Add(1) > c.Thresholds.MaxRequests {
		c.st.active.Add(-1)
		c.st.counters.Overflows.Add(1)
		return false
	}
	return true
}

// ReleaseRequest frees a request slot.
func (c *Cluster) ReleaseRequest() { c.st.active.Add(-1) }

// AcquireRetry reserves a retry slot under max_retries or the retry budget.
func (c *Cluster) AcquireRetry() bool {
	limit := c.Thresholds.MaxRetries
	if c.Thresholds.BudgetPercent > 0 {
		limit = int64(float64(c.st.active.Load()) * c.Thresholds.BudgetPercent / 100)
		if limit < c.Thresholds.MinRetryConcurrency {
			limit = c.Thresholds.MinRetryConcurrency
		}
	}
	if c.st.retries.Add(1) > limit {
		c.st.retries.Add(-1)
		c.st.counters.Overflows.Add(1)
		return false
	}
	c.st.counters.Retries.Add(1)
	return true
}

// ReleaseRetry frees a retry slot.
func (c *Cluster) ReleaseRetry() { c.st.retries.Add(-1) }

// Manager builds cluster generations and owns their persistent state.
type Manager struct {
	mu     sync.Mutex
	states map[string]*State
	log    *slog.Logger
	// H1 is the shared net/http transport used by the generic (non fast path) forwarder.
	H1 *http.Transport
	// Identity is the workload identity used by mesh (mTLS) clusters; nil without one.
	Identity *identity.Store
}

// NewManager returns an empty manager.
func NewManager(log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{
		states: map[string]*State{},
		log:    log,
		H1: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

func (m *Manager) state(name string) *State {
	st := m.states[name]
	if st == nil {
		st = &State{name: name, eps: map[string]*Endpoint{}}
		st.h2 = &http2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				cfg := st.tlsCfg.Load()
				if cfg != nil {
					cfg = cfg.Clone()
					cfg.NextProtos = []string{"h2"}
				}
				c, err := dialTLS(ctx, network, addr, cfg)
				if err == nil {
					st.counters.ConnectionsOpened.Add(1)
				} else {
					st.counters.ConnectFailures.Add(1)
				}
				return c, err
			},
			ReadIdleTimeout: 30 * time.Second,
		}
		m.states[name] = st
	}
	return st
}

// Build validates clusters and builds a new generation. clas holds the EDS assignments by cluster
// name. Endpoint state is shared with earlier generations by (cluster, address).
func (m *Manager) Build(clusters []*clusterv3.Cluster, clas map[string]*endpointv3.ClusterLoadAssignment) (map[string]*Cluster, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*Cluster, len(clusters))
	for i, pc := range clusters {
		c, err := m.build(pc, clas)
		if err != nil {
			return nil, fmt.Errorf("cluster[%d] %q: %w", i, pc.GetName(), err)
		}
		out[c.Name] = c
	}
	return out, nil
}

func (m *Manager) build(pc *clusterv3.Cluster, clas map[string]*endpointv3.ClusterLoadAssignment) (*Cluster, error) {
	if pc.GetName() == "" {
		return nil, errors.New("name: must not be empty")
	}
	c := &Cluster{Name: pc.GetName(), ConnectTimeout: 5 * time.Second, proto: pc}
	if d := pc.GetConnectTimeout(); d != nil {
		c.ConnectTimeout = d.AsDuration()
	}
	switch pc.GetLbPolicy() {
	case clusterv3.Cluster_ROUND_ROBIN:
		c.LB = RoundRobin
	case clusterv3.Cluster_LEAST_REQUEST:
		c.LB = LeastRequest
	case clusterv3.Cluster_RANDOM:
		c.LB = Random
	case clusterv3.Cluster_RING_HASH, clusterv3.Cluster_MAGLEV:
		c.LB = RingHash
	default:
		return nil, fmt.Errorf("lb_policy: unsupported %s (expected ROUND_ROBIN, LEAST_REQUEST, RANDOM or RING_HASH)", pc.GetLbPolicy())
	}
	if pc.GetHttp2ProtocolOptions() != nil { //nolint:staticcheck // legacy field still honoured
		c.HTTP2 = true
	}
	if anyOpt, ok := pc.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]; ok {
		var po httpv3.HttpProtocolOptions
		if err := anyOpt.UnmarshalTo(&po); err != nil {
			return nil, fmt.Errorf("typed_extension_protocol_options: %w", err)
		}
		if po.GetExplicitHttpConfig().GetHttp2ProtocolOptions() != nil {
			c.HTTP2 = true
		}
	}
	c.Thresholds = Thresholds{MaxConnections: 1024, MaxPending: 1024, MaxRequests: 1024, MaxRetries: 3}
	for _, t := range pc.GetCircuitBreakers().GetThresholds() {
		if t.GetPriority() != corev3.RoutingPriority_DEFAULT {
			continue
		}
		if v := t.GetMaxConnections(); v != nil {
			c.Thresholds.MaxConnections = int64(v.GetValue())
		}
		if v := t.GetMaxPendingRequests(); v != nil {
			c.Thresholds.MaxPending = int64(v.GetValue())
		}
		if v := t.GetMaxRequests(); v != nil {
			c.Thresholds.MaxRequests = int64(v.GetValue())
		}
		if v := t.GetMaxRetries(); v != nil {
			c.Thresholds.MaxRetries = int64(v.GetValue())
		}
		if b := t.GetRetryBudget(); b != nil {
			c.Thresholds.BudgetPercent = 20
			if p := b.GetBudgetPercent(); p != nil {
				c.Thresholds.BudgetPercent = p.GetValue()
			}
			c.Thresholds.MinRetryConcurrency = 3
			if v := b.GetMinRetryConcurrency(); v != nil {
				c.Thresholds.MinRetryConcurrency = int64(v.GetValue())
			}
		}
	}
	if od := pc.GetOutlierDetection(); od != nil {
		o := &Outlier{Consecutive5xx: 5, BaseEjection: 30 * time.Second, MaxEjection: 300 * time.Second,
			MaxEjectionPercent: 10, Interval: 10 * time.Second}
		if v := od.GetConsecutive_5Xx(); v != nil {
			o.Consecutive5xx = int32(v.GetValue())
		}
		if v := od.GetBaseEjectionTime(); v != nil {
			o.BaseEjection = v.AsDuration()
		}
		if v := od.GetMaxEjectionTime(); v != nil {
			o.MaxEjection = v.AsDuration()
		}
		if v := od.GetMaxEjectionPercent(); v != nil {
			o.MaxEjectionPercent = int(v.GetValue())
		}
		if v := od.GetInterval(); v != nil {
			o.Interval = v.AsDuration()
		}
		if o.Consecutive5xx > 0 {
			c.Outlier = o
		}
	}
	var cla *endpointv3.ClusterLoadAssignment
	switch pc.GetType() {
	case clusterv3.Cluster_EDS:
		cla = clas[c.Name]
		if n := pc.GetEdsClusterConfig().GetServiceName(); n != "" && clas[n] != nil {
			cla = clas[n]
		}
	case clusterv3.Cluster_STATIC, clusterv3.Cluster_STRICT_DNS, clusterv3.Cluster_LOGICAL_DNS:
		cla = pc.GetLoadAssignment()
	default:
		return nil, fmt.Errorf("type: unsupported %s (expected EDS, STATIC, STRICT_DNS or LOGICAL_DNS)", pc.GetType())
	}
	tc, mesh, err := parseTransportSocket(pc.GetTransportSocket(), m.Identity)
	if err != nil {
		return nil, err
	}
	c.tls, c.mesh = tc, mesh
	st := m.state(c.Name)
	c.st = st
	st.mu.Lock()
	defer st.mu.Unlock()
	seen := map[string]bool{}
	for li, lle := range cla.GetEndpoints() {
		for ei, lb := range lle.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			if sa == nil {
				return nil, fmt.Errorf("load_assignment.endpoints[%d].lb_endpoints[%d].endpoint.address: expected a socket_address", li, ei)
			}
			addr := net.JoinHostPort(sa.GetAddress(), fmt.Sprint(sa.GetPortValue()))
			if seen[addr] {
				continue
			}
			seen[addr] = true
			if lb.GetHealthStatus() == corev3.HealthStatus_UNHEALTHY || lb.GetHealthStatus() == corev3.HealthStatus_DRAINING {
				continue
			}
			ep := st.eps[addr]
			if ep == nil {
				ep = newEndpoint(addr, st)
				st.eps[addr] = ep
			}
			w := 1
			if v := lb.GetLoadBalancingWeight(); v != nil && v.GetValue() > 0 {
				w = int(v.GetValue())
			}
			c.Endpoints = append(c.Endpoints, ep)
			ep.weight = w
		}
	}
	sort.SliceStable(c.Endpoints, func(i, j int) bool { return c.Endpoints[i].Addr < c.Endpoints[j].Addr })
	c.wl = expandWeights(c.Endpoints)
	if c.LB == RingHash {
		minRing := uint64(1024)
		if v := pc.GetRingHashLbConfig().GetMinimumRingSize(); v != nil && v.GetValue() > 0 {
			minRing = v.GetValue()
		}
		c.ring = buildRing(c.Endpoints, minRing)
	}
	if len(pc.GetHealthChecks()) > 0 {
		hc, err := parseHealthCheck(pc.GetHealthChecks()[0])
		if err != nil {
			return nil, fmt.Errorf("health_checks[0]: %w", err)
		}
		c.hc = hc
	}
	return c, nil
}

// Commit makes gen the live generation: health checkers are (re)started for changed clusters and
// the state of clusters that disappeared is released (idle connections closed).
func (m *Manager) Commit(gen map[string]*Cluster) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, st := range m.states {
		c, ok := gen[name]
		if !ok {
			if st.hcStop != nil {
				st.hcStop()
			}
			st.mu.Lock()
			for _, ep := range st.eps {
				ep.closeIdle()
			}
			st.mu.Unlock()
			st.h2.CloseIdleConnections()
			delete(m.states, name)
			continue
		}
		st.gen = c
		st.tlsCfg.Store(c.tls)
		key := ""
		if c.hc != nil {
			key = c.hc.key(c.Endpoints)
		}
		if key != st.hcKey {
			if st.hcStop != nil {
				st.hcStop()
				st.hcStop = nil
			}
			st.hcKey = key
			if c.hc != nil {
				ctx, cancel := context.WithCancel(context.Background())
				st.hcStop = cancel
				go c.hc.run(ctx, c, m.log)
			}
		}
		// Endpoints removed from the assignment: close their idle connections.
		st.mu.Lock()
		live := map[*Endpoint]bool{}
		for _, ep := range c.Endpoints {
			live[ep] = true
		}
		for addr, ep := range st.eps {
			if !live[ep] {
				ep.closeIdle()
				delete(st.eps, addr)
			}
		}
		st.mu.Unlock()
	}
}

// Close stops health checks and closes idle connections of every cluster.
func (m *Manager) Close() {
	m.Commit(nil)
	m.H1.CloseIdleConnections()
}
