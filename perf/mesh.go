package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/proxy"
	"github.com/trellis-mesh/trellis/spec"
)

// Names of the configurations RunMesh measures, in order.
const (
	ConfigDirect           = "direct"
	ConfigOneProxy         = "one-proxy"
	ConfigSidecarToSidecar = "sidecar-to-sidecar"
)

// PeerIdentityHeader carries the caller identity between bundled proxies (a pre-mTLS stand-in
// for the peer certificate); the one-proxy run sends it itself, as a client sidecar would.
const PeerIdentityHeader = "x-trellis-peer-identity"

// MeshOptions configure a side-by-side run against the bundled mesh.
type MeshOptions struct {
	// Designs are served by an in-process control plane (loaded and defaulted, as spec.LoadFile
	// returns them).
	Designs []*spec.Design
	// Service is the target service: "name" or "name.namespace".
	Service string
	// From is the calling service (its identity is what the target's access rules see); default
	// "perf-client", a workload outside the design.
	From string
	// Path is the request path (default "/").
	Path string
	// Profile is the load profile; its URL and Name are set per configuration.
	Profile Profile
	// Upstream is the address (loopback host:port) of an existing application to measure; empty
	// starts a built-in test server answering 200 with a 20-byte body.
	Upstream string
	// Logger receives the control plane's and proxies' logs (discarded when nil).
	Logger *slog.Logger
	// Progress (optional) receives each configuration's progress reports.
	Progress func(config string, p Progress)
	// ProxyBinary, when set, runs every sidecar as a subprocess `ProxyBinary proxy …` (a trellis
	// binary, usually os.Executable()) instead of in this process, so that proxies have their own
	// runtime; their CPU then counts as the benchmark's own in Environment.
	ProxyBinary string
	// ProxyConcurrency is the subprocess sidecars' GOMAXPROCS (--concurrency; 0 = all CPUs).
	ProxyConcurrency int
	// ProxyStderr receives the subprocess sidecars' logs (discarded when nil).
	ProxyStderr io.Writer
	// Rounds repeats the three runs, interleaved (direct, one proxy, two proxies, direct, …), and
	// reports each configuration's median (see Median). Default 1, at most 9.
	Rounds int
}

// MeshResult holds the three results of RunMesh and their comparison with the direct run.
type MeshResult struct {
	// Results are the direct, one-proxy and sidecar-to-sidecar results, in that order.
	Results []*Result `json:"results"`
	// Comparison compares them with the direct run.
	Comparison *Comparison `json:"comparison"`
	// Rounds holds every round's three results when Rounds > 1.
	Rounds [][]*Result `json:"rounds,omitempty"`
}

// target is the service under test, resolved from the designs.
type target struct {
	name, namespace, identity string
	port                      int32
	versions                  []spec.Version
}

func findService(designs []*spec.Design, ref string) (target, error) {
	name, ns, _ := strings.Cut(ref, ".")
	var known []string
	for _, d := range designs {
		for _, s := range d.Spec.Services {
			sns := s.Namespace
			if sns == "" {
				sns = d.Metadata.Namespace
			}
			if sns == "" {
				sns = "default"
			}
			known = append(known, s.Name+"."+sns)
			if s.Name != name || (ns != "" && ns != sns) {
				continue
			}
			if s.Protocol != "" && s.Protocol != spec.ProtocolHTTP {
				return target{}, fmt.Errorf("--service %q: protocol %q is not supported by perf mesh; expected an http service", ref, s.Protocol)
			}
			t := target{name: s.Name, namespace: sns, identity: s.Identity, port: 80, versions: s.Versions}
			if len(s.Ports) > 0 {
				t.port = s.Ports[0].Port
			}
			if t.identity == "" {
				t.identity = s.Name
			}
			return t, nil
		}
	}
	sort.Strings(known)
	return target{}, fmt.Errorf("--service %q: no such service in the design; expected one of %s", ref, strings.Join(known, ", "))
}

