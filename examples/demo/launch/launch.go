// Package launch runs the bundled-mesh demo on loopback: an in-process xDS control plane serving
// one design, one in-process demo app instance per service version, and a `trellis proxy`
// subprocess beside each instance. `trellis demo` is a thin wrapper around Start.
//
// The sidecars talk mutual TLS with certificates from the control plane's in-memory CA and enroll
// with a join token (Options.JoinToken, or one generated for the run), passed to them in
// $TRELLIS_JOIN_TOKEN: the launcher never runs open enrollment.
//
// The design's services may carry launcher-only annotations:
//
//	demo.trellis.dev/calls: "reviews,ratings"   upstream services called on every request
//	demo.trellis.dev/latency: "5ms"             latency each instance adds
//	demo.trellis.dev/error-rate: "0.2"          share of requests each instance fails
package launch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/controlplane/meshca"
	"github.com/trellis-mesh/trellis/examples/demo/demoapp"
	"github.com/trellis-mesh/trellis/spec"
)

// Annotation keys read by the launcher.
const (
	AnnotationCalls     = "demo.trellis.dev/calls"
	AnnotationLatency   = "demo.trellis.dev/latency"
	AnnotationErrorRate = "demo.trellis.dev/error-rate"
)

// Options configure a demo run.
type Options struct {
	// Design is the design file. Required.
	Design string
	// ProxyCommand runs a sidecar: the flags of `trellis proxy` are appended. Default: this
	// executable with "proxy".
	ProxyCommand []string
	// Host is the loopback address everything binds to. Default "127.0.0.1".
	Host string
	// XDSAddr is the control plane's address. Default: a free port on Host.
	XDSAddr string
	// ProxyOutput receives the sidecars' output, each line prefixed with the instance name.
	// Default io.Discard.
	ProxyOutput io.Writer
	// Logger receives the launcher's, the control plane's and the apps' logs. Default
	// slog.Default().
	Logger *slog.Logger
	// ReadyTimeout bounds the wait for every sidecar to report ready. Default 30s.
	ReadyTimeout time.Duration
	// JoinToken is the token the sidecars enroll with (see controlplane.Options.JoinToken).
	// Default: a new random token for this run.
	JoinToken string
}

// Instance is one running service instance with its sidecar.
type Instance struct {
	// Name is "<service>-<version>" (or the service name when it has no versions).
	Name string
	// Service and Version identify the instance.
	Service, Version string
	// App, Inbound, Outbound and Admin are the instance's addresses (host:port).
	App, Inbound, Outbound, Admin string
	// Upstreams are the services the app calls.
	Upstreams []string

	app *demoapp.App
	cmd *exec.Cmd
}

// Requests returns how many requests the instance's app has handled.
func (i *Instance) Requests() int64 { return i.app.Requests() }

// Demo is a running demo.
type Demo struct {
	// XDS is the control plane's address.
	XDS string
	// Design is the design served.
	Design *spec.Design
	// Instances are every instance, in design order.
	Instances []*Instance
	// ControlPlane is the in-process control plane.
	ControlPlane *controlplane.Server
	// JoinToken is the token the control plane requires from proxies (Options.JoinToken or the
	// one generated for this run); more proxies can join with it.
	JoinToken string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errMu  sync.Mutex
	errs   []error
	done   chan struct{}
	failed chan struct{}
	once   sync.Once
	doneMu sync.Once
}

func (d *Demo) closeDone() { d.doneMu.Do(func() { close(d.done) }) }

// Entry returns the first instance of the design's first service: the demo's front door.
func (d *Demo) Entry() *Instance { return d.Instances[0] }

// freePort reserves a loopback port and releases it for a subprocess to bind.
func freePort(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// Start loads the design, starts the control plane, the apps and their sidecars, and returns
// once every sidecar is ready (or fails). Stop (or cancelling ctx) tears everything down.
func Start(ctx context.Context, opts Options) (*Demo, error) {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ProxyOutput == nil {
		opts.ProxyOutput = io.Discard
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	if len(opts.ProxyCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the trellis executable for the sidecars: %w", err)
		}
		opts.ProxyCommand = []string{exe, "proxy"}
	}
	designs, err := spec.LoadFile(opts.Design)
	if err != nil {
		return nil, fmt.Errorf("loading the demo design: %w", err)
	}
	if len(designs) != 1 || len(designs[0].Spec.Services) == 0 {
		return nil, fmt.Errorf("loading the demo design %s: expected exactly one design with at least one service", opts.Design)
	}
	d := designs[0]
	ctx, cancel := context.WithCancel(ctx)
	demo := &Demo{Design: d, cancel: cancel, done: make(chan struct{}), failed: make(chan struct{})}
	fail := func(err error) (*Demo, error) {
		demo.Stop()
		return nil, err
	}

	// Control plane: enrollment needs the join token from the first sidecar on.
	demo.JoinToken = opts.JoinToken
	if demo.JoinToken == "" {
		if demo.JoinToken, err = meshca.NewToken(); err != nil {
			return fail(fmt.Errorf("creating the demo's join token: %w", err))
		}
	}
	demo.ControlPlane = controlplane.New(controlplane.Options{Logger: opts.Logger, JoinToken: demo.JoinToken})
	xdsAddr := opts.XDSAddr
	if xdsAddr == "" {
		xdsAddr = net.JoinHostPort(opts.Host, "0")
	}
	lis, err := net.Listen("tcp", xdsAddr)
	if err != nil {
		return fail(fmt.Errorf("starting the control plane: %w", err))
	}
	demo.XDS = lis.Addr().String()
	if _, err := demo.ControlPlane.SetDesigns(ctx, designs); err != nil {
		lis.Close()
		return fail(err)
	}
	demo.goRun(func() error { return demo.ControlPlane.Serve(ctx, lis) })

	// Instances.
	for _, s := range d.Spec.Services {
		versions := s.Versions
		if len(versions) == 0 {
			versions = []spec.Version{{}}
		}
		cfg, err := appConfig(s)
		if err != nil {
			return fail(err)
		}
		for _, v := range versions {
			inst, err := demo.startInstance(ctx, opts, d, s, v, cfg)
			if err != nil {
				return fail(err)
			}
			demo.Instances = append(demo.Instances, inst)
		}
	}
	go func() { demo.wg.Wait(); demo.closeDone() }()
	if err := demo.waitReady(ctx, opts.ReadyTimeout); err != nil {
		return fail(err)
	}
	return demo, nil
}

func appConfig(s spec.Service) (demoapp.Config, error) {
	var cfg demoapp.Config
	for _, u := range strings.Split(s.Annotations[AnnotationCalls], ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.Upstreams = append(cfg.Upstreams, u)
		}
	}
	if v := s.Annotations[AnnotationLatency]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("service %q: annotation %s: expected a duration such as \"5ms\", got %q", s.Name, AnnotationLatency, v)
		}
		cfg.Latency = d
	}
	if v := s.Annotations[AnnotationErrorRate]; v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return cfg, fmt.Errorf("service %q: annotation %s: expected a number within [0, 1], got %q", s.Name, AnnotationErrorRate, v)
		}
		cfg.ErrorRate = f
	}
	return cfg, nil
}

