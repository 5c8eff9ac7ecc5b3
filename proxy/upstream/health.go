package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// healthCheck is an active HTTP, gRPC (grpc.health.v1) or TCP health check.
type healthCheck struct {
	path      string
	host      string
	interval  time.Duration
	timeout   time.Duration
	unhealthy int
	healthy   int
	tcpOnly   bool
	grpc      bool
	service   string // gRPC health service name ("" = the server as a whole)
}

func parseHealthCheck(h *corev3.HealthCheck) (*healthCheck, error) {
	hc := &healthCheck{interval: 5 * time.Second, timeout: time.Second, unhealthy: 3, healthy: 1, path: "/"}
	if d := h.GetInterval(); d != nil {
		hc.interval = d.AsDuration()
	}
	if d := h.GetTimeout(); d != nil {
		hc.timeout = d.AsDuration()
	}
	if v := h.GetUnhealthyThreshold(); v != nil && v.GetValue() > 0 {
		hc.unhealthy = int(v.GetValue())
	}
	if v := h.GetHealthyThreshold(); v != nil && v.GetValue() > 0 {
		hc.healthy = int(v.GetValue())
	}
	switch {
	case h.GetHttpHealthCheck() != nil:
		if p := h.GetHttpHealthCheck().GetPath(); p != "" {
			hc.path = p
		}
		hc.host = h.GetHttpHealthCheck().GetHost()
	case h.GetTcpHealthCheck() != nil:
		hc.tcpOnly = true
	case h.GetGrpcHealthCheck() != nil:
		hc.grpc = true
		hc.service = h.GetGrpcHealthCheck().GetServiceName()
		hc.host = h.GetGrpcHealthCheck().GetAuthority()
	default:
		return nil, errors.New("only http_health_check, grpc_health_check and tcp_health_check are supported")
	}
	if hc.interval <= 0 {
		return nil, fmt.Errorf("interval: must be positive, got %s", hc.interval)
	}
	return hc, nil
}

func (h *healthCheck) key(eps []*Endpoint) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s|%d|%d|%v|%v|%s", h.path, h.host, h.interval, h.timeout, h.unhealthy, h.healthy, h.tcpOnly, h.grpc, h.service)
	for _, e := range eps {
		b.WriteString("|" + e.Addr)
	}
	return b.String()
}

// run checks every endpoint of c each interval until ctx is cancelled.
func (h *healthCheck) run(ctx context.Context, c *Cluster, log *slog.Logger) {
	client := &http.Client{Timeout: h.timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	scheme := "http"
	switch {
	case c.HTTP2:
		client.Transport = c.st.h2
	case c.tls != nil:
		st := c.st
		client.Transport = &http.Transport{DisableKeepAlives: true, DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialTLS(ctx, network, addr, st.tlsCfg.Load())
		}}
		scheme = "https"
	}
	fails := map[*Endpoint]int{}
	oks := map[*Endpoint]int{}
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		for _, e := range c.Endpoints {
			ok := h.check(ctx, client, scheme, c.tls, e)
			if ctx.Err() != nil {
				return
			}
			if ok {
				fails[e] = 0
				oks[e]++
				if e.hcUnhealthy.Load() && oks[e] >= h.healthy {
					e.hcUnhealthy.Store(false)
					log.Info("endpoint healthy", "cluster", c.Name, "endpoint", e.Addr)
				}
			} else {
				c.st.counters.HealthCheckFailures.Add(1)
				oks[e] = 0
				fails[e]++
				if !e.hcUnhealthy.Load() && fails[e] >= h.unhealthy {
					e.hcUnhealthy.Store(true)
					log.Warn("endpoint failed health checks", "cluster", c.Name, "endpoint", e.Addr)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *healthCheck) check(ctx context.Context, client *http.Client, scheme string, tc *tls.Config, e *Endpoint) bool {
	if h.tcpOnly {
		d := netDialer(h.timeout)
		conn, err := d.DialContext(ctx, "tcp", e.Addr)
		if err != nil {
			return false
		}
		_ = conn.Close()
		return true
	}
	if h.grpc {
		return h.checkGRPC(ctx, tc, e)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+e.Addr+h.path, nil)
	if err != nil {
		return false
	}
	if h.host != "" {
		req.Host = h.host
	}
	req.Header.Set("User-Agent", "trellis-proxy-health-check")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

func netDialer(timeout time.Duration) *net.Dialer { return &net.Dialer{Timeout: timeout} }

// checkGRPC calls grpc.health.v1.Health/Check on the endpoint (h2c) and wants SERVING.
func (h *healthCheck) checkGRPC(ctx context.Context, tc *tls.Config, e *Endpoint) bool {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if tc != nil {
		opts[0] = grpc.WithTransportCredentials(credentials.NewTLS(tc.Clone()))
	}
	if h.host != "" {
		opts = append(opts, grpc.WithAuthority(h.host))
	}
	conn, err := grpc.NewClient("passthrough:///"+e.Addr, opts...)
	if err != nil {
		return false
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{Service: h.service})
	return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}
