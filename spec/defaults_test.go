package spec

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func mustLoad(t *testing.T, src string) *Design {
	t.Helper()
	ds, err := LoadBytes("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("want 1 design, got %d", len(ds))
	}
	return ds[0]
}

func TestDefaults(t *testing.T) {
	d := mustLoad(t, `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: d}
spec:
  services:
    - name: web
    - name: api
      selector: {app.kubernetes.io/name: api}
      protocol: grpc
      ports: [{port: 9090}, {port: 9091}]
      healthCheck: {}
      versions: [{name: a, labels: {v: a}}, {name: b, labels: {v: b}}, {name: c, labels: {v: c}}]
  externalServices:
    - {name: ext, hosts: [api.example.com], tls: {}}
    - {name: wild, hosts: ["*.example.com"], tls: {mode: passthrough}}
  traffic:
    - service: api
      routes:
        - match: [{method: POST}]
          backends: [{version: a}, {version: b}, {version: c}]
          retries: {attempts: 2, backoff: {baseInterval: 10ms}, budget: {}}
          fault: {delay: {fixed: 1s}, abort: {grpcStatus: UNAVAILABLE}}
          mirror: {version: b}
        - {}
      resilience:
        outlierDetection: {}
        rateLimit: {requestsPerSecond: 7}
        loadBalancer: {consistentHash: {cookie: {name: s}}}
  security:
    access: [{destination: api, sources: [web]}]
    requestAuthentication: [{name: j, issuer: i, jwksURI: "https://i/jwks"}]
  telemetry: {metrics: {}, tracing: {endpoint: "c:4317"}, accessLogs: {enabled: true}}
  extensions: [{name: x, source: "oci://r/x:1", sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]
`)
	eq := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	s := d.Spec
	eq("metadata.namespace", d.Metadata.Namespace, "default")
	web, api := s.Services[0], s.Services[1]
	eq("web", [4]any{web.Namespace, web.Protocol, web.Identity, web.Ports}, [4]any{"default", ProtocolHTTP, "web", []Port{{Port: 80, Name: "http", TargetPort: 80}}})
	eq("selectors", [2]map[string]string{web.Selector, api.Selector}, [2]map[string]string{{"app": "web"}, {"app.kubernetes.io/name": "api"}})
	eq("version labels", api.VersionLabels(&api.Versions[0]), map[string]string{"app.kubernetes.io/name": "api", "v": "a"})
	eq("selector of a service built in code", (&Service{Name: "x"}).SelectorLabels(), map[string]string{"app": "x"})
	eq("api ports", api.Ports, []Port{{Port: 9090, Name: "grpc-9090", TargetPort: 9090}, {Port: 9091, Name: "grpc-9091", TargetPort: 9091}})
	eq("health check", *api.HealthCheck, HealthCheck{Protocol: HealthCheckGRPC, Port: 9090, Interval: Dur(10 * time.Second), Timeout: Dur(time.Second), HealthyThreshold: 1, UnhealthyThreshold: 3})
	eq("ext", [3]any{s.ExternalServices[0].Protocol, s.ExternalServices[0].Ports, *s.ExternalServices[0].TLS}, [3]any{ProtocolHTTP, []Port{{Port: 443, Name: "https", TargetPort: 443}}, ExternalTLS{Mode: ExternalTLSOriginate, SNI: "api.example.com"}})
	eq("wild", [2]any{s.ExternalServices[1].Protocol, s.ExternalServices[1].TLS.SNI}, [2]any{ProtocolTCP, ""})
	r0, r1 := s.Traffic[0].Routes[0], s.Traffic[0].Routes[1]
	eq("route names", [2]string{r0.Name, r1.Name}, [2]string{"route-0", "route-1"})
	eq("weights", []int32{r0.Backends[0].Weight, r0.Backends[1].Weight, r0.Backends[2].Weight}, []int32{34, 33, 33})
	eq("backend service", r0.Backends[0].Service, "api")
	eq("catch-all backends", r1.Backends, []Backend{{Service: "api", Weight: 100}})
	eq("retry on (grpc)", r0.Retries.On, DefaultGRPCRetryOn)
	eq("backoff max", r0.Retries.Backoff.MaxInterval, Dur(100*time.Millisecond))
	eq("budget", *r0.Retries.Budget, RetryBudget{Percent: 20, MinRetryConcurrency: 3})
	eq("fault percents", [2]float64{r0.Fault.Delay.Percent, r0.Fault.Abort.Percent}, [2]float64{100, 100})
	eq("mirror", *r0.Mirror, Mirror{Service: "api", Version: "b", Percent: 100})
	res := s.Traffic[0].Resilience
	eq("outlier", *res.OutlierDetection, OutlierDetection{Consecutive5xx: 5, Interval: Dur(10 * time.Second), BaseEjectionTime: Dur(30 * time.Second), MaxEjectionPercent: 10})
	eq("burst", res.RateLimit.Burst, int32(7))
	eq("lb", [2]any{res.LoadBalancer.Algorithm, res.LoadBalancer.ConsistentHash.Cookie.Path}, [2]any{LBConsistentHash, "/"})
	sec := s.Security
	eq("security", [4]any{sec.MTLS, sec.DefaultPolicy, sec.Access[0].Name, sec.Access[0].Action}, [4]any{MTLSStrict, ActionAllow, "api-allow-0", ActionAllow})
	eq("jwt header", sec.RequestAuthentication[0].FromHeader, "Authorization")
	tel := s.Telemetry
	eq("telemetry", [5]any{*tel.Metrics.Enabled, tel.Metrics.Provider, tel.Tracing.Provider, *tel.Tracing.SamplingPercent, tel.AccessLogs.Format}, [5]any{true, "prometheus", TracingOTLP, 1.0, AccessLogJSON})
	eq("extension", [2]any{s.Extensions[0].Phase, s.Extensions[0].FailurePolicy}, [2]any{PhaseUnspecified, FailClosed})
}

