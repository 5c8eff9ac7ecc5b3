// Package controlplane is the bundled mesh's xDS control plane: an Aggregated Discovery Service
// (state-of-the-world ADS over gRPC, go-control-plane) serving every connected proxy the snapshot
// adapters/native builds from the current designs.
//
// In local ("universal") mode each proxy registers its instance (service, version, labels,
// inbound address) from its node metadata when its ADS stream opens and is deregistered when the
// stream closes; every change of designs or of registered instances recomputes and pushes the
// snapshots of all connected nodes. The server is embeddable: New + Serve on any listener (tests
// use 127.0.0.1:0), or Register on an existing *grpc.Server.
//
// Identity: the control plane is the mesh CA (package meshca). A proxy sends a certificate
// signing request in its node metadata (TRELLIS_CSR) and its join token in the stream's gRPC
// metadata; the control plane signs a short-lived certificate whose only name is
// spiffe://<trust-domain>/ns/<namespace>/sa/<identity> and serves it with the mesh root as SDS
// secrets ("default", "ROOTCA") on the same ADS stream, re-signing it past half of its lifetime.
// The CSR flow keeps private keys in the proxies: the control plane never holds or logs one.
//
// Trust model: whoever holds the join token may enroll a proxy under any service identity; the
// token is the credential of the whole local mesh, like the admin token is of the API. Without a
// join token (Options.JoinToken empty) enrollment is open to anything that reaches the xDS port,
// which the CLI never configures. The xDS stream itself is plaintext gRPC (loopback by default),
// so the token and the (public) certificates can be read by whoever can sniff that link.
package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/native"
	"github.com/trellis-mesh/trellis/controlplane/meshca"
	"github.com/trellis-mesh/trellis/spec"
)

// Options configure a control plane.
type Options struct {
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// TrustDomain is the SPIFFE trust domain of access-rule principals and workload certificates.
	// Default "cluster.local".
	TrustDomain string
	// CA signs workload certificates. Default: a new in-memory CA (certificates then stay valid
	// only as long as this process runs; the CLI persists its CA).
	CA *meshca.CA
	// JoinToken is the token a proxy must present to enroll. Empty: open enrollment (any process
	// reaching the xDS port may obtain any identity), logged as a warning.
	JoinToken string
	// CertTTL is the lifetime of workload certificates (rotated at half life). Default 24h.
	CertTTL time.Duration
}

// Server is an ADS server for the bundled mesh. Its methods are safe for concurrent use.
type Server struct {
	log   *slog.Logger
	opts  Options
	cache cachev3.SnapshotCache
	xds   serverv3.Server

	mu       sync.Mutex
	res      *native.Resources
	shared   sharedHash // hash of res's design-level resources, computed once per change
	designs  []*spec.Design
	nodes    map[string]*nodeState // by node id
	streams  map[int64]string      // stream id -> node id
	versions map[string]string     // node id -> version of its current snapshot

	grpcOnce sync.Once
	grpcSrv  *grpc.Server

	ca *meshca.CA
}

type nodeState struct {
	info    native.NodeInfo
	streams int
	cert    *issued
}

var _ serverv3.Callbacks = (*callbacks)(nil)

// New returns a control plane with no designs: connected proxies get listeners with empty
// routing until SetDesigns is called.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CertTTL <= 0 {
		opts.CertTTL = meshca.DefaultTTL
	}
	s := &Server{
		log: opts.Logger, opts: opts, ca: opts.CA,
		nodes: map[string]*nodeState{}, streams: map[int64]string{}, versions: map[string]string{},
	}
	if s.ca == nil {
		ca, err := meshca.Generate(opts.TrustDomain)
		if err != nil {
			// crypto/rand failing is not recoverable; without a CA no proxy could get an identity.
			panic(fmt.Sprintf("controlplane: generating an in-memory mesh CA: %v", err))
		}
		s.ca = ca
	}

	s.res, _ = merge(nil, opts, s.log)
	s.shared, _ = hashShared(s.res)
	s.cache = cachev3.NewSnapshotCache(true, cachev3.IDHash{}, slogAdapter{s.log})
	s.xds = serverv3.NewServer(context.Background(), s.cache, &callbacks{s: s})
	return s
}