// RunMesh measures the same profile against one service directly, through the service's
// sidecar (one proxy, inbound side) and from a client sidecar to the service's sidecar (two
// proxies), with the bundled control plane serving the designs. Everything runs on 127.0.0.1, in
// this process unless ProxyBinary is set; one sidecar is started per version of the service, all
// in front of the same application. With Rounds > 1 the runs are interleaved and each
// configuration's Median is reported.
func RunMesh(ctx context.Context, o MeshOptions) (*MeshResult, error) {
	if len(o.Designs) == 0 {
		return nil, errors.New("perf mesh: no design given")
	}
	tgt, err := findService(o.Designs, o.Service)
	if err != nil {
		return nil, err
	}
	if o.From == "" {
		o.From = "perf-client"
	}
	if o.Path == "" {
		o.Path = "/"
	}
	if o.Rounds == 0 {
		o.Rounds = 1
	}
	if o.Rounds < 0 || o.Rounds > 9 {
		return nil, fmt.Errorf("--rounds %d: expected 1 to 9", o.Rounds)
	}
	if !strings.HasPrefix(o.Path, "/") {
		return nil, fmt.Errorf("--path %q: expected an absolute path starting with /", o.Path)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	check := o.Profile
	check.URL = "http://127.0.0.1/" // set per configuration below
	if err := check.withDefaults().Validate(); err != nil {
		return nil, fmt.Errorf("invalid load profile: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	app := o.Upstream
	if app == "" {
		addr, stop, err := startTestServer()
		if err != nil {
			return nil, err
		}
		defer stop()
		app = addr
	} else if _, err := CheckLoopback(ctx, "http://"+app+"/"); err != nil {
		return nil, fmt.Errorf("--upstream: %w", err)
	}

	cp := controlplane.New(controlplane.Options{Logger: log})
	if _, err := cp.SetDesigns(ctx, o.Designs); err != nil {
		return nil, fmt.Errorf("perf mesh: serving the design: %w", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("perf mesh: control plane listener: %w", err)
	}
	cpDone := make(chan error, 1)
	go func() { cpDone <- cp.Serve(ctx, lis) }()
	defer func() { cancel(); <-cpDone }()
	xds := lis.Addr().String()

	sidecars := &sidecarSet{xds: xds, log: log, binary: o.ProxyBinary, concurrency: o.ProxyConcurrency, stderr: o.ProxyStderr}
	defer func() {
		cancel()
		sidecars.wait()
	}()
	versions := tgt.versions
	if len(versions) == 0 {
		versions = []spec.Version{{}}
	}
	var inbound string
	for _, v := range versions {
		labels := map[string]string{"app": tgt.name}
		for k, val := range v.Labels {
			labels[k] = val
		}
		in, out, err := freeAddrs()
		if err != nil {
			return nil, err
		}
		if err := sidecars.start(ctx, proxy.Config{Service: tgt.name, Namespace: tgt.namespace, Version: v.Name, Identity: tgt.identity,
			Labels: labels, Inbound: in, Outbound: out, App: app}); err != nil {
			return nil, err
		}
		if inbound == "" {
			inbound = in
		}
	}
	clientCfg := proxy.Config{Service: o.From, Namespace: tgt.namespace, Identity: o.From, Labels: map[string]string{"app": o.From}}
	if _, clientCfg.Outbound, err = freeAddrs(); err != nil {
		return nil, err
	}
	if err := sidecars.start(ctx, clientCfg); err != nil {
		return nil, err
	}
	host := tgt.name + "." + tgt.namespace + ":" + strconv.Itoa(int(tgt.port))
	if err := converge(ctx, clientCfg.Outbound, host, o.Path); err != nil {
		return nil, err
	}

	runs := []struct {
		name, url string
		headers   map[string]string
	}{
		{ConfigDirect, "http://" + app + o.Path, nil},
		{ConfigOneProxy, "http://" + inbound + o.Path, map[string]string{PeerIdentityHeader: proxy.PeerIdentity(clientCfg)}},
		{ConfigSidecarToSidecar, "http://" + clientCfg.Outbound + o.Path, nil},
	}
	out := &MeshResult{}
	for round := 1; round <= o.Rounds; round++ {
		var results []*Result
		for _, r := range runs {
			p := o.Profile
			p.Name, p.URL = r.name, r.url
			p.ExtraPIDs = append(append([]int(nil), o.Profile.ExtraPIDs...), sidecars.pids...)
			p.Headers = map[string]string{}
			for k, v := range o.Profile.Headers {
				p.Headers[k] = v
			}
			for k, v := range r.headers {
				p.Headers[k] = v
			}
			if _, ok := p.Headers["Host"]; !ok && r.name != ConfigDirect {
				p.Headers["Host"] = host
			}
			var progress func(Progress)
			if o.Progress != nil {
				label := r.name
				if o.Rounds > 1 {
					label = fmt.Sprintf("round %d/%d %s", round, o.Rounds, r.name)
				}
				progress = func(pr Progress) { o.Progress(label, pr) }
			}
			res, err := Run(ctx, p, progress)
			if err != nil {
				return nil, fmt.Errorf("perf mesh: %w", err)
			}
			results = append(results, res)
		}
		out.Rounds = append(out.Rounds, results)
	}
	for i := range runs {
		var same []*Result
		for _, round := range out.Rounds {
			same = append(same, round[i])
		}
		out.Results = append(out.Results, Median(same...))
	}
	if o.Rounds == 1 {
		out.Rounds = nil
	}
	out.Comparison, err = Compare(out.Results[0], out.Results[1:]...)
	return out, err
}

// converge waits until the client sidecar routes the service to a ready endpoint: any answer
// other than 404 (no route yet) or 503 (no endpoint yet), or 10 seconds.
func converge(ctx context.Context, outbound, host, path string) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+outbound+path, nil)
		if err != nil {
			return fmt.Errorf("perf mesh: %w", err)
		}
		req.Host = host
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusServiceUnavailable {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("perf mesh: the mesh did not route %s within 10s (last answer: %s)", host, last)
}

// startTestServer starts the built-in upstream: 200 with a 20-byte body.
func startTestServer() (string, func(), error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("perf mesh: test server listener: %w", err)
	}
	body := []byte("trellis perf: hello\n")
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(lis) }()
	return lis.Addr().String(), func() { _ = srv.Close() }, nil
}

// freeAddrs returns two free loopback addresses (inbound, outbound).
func freeAddrs() (string, string, error) {
	var out [2]string
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", fmt.Errorf("perf mesh: reserving a port: %w", err)
		}
		out[i] = l.Addr().String()
		_ = l.Close()
	}
	return out[0], out[1], nil
}