// TestDefaultIdempotentAndClone checks, on every case, that Default is idempotent and that Clone
// is a deep copy equal to the original.
func TestDefaultIdempotentAndClone(t *testing.T) {
	files, _ := filepath.Glob("testdata/cases/*.yaml")
	for _, f := range files {
		ds, err := LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := ds[0]
		before, _ := json.Marshal(d)
		c := d.Clone()
		c.Default()
		after, _ := json.Marshal(c)
		if string(before) != string(after) {
			t.Errorf("%s: Default is not idempotent:\n%s\n%s", f, before, after)
		}
		if !reflect.DeepEqual(c, d) {
			t.Errorf("%s: clone differs from original", f)
		}
		if c.SourceFile() != f {
			t.Errorf("%s: clone lost its source", f)
		}
		if vs := c.Validate(); len(vs) != 0 {
			t.Errorf("%s: clone does not validate: %v", f, vs)
		}
		// Mutating the clone must not touch the original.
		if len(c.Spec.Services) > 0 {
			c.Spec.Services[0].Name = "changed"
			c.Spec.Services[0].Ports[0].Port = 1
			if d.Spec.Services[0].Name == "changed" || d.Spec.Services[0].Ports[0].Port == 1 {
				t.Errorf("%s: clone shares memory with the original", f)
			}
		}
	}
}

// TestRoundTripJSON marshals every case to JSON and loads it again: the result must be equal.
func TestRoundTripJSON(t *testing.T) {
	files, _ := filepath.Glob("testdata/cases/*.yaml")
	for _, f := range files {
		ds, err := LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.MarshalIndent(ds[0], "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		back, err := LoadBytes(f+".json", b)
		if err != nil {
			t.Fatalf("%s: reloading JSON: %v\n%s", f, err, b)
		}
		back[0].src, ds[0].src = nil, nil
		if !reflect.DeepEqual(normalizeConfig(back[0]), normalizeConfig(ds[0])) {
			t.Errorf("%s: JSON round trip changed the design", f)
		}
	}
}

// normalizeConfig makes extension configs comparable after a JSON round trip (numbers).
func normalizeConfig(d *Design) *Design {
	for i := range d.Spec.Extensions {
		b, _ := json.Marshal(d.Spec.Extensions[i].Config)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		d.Spec.Extensions[i].Config = m
	}
	return d
}