// Register mounts the Aggregated Discovery Service on g, so that another gRPC server (for
// example the one of `trellis serve`) can host the control plane.
func (s *Server) Register(g *grpc.Server) {
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, s.xds)
}

// GRPCServer returns the server's own gRPC server (created on first use) with ADS registered.
func (s *Server) GRPCServer() *grpc.Server {
	s.grpcOnce.Do(func() {
		s.grpcSrv = grpc.NewServer(
			grpc.MaxConcurrentStreams(100000),
			grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 5 * time.Second}),
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 15 * time.Second, PermitWithoutStream: true}),
		)
		s.Register(s.grpcSrv)
	})
	return s.grpcSrv
}

// Serve serves ADS on lis until ctx is done, then stops the gRPC server (closing every stream,
// which deregisters every instance). It returns nil after a cancellation.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	g := s.GRPCServer()
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	go s.rotate(rctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			g.Stop()
		case <-done:
		}
	}()
	s.mu.Lock()
	open := s.opts.JoinToken == ""
	s.mu.Unlock()
	if open {
		s.log.Warn("xDS control plane without a join token: any process that reaches the xDS port can obtain any workload identity")
	}
	s.log.Info("xDS control plane listening", "addr", lis.Addr().String())
	err := g.Serve(lis)
	close(done)
	if ctx.Err() != nil && (err == nil || errors.Is(err, grpc.ErrServerStopped)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("serving xDS: %w", err)
	}
	return nil
}

// SetDesigns replaces the designs served and pushes a new snapshot to every connected node. An
// error (a design that cannot be translated) keeps the previous designs in force. The warnings
// are those of translating every design.
func (s *Server) SetDesigns(ctx context.Context, designs []*spec.Design) ([]adapters.Warning, error) {
	res, warns, err := buildAll(designs, s.opts, s.log)
	if err != nil {
		return warns, err
	}
	shared, err := hashShared(res)
	if err != nil {
		return warns, fmt.Errorf("hashing xDS resources: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.designs = designs
	s.res = res
	s.shared = shared
	s.pushLocked(ctx)
	return warns, nil
}

// Designs returns the designs currently served.
func (s *Server) Designs() []*spec.Design {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*spec.Design(nil), s.designs...)
}

// Nodes returns the connected proxies, sorted by node id.
func (s *Server) Nodes() []native.NodeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]native.NodeInfo, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SnapshotVersion returns the version of a node's current snapshot ("" when it has none).
func (s *Server) SnapshotVersion(nodeID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions[nodeID]
}

func (s *Server) endpointsLocked() []native.Endpoint {
	eps := make([]native.Endpoint, 0, len(s.nodes))
	for _, n := range s.nodes {
		if n.info.InboundAddr != "" && n.info.AppAddr != "" {
			eps = append(eps, n.info.Endpoint())
		}
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].Node < eps[j].Node })
	return eps
}

// pushLocked recomputes every connected node's snapshot and sets those whose content changed.
func (s *Server) pushLocked(ctx context.Context) {
	eps := s.endpointsLocked()
	ids := make([]string, 0, len(s.nodes))
	for id := range s.nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s.setNodeLocked(ctx, s.nodes[id], eps)
	}
}

