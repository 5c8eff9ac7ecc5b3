// Package proxy is `trellis proxy`, the bundled sidecar data plane: a small Envoy-compatible proxy
// that consumes standard xDS v3 over ADS (or a static bootstrap file) and serves the outbound and
// inbound listeners described in notes/xds-contract.md.
//
// With a control plane the proxy has a workload identity (package identity): it generates its
// private key at start, sends a certificate signing request in its node metadata (TRELLIS_CSR)
// with the join token in the stream's gRPC metadata, and receives its SPIFFE certificate and the
// mesh roots as SDS secrets. Connections between sidecars are then mutual TLS 1.3, and the
// caller's identity for RBAC is the verified client certificate's URI SAN; the
// x-trellis-peer-identity header is never trusted.
package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/trellis-mesh/trellis/proxy/identity"
	"github.com/trellis-mesh/trellis/proxy/router"
	"github.com/trellis-mesh/trellis/proxy/stats"
	"github.com/trellis-mesh/trellis/proxy/table"
	"github.com/trellis-mesh/trellis/proxy/upstream"
	"github.com/trellis-mesh/trellis/proxy/xdsclient"
)

// Config configures one proxy instance (the `trellis proxy` flags).
type Config struct {
	// XDS is the ADS server address (host:port); empty with Bootstrap.
	XDS string
	// Bootstrap is a static resources file used instead of xDS.
	Bootstrap string
	// Service, Namespace, Version and Identity describe the local workload.
	Service, Namespace, Version, Identity string
	// TrustDomain is the SPIFFE trust domain of the identity sent to peers (default cluster.local).
	TrustDomain string
	// Instance is the instance id (random when empty).
	Instance string
	// JoinToken authorises the proxy to receive a workload certificate from the control plane
	// (sent as gRPC metadata, never logged). Empty sends none.
	JoinToken string
	// Labels are pod-like labels sent in node metadata.
	Labels map[string]string
	// Inbound, Outbound and App are the addresses advertised in node metadata.
	Inbound, Outbound, App string
	// Admin is the admin listener address (empty disables it).
	Admin string
	// DrainTimeout bounds graceful drain on shutdown (default 10s).
	DrainTimeout time.Duration
	// WarmTimeout bounds how long an update waits for EDS of new clusters (default 3s).
	WarmTimeout time.Duration
	// TrimMemory drops start-up garbage and cold executable pages from RSS once ready (the CLI
	// sets it; in-process test proxies leave it off).
	TrimMemory bool
	// Logger receives logs (slog.Default when nil).
	Logger *slog.Logger
}

// Proxy is a running proxy.
type Proxy struct {
	cfg     Config
	id      *identity.Store
	log     *slog.Logger
	stats   *stats.Registry
	up      *upstream.Manager
	builder *table.Builder
	srv     *router.Server
	xds     *xdsclient.Client
	admin   net.Listener

	mu          sync.Mutex
	ready       chan struct{}
	readyOnce   sync.Once
	pending     *table.Table
	warmSince   time.Time
	warmTimer   *time.Timer
	applyErrors uint64
	done        chan error
	stopped     chan struct{}
}

// Run starts a proxy and blocks until ctx is cancelled, then drains gracefully.
func Run(ctx context.Context, cfg Config) error {
	p, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	return p.Wait()
}