func (d *Demo) goRun(f func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := f(); err != nil {
			d.errMu.Lock()
			d.errs = append(d.errs, err)
			d.errMu.Unlock()
			d.once.Do(func() { close(d.failed) })
		}
	}()
}

func (d *Demo) startInstance(ctx context.Context, opts Options, design *spec.Design, s spec.Service, v spec.Version, cfg demoapp.Config) (*Instance, error) {
	name := s.Name
	if v.Name != "" {
		name += "-" + v.Name
	}
	inst := &Instance{Name: name, Service: s.Name, Version: v.Name, Upstreams: cfg.Upstreams}
	var err error
	for _, p := range []*string{&inst.Inbound, &inst.Outbound, &inst.Admin} {
		if *p, err = freePort(opts.Host); err != nil {
			return nil, fmt.Errorf("instance %s: reserving a port: %w", name, err)
		}
	}
	appLis, err := net.Listen("tcp", net.JoinHostPort(opts.Host, "0"))
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", name, err)
	}
	inst.App = appLis.Addr().String()
	cfg.Service, cfg.Version, cfg.Outbound, cfg.Listen = s.Name, v.Name, inst.Outbound, inst.App
	cfg.Logger = opts.Logger.With("instance", name)
	inst.app, err = demoapp.New(cfg)
	if err != nil {
		appLis.Close()
		return nil, err
	}
	d.goRun(func() error { return inst.app.Serve(ctx, appLis) })

	ns := s.Namespace
	if ns == "" {
		ns = design.Metadata.Namespace
	}
	labels := map[string]string{"app": s.Name}
	for k, val := range v.Labels {
		labels[k] = val
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + labels[k]
	}
	identity := s.Identity
	if identity == "" {
		identity = s.Name
	}
	args := append(append([]string(nil), opts.ProxyCommand[1:]...),
		"--xds", d.XDS, "--service", s.Name, "--namespace", ns, "--version", v.Name, "--identity", identity,
		"--labels", strings.Join(pairs, ","), "--inbound", inst.Inbound, "--outbound", inst.Outbound,
		"--app", inst.App, "--admin", inst.Admin, "--instance", name)
	cmd := exec.CommandContext(ctx, opts.ProxyCommand[0], args...)
	// The join token goes in the environment (trellis proxy reads $TRELLIS_JOIN_TOKEN), not on
	// the command line, which other users can read.
	cmd.Env = append(os.Environ(), "TRELLIS_JOIN_TOKEN="+d.JoinToken)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	pw := &prefixWriter{prefix: "[" + name + "] ", w: opts.ProxyOutput}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("instance %s: starting its sidecar %q: %w", name, opts.ProxyCommand[0], err)
	}
	inst.cmd = cmd
	d.goRun(func() error {
		err := cmd.Wait()
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("exited")
		}
		return fmt.Errorf("sidecar of %s: %w", name, err)
	})
	return inst, nil
}

// waitReady polls every sidecar's admin /ready until all answer 200.
func (d *Demo) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for _, inst := range d.Instances {
		for {
			res, err := client.Get("http://" + inst.Admin + "/ready")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
			}
			if err := d.Err(); err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("sidecar of %s not ready after %s (admin %s)", inst.Name, timeout, inst.Admin)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// Err returns the first failure of a component (a sidecar that exited, a server error), if any.
func (d *Demo) Err() error {
	d.errMu.Lock()
	defer d.errMu.Unlock()
	return errors.Join(d.errs...)
}

// Done is closed once every component has stopped.
func (d *Demo) Done() <-chan struct{} { return d.done }

// Failed is closed when a component fails (see Err).
func (d *Demo) Failed() <-chan struct{} { return d.failed }

// Stop stops the sidecars (SIGTERM, graceful drain), the apps and the control plane, and waits.
func (d *Demo) Stop() {
	d.cancel()
	d.wg.Wait()
	d.closeDone()
}

// prefixWriter prefixes every line written with a name.
type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	w      io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		line := p.buf[:i+1]
		w := bufio.NewWriter(p.w)
		_, _ = w.WriteString(p.prefix)
		_, _ = w.Write(line)
		_ = w.Flush()
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
