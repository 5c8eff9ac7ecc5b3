package perf

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/controlplane/meshca"
	"github.com/trellis-mesh/trellis/proxy"
	"github.com/trellis-mesh/trellis/spec"
)

// Names of the configurations RunMesh measures, in order.
const (
	ConfigDirect           = "direct"
	ConfigOneProxy         = "one-proxy"
	ConfigSidecarToSidecar = "sidecar-to-sidecar"
)

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
	mtls                      spec.MTLSMode
}

// spiffeID is the SPIFFE ID of the target's sidecars (the in-process control plane's trust
// domain is cluster.local).
func (t target) spiffeID() string {
	if strings.HasPrefix(t.identity, "spiffe://") {
		return t.identity
	}
	return meshca.SPIFFEID("cluster.local", t.namespace, t.identity)
}

// mtlsMode returns the mTLS mode of a service port in its design: the design's mode (default
// strict), overridden for the service, then for the port.
func mtlsMode(d *spec.Design, service string, port int32) spec.MTLSMode {
	mode := spec.MTLSStrict
	if d.Spec.Security == nil {
		return mode
	}
	if d.Spec.Security.MTLS != "" {
		mode = d.Spec.Security.MTLS
	}
	portMode := spec.MTLSMode("")
	for _, o := range d.Spec.Security.MTLSOverrides {
		switch {
		case o.Service != service:
		case o.Port == 0:
			mode = o.Mode
		case o.Port == port:
			portMode = o.Mode
		}
	}
	if portMode != "" {
		return portMode
	}
	return mode
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
			t.mtls = mtlsMode(d, s.Name, t.port)
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

	token, err := meshca.NewToken()
	if err != nil {
		return nil, fmt.Errorf("perf mesh: creating a join token: %w", err)
	}
	cp := controlplane.New(controlplane.Options{Logger: log, JoinToken: token})
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

	sidecars := &sidecarSet{xds: xds, token: token, log: log, binary: o.ProxyBinary, concurrency: o.ProxyConcurrency, stderr: o.ProxyStderr}
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

	// The one-proxy run calls the inbound listener as the --from workload would: over mutual TLS
	// with a certificate of its identity (unless the service's mTLS is disabled), checking the
	// service's SPIFFE ID.
	oneProxy := struct {
		url string
		tls *TLS
	}{url: "http://" + inbound + o.Path}
	if tgt.mtls != spec.MTLSDisabled {
		creds, cleanup, err := clientCredentials(cp, tgt.namespace, o.From)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		creds.ServerID = tgt.spiffeID()
		oneProxy.url, oneProxy.tls = "https://"+inbound+o.Path, creds
	}
	runs := []struct {
		name, url string
		tls       *TLS
	}{
		{ConfigDirect, "http://" + app + o.Path, nil},
		{ConfigOneProxy, oneProxy.url, oneProxy.tls},
		{ConfigSidecarToSidecar, "http://" + clientCfg.Outbound + o.Path, nil},
	}
	out := &MeshResult{}
	for round := 1; round <= o.Rounds; round++ {
		var results []*Result
		for _, r := range runs {
			p := o.Profile
			p.Name, p.URL, p.TLS = r.name, r.url, r.tls
			p.ExtraPIDs = append(append([]int(nil), o.Profile.ExtraPIDs...), sidecars.pids...)
			p.Headers = map[string]string{}
			for k, v := range o.Profile.Headers {
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

// clientCredentials issues a certificate of the calling workload (namespace, identity) from the
// control plane's CA and writes it, its key and the CA's root to files (0600, in a new 0700
// directory) for the load generator; cleanup removes them.
func clientCredentials(cp *controlplane.Server, namespace, identity string) (*TLS, func(), error) {
	cert, err := cp.IssueKeyPair(namespace, identity, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("perf mesh: issuing a certificate for %s.%s: %w", identity, namespace, err)
	}
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return nil, nil, fmt.Errorf("perf mesh: encoding the client key: %w", err)
	}
	dir, err := os.MkdirTemp("", "trellis-perf-mtls-")
	if err != nil {
		return nil, nil, fmt.Errorf("perf mesh: creating the credentials directory: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	t := &TLS{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), CAFile: filepath.Join(dir, "ca.pem")}
	for path, data := range map[string][]byte{
		t.CertFile: chain,
		t.KeyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		t.CAFile:   cp.CA().RootPEM(),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("perf mesh: writing %s: %w", path, err)
		}
	}
	return t, cleanup, nil
}