// Start starts a proxy; it stops (draining) when ctx is cancelled.
func Start(ctx context.Context, cfg Config) (*Proxy, error) {
	if cfg.XDS == "" && cfg.Bootstrap == "" {
		return nil, errors.New("either an xds server address (--xds) or a bootstrap file (--bootstrap) is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	if cfg.WarmTimeout <= 0 {
		cfg.WarmTimeout = 3 * time.Second
	}
	if cfg.Instance == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Instance = hex.EncodeToString(b[:])
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Identity == "" {
		cfg.Identity = cfg.Service
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger, stats: stats.NewRegistry(), ready: make(chan struct{}), done: make(chan error, 1), stopped: make(chan struct{})}
	p.up = upstream.NewManager(p.log)
	// With a bootstrap the identity only serves static secrets (a key pair and roots).
	id, err := identity.New(PeerIdentity(cfg))
	if err != nil {
		return nil, err
	}
	p.id = id
	p.up.Identity = id
	p.builder = table.NewBuilder(p.up, p.stats, p.log)
	p.srv = router.New(p.id, p.up, p.stats, p.log)
	p.stats.AddCollector(p.upstreamMetrics)
	if cfg.Admin != "" {
		ln, err := net.Listen("tcp", cfg.Admin)
		if err != nil {
			return nil, fmt.Errorf("binding admin listener %s: %w", cfg.Admin, err)
		}
		p.admin = ln
		go func() { _ = (&http.Server{Handler: p.adminHandler(), ReadHeaderTimeout: 5 * time.Second}).Serve(ln) }()
	}
	runCtx, cancel := context.WithCancel(context.Background())
	if cfg.Bootstrap != "" {
		res, err := table.LoadBootstrap(cfg.Bootstrap)
		if err == nil {
			err = p.apply(res)
		}
		if err != nil {
			cancel()
			if p.admin != nil {
				_ = p.admin.Close()
			}
			return nil, err
		}
	} else {
		p.xds = xdsclient.New(cfg.XDS, p.node(), p.apply, p.log)
		p.xds.Token = cfg.JoinToken
		p.xds.Secrets = []string{identity.CertSecret, identity.RootSecret}
		go func() { _ = p.xds.Run(runCtx) }()
	}
	go func() {
		<-ctx.Done()
		close(p.stopped)
		cancel()
		dctx, dcancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
		err := p.srv.Drain(dctx)
		dcancel()
		p.up.Close()
		if p.admin != nil {
			_ = p.admin.Close()
		}
		p.mu.Lock()
		if p.warmTimer != nil {
			p.warmTimer.Stop()
		}
		p.mu.Unlock()
		p.done <- err
	}()
	return p, nil
}

// PeerIdentity is the SPIFFE ID the proxy asks a certificate for:
// spiffe://<trust domain>/ns/<namespace>/sa/<identity> (or --identity itself when it is already a
// SPIFFE ID). The control plane decides the identity it actually signs.
func PeerIdentity(cfg Config) string {
	id := cfg.Identity
	if id == "" {
		id = cfg.Service
	}
	if id == "" || strings.HasPrefix(id, "spiffe://") {
		return id
	}
	td := cfg.TrustDomain
	if td == "" {
		td = "cluster.local"
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = "default"
	}
	return "spiffe://" + td + "/ns/" + ns + "/sa/" + id
}

// Wait blocks until the proxy has stopped and returns the drain result.
func (p *Proxy) Wait() error { return <-p.done }

// Ready is closed once the first configuration with listeners is applied.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// ListenerAddr returns the bound address of a listener ("" when not bound).
func (p *Proxy) ListenerAddr(name string) string { return p.srv.Addr(name) }

// Identity returns the workload identity.
func (p *Proxy) Identity() *identity.Store { return p.id }

// XDSStats returns the ADS client counters (zero in bootstrap mode).
func (p *Proxy) XDSStats() xdsclient.Stats {
	if p.xds == nil {
		return xdsclient.Stats{}
	}
	return p.xds.Stats()
}

// AdminAddr returns the admin listener address.
func (p *Proxy) AdminAddr() string {
	if p.admin == nil {
		return ""
	}
	return p.admin.Addr().String()
}

// node builds the xDS node as the contract specifies.
func (p *Proxy) node() *corev3.Node {
	c := p.cfg
	ver := c.Version
	if ver == "" {
		ver = "-"
	}
	labels := c.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	lj, _ := json.Marshal(labels)
	fields := map[string]any{
		"TRELLIS_SERVICE":       c.Service,
		"TRELLIS_NAMESPACE":     c.Namespace,
		"TRELLIS_VERSION":       c.Version,
		"TRELLIS_IDENTITY":      c.Identity,
		"TRELLIS_INBOUND_ADDR":  c.Inbound,
		"TRELLIS_OUTBOUND_ADDR": c.Outbound,
		"TRELLIS_APP_ADDR":      c.App,
		"TRELLIS_LABELS":        string(lj),
	}
	if p.id != nil {
		fields["TRELLIS_CSR"] = p.id.CSR()
	}
	md, _ := structpb.NewStruct(fields)
	return &corev3.Node{
		Id:       fmt.Sprintf("%s.%s~%s~%s", c.Service, c.Namespace, ver, c.Instance),
		Cluster:  c.Service + "." + c.Namespace,
		Metadata: md,
	}
}

// apply builds a table from res and publishes it, holding it back (up to WarmTimeout) while EDS
// clusters have no assignment yet, so traffic never moves to a cluster without endpoints.
func (p *Proxy) apply(res table.Resources) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, err := p.builder.Build(res)
	if err != nil {
		p.applyErrors++
		return err
	}
	if len(t.Warming) > 0 {
		if p.pending == nil {
			p.warmSince = time.Now()
		}
		p.pending = t
		if time.Since(p.warmSince) < p.cfg.WarmTimeout {
			if p.warmTimer == nil {
				p.warmTimer = time.AfterFunc(p.cfg.WarmTimeout, p.flushPending)
			}
			return nil
		}
	}
	return p.publishLocked(t)
}

// trimWhenIdle trims memory once ready, again when start-up settles, and then each time the proxy
// becomes idle (no open downstream connection and none accepted for two seconds) after activity.
func (p *Proxy) trimWhenIdle() {
	trimResidentMemory()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	_, last := p.srv.Activity()
	trimmed := false
	for {
		select {
		case <-p.stopped:
			return
		case <-t.C:
		}
		active, total := p.srv.Activity()
		if active > 0 || total != last {
			last, trimmed = total, false
			continue
		}
		if !trimmed {
			trimResidentMemory()
			trimmed = true
		}
	}
}

func (p *Proxy) flushPending() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.warmTimer = nil
	if p.pending != nil {
		if err := p.publishLocked(p.pending); err != nil {
			p.log.Error("applying warmed configuration", "error", err)
		}
	}
}

func (p *Proxy) publishLocked(t *table.Table) error {
	if err := p.srv.Apply(t); err != nil {
		return err
	}
	p.pending = nil
	if p.warmTimer != nil {
		p.warmTimer.Stop()
		p.warmTimer = nil
	}
	p.up.Commit(t.Clusters)
	p.builder.Previous = t
	if len(t.Listeners) > 0 {
		// Ready once listeners are bound (the first response may carry secrets or clusters only).
		p.readyOnce.Do(func() {
			close(p.ready)
			if p.cfg.TrimMemory {
				go p.trimWhenIdle()
			}
		})
	}
	names := make([]string, 0, len(t.Listeners))
	for n := range t.Listeners {
		names = append(names, n)
	}
	sort.Strings(names)
	p.log.Debug("configuration applied", "listeners", strings.Join(names, ","), "clusters", len(t.Clusters))
	return nil
}