func (s *Server) setNodeLocked(ctx context.Context, n *nodeState, eps []native.Endpoint) {
	info := n.info
	res, err := native.ForNode(s.res, info, eps)
	if err != nil {
		s.log.Error("building snapshot", "node", info.ID, "err", err)
		return
	}
	var chain []byte
	if n.cert != nil {
		chain = n.cert.chain
	}
	res[resourcev3.SecretType] = native.NodeSecrets(chain, s.ca.RootPEM())
	version, err := contentVersion(res, s.shared)
	if err != nil {
		s.log.Error("hashing snapshot", "node", info.ID, "err", err)
		return
	}
	if s.versions[info.ID] == version {
		return
	}
	snap, err := cachev3.NewSnapshot(version, res)
	if err == nil {
		err = snap.Consistent()
	}
	if err != nil {
		s.log.Error("snapshot rejected", "node", info.ID, "err", err)
		return
	}
	// Watches are answered on buffered per-stream channels; the timeout only guards against a
	// stream that stopped reading.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.cache.SetSnapshot(sctx, info.ID, snap); err != nil {
		s.log.Error("setting snapshot", "node", info.ID, "err", err)
		return
	}
	s.versions[info.ID] = version
	s.log.Debug("snapshot pushed", "node", info.ID, "version", version)
}

// sharedHash is the hash of the design-level resources every node's snapshot shares (by
// pointer), so that versioning a node's snapshot only marshals what is specific to the node.
type sharedHash struct {
	sum string
	set map[types.Resource]bool
}

var deterministic = proto.MarshalOptions{Deterministic: true}

func hashShared(res *native.Resources) (sharedHash, error) {
	h := sha256.New()
	set := map[types.Resource]bool{}
	add := func(r types.Resource) error {
		b, err := deterministic.Marshal(r)
		if err != nil {
			return err
		}
		h.Write(b)
		set[r] = true
		return nil
	}
	if err := add(res.Outbound); err != nil {
		return sharedHash{}, err
	}
	for _, c := range res.Clusters {
		if err := add(c); err != nil {
			return sharedHash{}, err
		}
	}
	return sharedHash{sum: hex.EncodeToString(h.Sum(nil)), set: set}, nil
}

