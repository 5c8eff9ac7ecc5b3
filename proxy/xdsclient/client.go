// Package xdsclient is the proxy's ADS client: one state-of-the-world gRPC stream carrying
// Listener, RouteConfiguration, Cluster and ClusterLoadAssignment, with ACK/NACK (error_detail) for
// every response. Each response is turned into a complete candidate resource set and handed to an
// apply function; an error NACKs the response and keeps the last accepted resources.
package xdsclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-mesh/trellis/proxy/table"
)

// Type URLs of the four resource types.
const (
	ListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"
	RouteType    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	ClusterType  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	EndpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	SecretType   = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
)

// TokenHeader is the gRPC metadata key carrying the join token ("Bearer <token>") that authorises
// the proxy to receive a workload certificate.
const TokenHeader = "authorization"

// ApplyFunc validates and applies a complete candidate resource set; an error NACKs the response.
type ApplyFunc func(res table.Resources) error

// Client is an ADS client.
type Client struct {
	addr  string
	node  *corev3.Node
	apply ApplyFunc
	log   *slog.Logger

	// Token is the join token sent in the stream's gRPC metadata ("" sends none). It is never
	// logged.
	Token string
	// Secrets are the SDS secret names subscribed from the start (none: no SDS).
	Secrets []string

	mu    sync.Mutex
	stats Stats
}

// Stats are counters of the xDS exchange.
type Stats struct {
	// Acks and Nacks count sent acknowledgements.
	Acks, Nacks uint64
	// Connects counts stream (re)connections.
	Connects uint64
	// LastError is the last NACK reason or stream error.
	LastError string
}

// New returns a client for the ADS server at addr.
func New(addr string, node *corev3.Node, apply ApplyFunc, log *slog.Logger) *Client {
	if log == nil {
		log = slog.Default()
	}
	return &Client{addr: addr, node: node, apply: apply, log: log}
}

// Stats returns a copy of the client counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Run keeps an ADS stream open until ctx ends, reconnecting with backoff.
func (c *Client) Run(ctx context.Context) error {
	conn, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dialing xds server %s: %w", c.addr, err)
	}
	defer conn.Close()
	backoff := 100 * time.Millisecond
	for {
		started := time.Now()
		err := c.stream(ctx, conn)
		if ctx.Err() != nil {
			return nil
		}
		c.mu.Lock()
		c.stats.LastError = err.Error()
		c.mu.Unlock()
		c.log.Warn("ads stream ended; reconnecting", "xds", c.addr, "error", err, "backoff", backoff)
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

type typeState struct {
	version string
	nonce   string
	names   []string // subscribed names (nil = wildcard)

	subscribed    bool
	nackedVersion string
	nackRepeats   int
}

func (c *Client) stream(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if c.Token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, TokenHeader, "Bearer "+c.Token)
	}
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("opening ads stream: %w", err)
	}
	c.mu.Lock()
	c.stats.Connects++
	c.mu.Unlock()
	states := map[string]*typeState{ClusterType: {}, ListenerType: {}, EndpointType: {names: []string{}}, RouteType: {names: []string{}}}
	initial := []string{ClusterType, ListenerType}
	if len(c.Secrets) > 0 {
		// Secrets first, so that certificates are usually there before the listeners and clusters
		// that need them.
		states[SecretType] = &typeState{names: append([]string(nil), c.Secrets...), subscribed: true}
		initial = []string{SecretType, ClusterType, ListenerType}
	}
	var (
		listeners = map[string]*listenerv3.Listener{}
		routes    = map[string]*routev3.RouteConfiguration{}
		clusters  = map[string]*clusterv3.Cluster{}
		endpoints = map[string]*endpointv3.ClusterLoadAssignment{}
		secrets   = map[string]*tlsv3.Secret{}
	)
	first := true
	send := func(typeURL string, errDetail error) error {
		s := states[typeURL]
		req := &discoveryv3.DiscoveryRequest{TypeUrl: typeURL, VersionInfo: s.version, ResponseNonce: s.nonce, ResourceNames: s.names}
		if first {
			req.Node = c.node
			first = false
		}
		if errDetail != nil {
			req.ErrorDetail = &status.Status{Code: int32(codes.InvalidArgument), Message: errDetail.Error()}
		}
		return st.Send(req)
	}
	for _, t := range initial {
		if err := send(t, nil); err != nil {
			if errors.Is(err, io.EOF) {
				// The server closed the stream (for example, a missing join token): its status
				// comes with Recv.
				if _, rerr := st.Recv(); rerr != nil {
					return fmt.Errorf("receiving: %w", rerr)
				}
			}
			return fmt.Errorf("sending initial %s request: %w", t, err)
		}
	}
	for {
		resp, err := st.Recv()
		if err != nil {
			return fmt.Errorf("receiving: %w", err)
		}
		s := states[resp.GetTypeUrl()]
		if s == nil {
			c.log.Warn("ignoring response of unsupported type", "type", resp.GetTypeUrl())
			continue
		}
		// Decode into copies of the current sets.
		nl, nr, nc, ne, ns := listeners, routes, clusters, endpoints, secrets
		var decodeErr error
		switch resp.GetTypeUrl() {
		case ListenerType:
			nl, decodeErr = decodeAll[*listenerv3.Listener](resp, func() *listenerv3.Listener { return &listenerv3.Listener{} }, func(l *listenerv3.Listener) string { return l.GetName() })
		case RouteType:
			nr, decodeErr = decodeAll[*routev3.RouteConfiguration](resp, func() *routev3.RouteConfiguration { return &routev3.RouteConfiguration{} }, func(r *routev3.RouteConfiguration) string { return r.GetName() })
		case ClusterType:
			nc, decodeErr = decodeAll[*clusterv3.Cluster](resp, func() *clusterv3.Cluster { return &clusterv3.Cluster{} }, func(r *clusterv3.Cluster) string { return r.GetName() })
		case EndpointType:
			ne, decodeErr = decodeAll[*endpointv3.ClusterLoadAssignment](resp, func() *endpointv3.ClusterLoadAssignment { return &endpointv3.ClusterLoadAssignment{} }, func(r *endpointv3.ClusterLoadAssignment) string { return r.GetClusterName() })
		case SecretType:
			ns, decodeErr = decodeAll[*tlsv3.Secret](resp, func() *tlsv3.Secret { return &tlsv3.Secret{} }, func(r *tlsv3.Secret) string { return r.GetName() })
		}
		if decodeErr == nil {
			versions := map[string]string{}
			for t, ts := range states {
				versions[t] = ts.version
			}
			versions[resp.GetTypeUrl()] = resp.GetVersionInfo()
			decodeErr = c.apply(table.Resources{
				Listeners: values(nl), Routes: values(nr), Clusters: values(nc), Endpoints: values(ne), Secrets: values(ns), Versions: versions,
			})
		}
		s.nonce = resp.GetNonce()
		if decodeErr != nil {
			c.mu.Lock()
			c.stats.Nacks++
			c.stats.LastError = decodeErr.Error()
			c.mu.Unlock()
			if s.nackedVersion == resp.GetVersionInfo() {
				// The server re-sent a version we rejected: slow the loop down.
				s.nackRepeats++
				d := 50 * time.Millisecond << min(s.nackRepeats, 7)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(d):
				}
			} else {
				s.nackedVersion, s.nackRepeats = resp.GetVersionInfo(), 0
				c.log.Warn("NACK", "type", resp.GetTypeUrl(), "version", resp.GetVersionInfo(), "error", decodeErr)
			}
			if err := send(resp.GetTypeUrl(), decodeErr); err != nil {
				return fmt.Errorf("sending NACK: %w", err)
			}
			continue
		}
		listeners, routes, clusters, endpoints, secrets = nl, nr, nc, ne, ns
		s.version = resp.GetVersionInfo()
		c.mu.Lock()
		c.stats.Acks++
		c.mu.Unlock()
		if err := send(resp.GetTypeUrl(), nil); err != nil {
			return fmt.Errorf("sending ACK: %w", err)
		}
		// Follow-up subscriptions.
		switch resp.GetTypeUrl() {
		case ClusterType:
			if err := c.resubscribe(states[EndpointType], edsNames(clusters), func() error { return send(EndpointType, nil) }); err != nil {
				return err
			}
		case ListenerType:
			if err := c.resubscribe(states[RouteType], rdsNames(listeners), func() error { return send(RouteType, nil) }); err != nil {
				return err
			}
		}
	}
}

