// Package server is the Trellis HTTP server: the GraphQL API (queries, mutations and
// graphql-ws subscriptions), bearer-token auth with roles, Prometheus metrics, health checks
// and the GraphQL playground. Other components (the bundled mesh's control plane, the
// dashboard) attach their handlers with Mount.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	// Every mesh adapter, for translate, check and the capability matrix.
	_ "github.com/trellis-mesh/trellis/adapters/all"
	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/policies"
	"github.com/trellis-mesh/trellis/server/auth"
	"github.com/trellis-mesh/trellis/server/graph"
	"github.com/trellis-mesh/trellis/server/graph/generated"
	"github.com/trellis-mesh/trellis/server/graph/model"
	"github.com/trellis-mesh/trellis/server/live"
)

// Defaults of Config.
const (
	// DefaultAddr is where the server listens by default: loopback only.
	DefaultAddr = "127.0.0.1:8080"
	// DefaultMaxDepth is the deepest selection nesting a GraphQL operation may have.
	DefaultMaxDepth = 12
	// DefaultMaxComplexity is gqlgen's complexity budget of one operation.
	DefaultMaxComplexity = 5000
	// AdminTokenFile is the file in the home directory the first admin token is written to.
	AdminTokenFile = "admin-token"
)

// Config configures a Server. Zero values take the documented defaults.
type Config struct {
	// Addr is the listen address of Run. Default DefaultAddr.
	Addr string
	// Home is the Trellis home directory: the SQLite database and the admin-token file live
	// there. Required.
	Home string
	// Database is a PostgreSQL URL or an SQLite path (see models.Config). Default: SQLite in Home.
	Database string
	// LoadExamples is a directory of design files saved as revision 1 (author "trellis") when the
	// store holds no design yet. Default: none.
	LoadExamples string
	// ExampleDirs are more directories loaded like LoadExamples (after it, in order); a design
	// name seen twice keeps its first definition.
	ExampleDirs []string
	// XDSAddr is where Run and Serve serve the embedded xDS control plane of the bundled mesh
	// (the head revision of every stored design). Empty disables it; the CLI defaults it to
	// DefaultXDSAddr.
	XDSAddr string
	// Kubeconfig is the kubeconfig whose contexts are the clusters deployments go to. Empty:
	// $KUBECONFIG, else ~/.kube/config.
	Kubeconfig string
	// PolicyDirs adds user policy directories to the built-in catalogue.
	PolicyDirs []string
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// AdminTokenOut receives the admin token, once, when the first start creates it. Default
	// os.Stderr.
	AdminTokenOut io.Writer
	// MaxDepth bounds the nesting of GraphQL selections. Default DefaultMaxDepth.
	MaxDepth int
	// MaxComplexity bounds gqlgen's complexity of an operation. Default DefaultMaxComplexity.
	MaxComplexity int
	// ShutdownTimeout bounds graceful shutdown. Default 10s.
	ShutdownTimeout time.Duration
	// DisablePlayground turns the /playground page off.
	DisablePlayground bool
}

// Server serves the Trellis API. Create it with New, serve it with Run (or mount Handler in
// another server), and Close it when done.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *models.Store
	metrics *metrics
	mux     *http.ServeMux
	designs *live.Broker[model.DesignChange]
	ops     *live.Operations

	policyOnce   sync.Once
	policyEngine *policies.Engine
	policyErr    error

	resolver *graph.Resolver

	stopReplication func() // stops relaying design changes between replicas (replicas.go)

	xds   *controlplane.Server
	xdsMu sync.Mutex // serialises snapshot refreshes

	mu          sync.Mutex
	listener    net.Listener
	xdsListener net.Listener
}