// contentVersion hashes a node's snapshot deterministically: equal content, equal version.
// Shared design-level resources contribute their precomputed hash and their names.
func contentVersion(res map[resourcev3.Type][]types.Resource, shared sharedHash) (string, error) {
	h := sha256.New()
	h.Write([]byte(shared.sum))
	typs := make([]string, 0, len(res))
	for t := range res {
		typs = append(typs, t)
	}
	sort.Strings(typs)
	for _, t := range typs {
		h.Write([]byte(t))
		for _, r := range res[t] {
			if shared.set[r] {
				h.Write([]byte(cachev3.GetResourceName(r)))
				continue
			}
			b, err := deterministic.Marshal(r)
			if err != nil {
				return "", err
			}
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// register records a node on the first request of a stream and pushes snapshots.
func (s *Server) register(streamID int64, node *corev3.Node) error {
	info, err := native.NodeInfoFromProto(node)
	if err != nil {
		s.log.Warn("rejecting xDS stream", "stream", streamID, "err", err)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.streams[streamID]; ok {
		return nil
	}
	n, ok := s.nodes[info.ID]
	if ok {
		n.info = info
	} else {
		n = &nodeState{info: info}
	}
	if err := s.issueLocked(n, time.Now()); err != nil {
		s.log.Warn("rejecting xDS stream: cannot issue its workload certificate", "stream", streamID, "node", info.ID, "err", err)
		return fmt.Errorf("issuing the workload certificate of node %q: %w", info.ID, err)
	}
	s.streams[streamID] = info.ID
	n.streams++
	s.nodes[info.ID] = n
	s.log.Info("proxy connected", "node", info.ID, "service", info.Key(), "version", info.Version, "inbound", info.InboundAddr)
	// The new node's snapshot must exist before its first watch is created (right after this
	// callback returns); the others learn the new endpoint.
	s.pushLocked(context.Background())
	return nil
}

func (s *Server) deregister(streamID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.streams[streamID]
	if !ok {
		return
	}
	delete(s.streams, streamID)
	n := s.nodes[id]
	n.streams--
	if n.streams > 0 {
		return
	}
	delete(s.nodes, id)
	delete(s.versions, id)
	s.cache.ClearSnapshot(id)
	s.log.Info("proxy disconnected", "node", id)
	s.pushLocked(context.Background())
}

// callbacks hooks the xDS server's stream events.
type callbacks struct {
	serverv3.CallbackFuncs
	s *Server
}

// OnStreamOpen checks the stream's join token; the node is only known from its first request.
func (c *callbacks) OnStreamOpen(ctx context.Context, id int64, typ string) error {
	c.s.log.Debug("xDS stream opened", "stream", id, "type", typ)
	return c.s.authorize(ctx, id)
}

// OnStreamRequest registers the node on the stream's first request.
func (c *callbacks) OnStreamRequest(id int64, req *discoveryv3.DiscoveryRequest) error {
	if req.GetErrorDetail() != nil {
		c.s.log.Warn("proxy rejected configuration (NACK)", "stream", id, "node", req.GetNode().GetId(),
			"type", req.GetTypeUrl(), "version", req.GetVersionInfo(), "error", req.GetErrorDetail().GetMessage())
	}
	return c.s.register(id, req.GetNode())
}

// OnStreamClosed deregisters the stream's node.
func (c *callbacks) OnStreamClosed(id int64, _ *corev3.Node) { c.s.deregister(id) }

// buildAll translates every design and merges the resources; the first design declaring a service
// key, cluster or domain wins, later duplicates are logged and dropped.
func buildAll(designs []*spec.Design, opts Options, log *slog.Logger) (*native.Resources, []adapters.Warning, error) {
	var all []*native.Resources
	var warns []adapters.Warning
	for _, d := range designs {
		r, ws, err := native.Build(d, adapters.Options{TrustDomain: opts.TrustDomain})
		warns = append(warns, ws...)
		if err != nil {
			return nil, warns, err
		}
		all = append(all, r)
	}
	res, _ := merge(all, opts, log)
	return res, warns, nil
}

func merge(all []*native.Resources, opts Options, log *slog.Logger) (*native.Resources, error) {
	out := &native.Resources{
		TrustDomain: adapters.Options{TrustDomain: opts.TrustDomain}.TrustDomainOrDefault(),
		Outbound:    &routev3.RouteConfiguration{Name: native.RouteOutbound},
		Services:    map[string]*native.ServiceResources{},
	}
	clusters := map[string]bool{}
	domains := map[string]bool{}
	vhosts := map[string]bool{}
	subsets := map[string]bool{}
	for _, r := range all {
		for _, vh := range r.Outbound.GetVirtualHosts() {
			if vhosts[vh.Name] {
				log.Warn("virtual host declared by two designs; keeping the first", "virtual_host", vh.Name)
				continue
			}
			vhosts[vh.Name] = true
			var keep []string
			for _, d := range vh.Domains {
				if !domains[d] {
					domains[d] = true
					keep = append(keep, d)
				}
			}
			if len(keep) == 0 {
				continue
			}
			if len(keep) != len(vh.Domains) {
				vh = proto.Clone(vh).(*routev3.VirtualHost)
				vh.Domains = keep
			}
			out.Outbound.VirtualHosts = append(out.Outbound.VirtualHosts, vh)
		}
		for _, c := range r.Clusters {
			if clusters[c.Name] {
				continue
			}
			clusters[c.Name] = true
			out.Clusters = append(out.Clusters, c)
		}
		for _, sub := range r.Subsets {
			if !subsets[sub.Cluster] {
				subsets[sub.Cluster] = true
				out.Subsets = append(out.Subsets, sub)
			}
		}
		for k, v := range r.Services {
			if _, ok := out.Services[k]; !ok {
				out.Services[k] = v
			}
		}
	}
	sort.Slice(out.Clusters, func(i, j int) bool { return out.Clusters[i].Name < out.Clusters[j].Name })
	sort.Slice(out.Subsets, func(i, j int) bool { return out.Subsets[i].Cluster < out.Subsets[j].Cluster })
	return out, nil
}

// slogAdapter routes go-control-plane's logs to slog (its info logs are chatty: debug level).
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debugf(format string, args ...any) { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Infof(format string, args ...any)  { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Warnf(format string, args ...any)  { a.l.Warn(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Errorf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
