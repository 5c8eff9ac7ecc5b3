// Package demoapp is the demo application of the bundled mesh: one small program plays every
// service of the demo (frontend, reviews, ratings, …). Each instance answers HTTP with JSON naming
// its service and version (so tests can count versions), optionally calls its upstreams through
// its sidecar's outbound address (Host header = the upstream's name), injects latency and errors
// on demand, and serves a gRPC echo service (unary and server streaming) and the gRPC health
// service on the same port (HTTP/1.1 and h2c).
package demoapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Config configures one instance.
type Config struct {
	// Service is the service this instance plays ("frontend"). Required.
	Service string
	// Version is the instance's version ("v1"). Default "".
	Version string
	// Listen is the address to serve on ("127.0.0.1:9080"). Required.
	Listen string
	// Latency is added to every request. Default 0.
	Latency time.Duration
	// ErrorRate is the share of requests answered 500, [0, 1]. Default 0.
	ErrorRate float64
	// Upstreams are the services called on every request, in order.
	Upstreams []string
	// Outbound is the sidecar's outbound address the upstreams are called through. Default
	// "127.0.0.1:15001".
	Outbound string
	// Logger receives the instance's logs. Default slog.Default().
	Logger *slog.Logger
}

// PropagatedHeaders are copied from an incoming request to the upstream calls it makes.
var PropagatedHeaders = []string{"end-user", "x-user", "x-request-id", "traceparent", "tracestate", "cookie"}

// Response is the JSON body every HTTP request receives.
type Response struct {
	// Service and Version identify the instance that answered.
	Service string `json:"service"`
	Version string `json:"version,omitempty"`
	// Path is the request path the instance saw (after any rewrite).
	Path string `json:"path"`
	// Host is the Host header the instance saw.
	Host string `json:"host"`
	// Error is set when the instance injected an error or an upstream failed.
	Error string `json:"error,omitempty"`
	// Upstreams are the answers of the upstream calls, in order.
	Upstreams []Upstream `json:"upstreams,omitempty"`
}

// Upstream is the result of one upstream call.
type Upstream struct {
	// Name is the upstream service's name (the Host header sent).
	Name string `json:"name"`
	// Status is the HTTP status received (0 when the call failed).
	Status int `json:"status"`
	// Body is the upstream's JSON answer, when it sent one.
	Body *Response `json:"body,omitempty"`
	// Error describes a failed call or a non-JSON answer.
	Error string `json:"error,omitempty"`
}

// App is a running demo instance.
type App struct {
	cfg      Config
	client   *http.Client
	requests atomic.Int64
	grpc     *grpc.Server
}

// New validates cfg and returns an instance ready to Serve.
func New(cfg Config) (*App, error) {
	if cfg.Service == "" {
		return nil, errors.New("demo app: service is required")
	}
	if cfg.ErrorRate < 0 || cfg.ErrorRate > 1 {
		return nil, fmt.Errorf("demo app: error rate must be within [0, 1], got %g", cfg.ErrorRate)
	}
	if cfg.Outbound == "" {
		cfg.Outbound = "127.0.0.1:15001"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &App{cfg: cfg, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second,
	}}}
	a.grpc = grpc.NewServer()
	a.grpc.RegisterService(&EchoServiceDesc, &echoServer{app: a})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(EchoServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(a.grpc, hs)
	return a, nil
}

// Requests returns how many HTTP and gRPC requests the instance has handled.
func (a *App) Requests() int64 { return a.requests.Load() }

// Handler returns the instance's HTTP handler (gRPC requests are dispatched to the gRPC server).
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/", a.serveHTTP)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			a.grpc.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Serve serves on lis (HTTP/1.1 and h2c) until ctx is done.
func (a *App) Serve(ctx context.Context, lis net.Listener) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: a.Handler(), Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		a.grpc.Stop()
	}()
	a.cfg.Logger.Info("demo app listening", "service", a.cfg.Service, "version", a.cfg.Version, "addr", lis.Addr().String())
	if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("demo app %s: %w", a.cfg.Service, err)
	}
	return nil
}

// Run listens on cfg.Listen and serves until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	a, err := New(cfg)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("demo app %s: %w", cfg.Service, err)
	}
	return a.Serve(ctx, lis)
}

func (a *App) inject(ctx context.Context) error {
	a.requests.Add(1)
	if a.cfg.Latency > 0 {
		select {
		case <-time.After(a.cfg.Latency):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if a.cfg.ErrorRate > 0 && rand.Float64() < a.cfg.ErrorRate {
		return errors.New("injected error")
	}
	return nil
}

func (a *App) serveHTTP(w http.ResponseWriter, r *http.Request) {
	resp := Response{Service: a.cfg.Service, Version: a.cfg.Version, Path: r.URL.Path, Host: r.Host}
	status := http.StatusOK
	if err := a.inject(r.Context()); err != nil {
		resp.Error = err.Error()
		writeJSON(w, http.StatusInternalServerError, resp)
		return
	}
	for _, name := range a.cfg.Upstreams {
		up := a.call(r, name)
		if up.Status != http.StatusOK && status == http.StatusOK {
			status = http.StatusBadGateway
			resp.Error = fmt.Sprintf("upstream %s failed", name)
		}
		resp.Upstreams = append(resp.Upstreams, up)
	}
	writeJSON(w, status, resp)
}

// call sends the request's method-less copy (GET, same path and query) to an upstream through
// the sidecar's outbound address.
func (a *App) call(in *http.Request, name string) Upstream {
	up := Upstream{Name: name}
	req, err := http.NewRequestWithContext(in.Context(), http.MethodGet, "http://"+a.cfg.Outbound+in.URL.RequestURI(), nil)
	if err != nil {
		up.Error = err.Error()
		return up
	}
	req.Host = name
	for _, h := range PropagatedHeaders {
		if v := in.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	res, err := a.client.Do(req)
	if err != nil {
		up.Error = err.Error()
		return up
	}
	defer res.Body.Close()
	up.Status = res.StatusCode
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var r Response
	if json.Unmarshal(body, &r) == nil && r.Service != "" {
		up.Body = &r
	} else {
		up.Error = strings.TrimSpace(string(body))
	}
	return up
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