func (c *Client) resubscribe(s *typeState, names []string, send func() error) error {
	if equalStrings(s.names, names) && (s.subscribed || len(names) == 0) {
		return nil
	}
	s.names = names
	s.subscribed = true
	if err := send(); err != nil {
		return fmt.Errorf("updating subscription: %w", err)
	}
	return nil
}

func decodeAll[T proto.Message](resp *discoveryv3.DiscoveryResponse, newT func() T, name func(T) string) (map[string]T, error) {
	out := make(map[string]T, len(resp.GetResources()))
	for i, a := range resp.GetResources() {
		m := newT()
		if err := a.UnmarshalTo(m); err != nil {
			return nil, fmt.Errorf("resources[%d]: decoding %s: %w", i, a.GetTypeUrl(), err)
		}
		n := name(m)
		if n == "" {
			return nil, fmt.Errorf("resources[%d]: resource without a name", i)
		}
		out[n] = m
	}
	return out, nil
}

func values[T proto.Message](m map[string]T) []T {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]T, 0, len(m))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

func edsNames(cs map[string]*clusterv3.Cluster) []string {
	names := []string{}
	for _, c := range cs {
		if c.GetType() == clusterv3.Cluster_EDS {
			n := c.GetName()
			if s := c.GetEdsClusterConfig().GetServiceName(); s != "" {
				n = s
			}
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func rdsNames(ls map[string]*listenerv3.Listener) []string {
	names := []string{}
	for _, l := range ls {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				if !strings.HasSuffix(f.GetTypedConfig().GetTypeUrl(), "HttpConnectionManager") {
					continue
				}
				var h hcmv3.HttpConnectionManager
				if err := f.GetTypedConfig().UnmarshalTo(&h); err != nil {
					continue
				}
				if n := h.GetRds().GetRouteConfigName(); n != "" {
					names = append(names, n)
				}
			}
		}
	}
	sort.Strings(names)
	return dedupe(names)
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