// New opens the store (applying migrations), creates the first admin token when there is none,
// loads the example designs on first start and builds the HTTP handler.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.MaxComplexity <= 0 {
		cfg.MaxComplexity = DefaultMaxComplexity
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AdminTokenOut == nil {
		cfg.AdminTokenOut = os.Stderr
	}
	if cfg.Home == "" {
		return nil, errors.New("starting server: no home directory; hint: pass --home or set TRELLIS_HOME")
	}
	if err := os.MkdirAll(cfg.Home, 0o700); err != nil {
		return nil, fmt.Errorf("creating home directory: %w", err)
	}
	store, err := models.Open(ctx, models.Config{Home: cfg.Home, Database: cfg.Database})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, store: store, metrics: newMetrics(), mux: http.NewServeMux(),
		designs: &live.Broker[model.DesignChange]{}, ops: live.NewOperations(),
		xds: controlplane.New(controlplane.Options{Logger: cfg.Logger.With(slog.String("component", "xds"))})}
	s.resolver = &graph.Resolver{
		Store: s.store, Designs: s.designs, Operations: s.ops, Logger: s.log, Policies: s.policies, Kubeconfig: cfg.Kubeconfig,
	}
	if s.stopReplication, err = s.startReplication(ctx); err != nil {
		_ = store.Close()
		return nil, err
	}
	if err := s.bootstrap(ctx); err != nil {
		s.stopReplication()
		_ = store.Close()
		return nil, err
	}
	s.routes()
	return s, nil
}

// bootstrap creates the first admin token and loads the examples.
func (s *Server) bootstrap(ctx context.Context) error {
	token, created, err := s.store.EnsureAdminToken(ctx)
	if err != nil {
		return err
	}
	if created {
		path := filepath.Join(s.cfg.Home, AdminTokenFile)
		if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
			return fmt.Errorf("writing the admin token: %w", err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("restricting the admin token file: %w", err)
		}
		fmt.Fprintf(s.cfg.AdminTokenOut, "trellis: created the admin API token (shown once; also saved to %s):\n%s\n", path, token)
		s.log.Info("created the admin API token", slog.String("file", path))
	}
	var dirs []string
	if s.cfg.LoadExamples != "" {
		dirs = append(dirs, s.cfg.LoadExamples)
	}
	if dirs = append(dirs, s.cfg.ExampleDirs...); len(dirs) > 0 {
		return s.loadExamples(ctx, dirs)
	}
	return nil
}

// routes registers the server's handlers.
func (s *Server) routes() {
	s.mux.Handle("GET /healthz", s.metrics.instrument("/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})))
	s.mux.Handle("GET /readyz", s.metrics.instrument("/readyz", http.HandlerFunc(s.ready)))
	s.mux.Handle("GET /metrics", s.metrics.handler())
	s.mux.Handle("/graphql", s.metrics.instrument("/graphql", auth.Middleware(s.store, s.graphqlHandler())))
	if !s.cfg.DisablePlayground {
		s.mux.Handle("GET /playground", s.metrics.instrument("/playground", playground.Handler("Trellis GraphQL", "/graphql")))
	}
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain")
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness check failed", slog.String("error", err.Error()))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "database unavailable\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// graphqlHandler builds the gqlgen server: POST and websocket (graphql-transport-ws and legacy
// graphql-ws) transports, complexity and depth limits, per-response dataloaders and metrics.
func (s *Server) graphqlHandler() http.Handler {
	cfg := generated.Config{Resolvers: s.resolver}
	cfg.Directives.HasRole = graph.HasRole
	pageCost := func(child int, first, last *int) int {
		n := 20
		if first != nil {
			n = *first
		} else if last != nil {
			n = *last
		}
		return 1 + max(n, 1)*child
	}
	cfg.Complexity.Query.Designs = func(child int, first *int, _ *string, last *int, _ *string) int {
		return pageCost(child, first, last)
	}
	cfg.Complexity.Query.Events = func(child int, _ *model.EventFilter, first *int, _ *string, last *int, _ *string) int {
		return pageCost(child, first, last)
	}
	cfg.Complexity.Design.History = func(child int, first *int, _ *string, last *int, _ *string) int {
		return pageCost(child, first, last)
	}
	cfg.Complexity.Query.PerfResults = func(child int, _, _ *string, first *int, _ *string, last *int, _ *string) int {
		return pageCost(child, first, last)
	}
	cfg.Complexity.PerfProfile.Results = func(child int, _ *string, first *int, _ *string, last *int, _ *string) int {
		return pageCost(child, first, last)
	}
	h := handler.New(generated.NewExecutableSchema(cfg))
	h.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 10 * time.Second,
		InitFunc:              s.websocketInit,
		InitTimeout:           10 * time.Second,
	})
	h.AddTransport(transport.Options{})
	h.AddTransport(transport.GET{})
	h.AddTransport(transport.POST{})
	h.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	h.Use(extension.Introspection{})
	h.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	h.Use(extension.FixedComplexityLimit(s.cfg.MaxComplexity))
	h.Use(graph.DepthLimit{Max: s.cfg.MaxDepth})
	h.Use(graphqlMetrics{s.metrics})
	h.AroundResponses(graph.AttachLoaders(s.store))
	h.SetRecoverFunc(func(ctx context.Context, p any) error {
		s.log.ErrorContext(ctx, "graphql resolver panicked", slog.Any("panic", p))
		return &gqlerror.Error{Message: "internal error; see the server log", Extensions: map[string]any{"code": graph.CodeInternal}}
	})
	return h
}

// websocketInit authenticates a websocket connection: by the upgrade request's Authorization
// header, or by "Authorization" ("Bearer TOKEN") or "authToken" in the connection_init payload.
func (s *Server) websocketInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	if _, ok := auth.FromContext(ctx); ok {
		return ctx, nil, nil
	}
	header := p.Authorization()
	if header == "" {
		if t := p.GetString("authToken"); t != "" {
			header = "Bearer " + t
		}
	}
	actor, err := auth.Resolve(ctx, s.store, header)
	if err != nil {
		return ctx, nil, errors.New("unauthenticated: send a valid bearer token in the connection_init payload ({\"Authorization\": \"Bearer <token>\"})")
	}
	return auth.WithActor(ctx, actor), nil, nil
}

// policies compiles the policy engine once.
func (s *Server) policies(ctx context.Context) (*policies.Engine, error) {
	s.policyOnce.Do(func() {
		s.policyEngine, s.policyErr = policies.New(context.WithoutCancel(ctx), policies.Options{PolicyDirs: s.cfg.PolicyDirs})
	})
	return s.policyEngine, s.policyErr
}

// Mount attaches h under pattern (http.ServeMux syntax, e.g. "/ui/" or "GET /xds/status"), with
// request metrics. Mounted handlers are not authenticated by the server: wrap them with
// RequireRole for API-like endpoints. Mount may be called before or while the server runs; a
// pattern that conflicts with an existing one panics (a wiring mistake).
func (s *Server) Mount(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.metrics.instrument(pattern, h))
}

// RequireRole wraps h so that only bearer tokens with at least role reach it (401/403 otherwise).
func (s *Server) RequireRole(role models.Role, h http.Handler) http.Handler {
	return auth.RequireRole(s.store, role, h)
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Store returns the server's store.
func (s *Server) Store() *models.Store { return s.store }

// Operations returns the registry of long-running operations, for components that run
// operations the API reports on (deployments, mesh installs, performance runs).
func (s *Server) Operations() *live.Operations { return s.ops }

// Addr returns the address Run listens on (the actual one once it listens).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener != nil {
		return s.listener.Addr().String()
	}
	return s.cfg.Addr
}

// Run listens on the configured address and serves until ctx ends, then shuts down gracefully
// (in-flight requests get ShutdownTimeout to finish; running operations are cancelled).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends (see Run).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.listener = ln
	s.mu.Unlock()
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("trellis server listening", slog.String("addr", ln.Addr().String()),
		slog.String("graphql", "http://"+ln.Addr().String()+"/graphql"), slog.String("database", string(s.store.Dialect())))
	xctx, xcancel := context.WithCancel(ctx)
	defer xcancel()
	xerrc := make(chan error, 1)
	if s.cfg.XDSAddr != "" {
		xln, err := net.Listen("tcp", s.cfg.XDSAddr)
		if err != nil {
			return fmt.Errorf("listening for xDS on %s: %w; hint: pass --xds-addr \"\" to disable the control plane", s.cfg.XDSAddr, err)
		}
		go func() { xerrc <- s.ServeXDS(xctx, xln) }()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case err := <-xerrc:
		_ = hs.Close()
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.ops.Close()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = hs.Close()
	}
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// Close releases the store. Call it after Run returns.
func (s *Server) Close() error {
	s.ops.Close()
	s.stopReplication()
	return s.store.Close()
}

// DesignSubscribers returns the number of live designChanged subscriptions.
func (s *Server) DesignSubscribers() int { return s.designs.Subscribers() }
