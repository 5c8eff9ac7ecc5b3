package spec

import (
	"strings"
	"testing"
	"time"
)

// base returns a small valid design built in code (not defaulted).
func base() *Design {
	return &Design{
		APIVersion: APIVersion, Kind: Kind, Metadata: Metadata{Name: "t"},
		Spec: DesignSpec{
			Services: []Service{
				{Name: "web", Ports: []Port{{Port: 8080}}, Versions: []Version{{Name: "v1", Labels: map[string]string{"v": "1"}}}},
				{Name: "db", Protocol: ProtocolTCP, Ports: []Port{{Port: 5432}}},
			},
			ExternalServices: []ExternalService{{Name: "ext", Hosts: []string{"api.example.com"}}},
		},
	}
}

func TestValidateRules(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(d *Design)
		path   string
		msg    string
	}{
		{"valid in code without defaults", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web", Routes: []Route{{}}}}
		}, "", ""},
		{"upper-case header match", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web", Routes: []Route{{Match: []Match{{Headers: map[string]StringMatch{"X-User": {Exact: "a"}}}}}}}}
		}, `spec.traffic[0].routes[0].match[0].headers["X-User"]`, "not lower case"},
		{"empty match condition", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web", Routes: []Route{{Match: []Match{{}}}}}}
		}, "spec.traffic[0].routes[0].match[0]", "match condition is empty"},
		{"every L7 feature on tcp", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "db", Routes: []Route{{Timeout: Dur(time.Second), Retries: &Retries{Attempts: 1}}}}}
		}, "spec.traffic[0].routes[0].retries", `retries needs an HTTP or gRPC service; "db" is tcp`},
		{"version of an external service", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "ext", Routes: []Route{{Backends: []Backend{{Version: "v1"}}}}}}
		}, "spec.traffic[0].routes[0].backends[0].version", `external service "ext" has no versions`},
		{"backend port not a service port", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web", Routes: []Route{{Backends: []Backend{{Port: 9999}}}}}}
		}, "spec.traffic[0].routes[0].backends[0].port", "port 9999 is not a port"},
		{"two policies for one service", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web"}, {Service: "web"}}
		}, "spec.traffic[1].service", "already has a traffic policy"},
		{"backoff max below base", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web", Routes: []Route{{Retries: &Retries{Attempts: 1, Backoff: &Backoff{BaseInterval: Dur(time.Second), MaxInterval: Dur(time.Millisecond)}}}}}}
		}, "spec.traffic[0].routes[0].retries.backoff.maxInterval", "shorter than baseInterval"},
		{"rewrite prefix and full path", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web", Routes: []Route{{Match: []Match{{Path: &PathMatch{Prefix: "/a"}}}, Rewrite: &Rewrite{Prefix: "/b", FullPath: "/c"}}}}}
		}, "spec.traffic[0].routes[0].rewrite", "mutually exclusive"},
		{"empty fault", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web", Routes: []Route{{Fault: &Fault{}}}}}
		}, "spec.traffic[0].routes[0].fault", "neither delay nor abort"},
		{"unknown grpc status", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web", Routes: []Route{{Fault: &Fault{Abort: &AbortFault{GRPCStatus: "UNAVAILBLE"}}}}}}
		}, "spec.traffic[0].routes[0].fault.abort.grpcStatus", `unknown value "UNAVAILBLE"`},
		{"rate limit on an external service", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "ext", Resilience: &Resilience{RateLimit: &RateLimit{RequestsPerSecond: 1}}}}
		}, "spec.traffic[0].resilience.rateLimit", "external service"},
		{"hash algorithm without key", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web", Resilience: &Resilience{LoadBalancer: &LoadBalancer{Algorithm: LBConsistentHash}}}}
		}, "spec.traffic[0].resilience.loadBalancer.consistentHash", "required with algorithm consistent-hash"},
		{"hash key with another algorithm", func(d *Design) {
			d.Spec.Traffic = []TrafficPolicy{{Service: "web", Resilience: &Resilience{LoadBalancer: &LoadBalancer{Algorithm: LBRandom, ConsistentHash: &ConsistentHash{SourceIP: true}}}}}
		}, "spec.traffic[0].resilience.loadBalancer.consistentHash", "cannot be used with algorithm random"},
		{"health check timeout above interval", func(d *Design) {
			d.Spec.Services[0].HealthCheck = &HealthCheck{Interval: Dur(time.Second), Timeout: Dur(2 * time.Second)}
		}, "spec.services[0].healthCheck.timeout", "longer than interval"},
		{"identical version labels", func(d *Design) {
			d.Spec.Services[0].Versions = append(d.Spec.Services[0].Versions, Version{Name: "v2", Labels: map[string]string{"v": "1"}})
		}, "spec.services[0].versions[1].labels", "selects the same pods"},
		{"selector with a valid prefixed key", func(d *Design) {
			d.Spec.Services[0].Selector = map[string]string{"app.kubernetes.io/name": "web", "tier": "front_end.1"}
			d.Spec.Services[0].Versions[0].Labels["app.kubernetes.io/name"] = "web"
		}, "", ""},
		{"selector key with upper-case prefix", func(d *Design) {
			d.Spec.Services[0].Selector = map[string]string{"Example.com/name": "web"}
		}, `spec.services[0].selector["Example.com/name"]`, "invalid label key"},
		{"selector key too long", func(d *Design) {
			d.Spec.Services[0].Selector = map[string]string{strings.Repeat("k", 64): "web"}
		}, `spec.services[0].selector["` + strings.Repeat("k", 64) + `"]`, "invalid label key"},
		{"selector value with a space", func(d *Design) {
			d.Spec.Services[0].Selector = map[string]string{"app": "my web"}
		}, `spec.services[0].selector["app"]`, `invalid label value "my web"`},
		{"version contradicts the selector", func(d *Design) {
			d.Spec.Services[0].Selector = map[string]string{"service": "web"}
			d.Spec.Services[0].Versions[0].Labels["service"] = "api"
		}, `spec.services[0].versions[0].labels["service"]`, "contradicts the service's selector service=web"},
		{"version contradicts the default selector", func(d *Design) {
			d.Spec.Services[0].Versions[0].Labels["app"] = "web-v1"
		}, `spec.services[0].versions[0].labels["app"]`, "contradicts the service's selector app=web"},
		{"version label key syntax", func(d *Design) {
			d.Spec.Services[0].Versions[0].Labels = map[string]string{"a/b/c": "1"}
		}, `spec.services[0].versions[0].labels["a/b/c"]`, "invalid label key"},
		{"passthrough with http protocol", func(d *Design) {
			d.Spec.ExternalServices[0].TLS = &ExternalTLS{Mode: ExternalTLSPassthrough}
			d.Spec.ExternalServices[0].Protocol = ProtocolHTTP
		}, "spec.externalServices[0].protocol", "cannot be used with tls.mode passthrough"},
		{"wildcard host", func(d *Design) { d.Spec.ExternalServices[0].Hosts = []string{"*.example.com", "bad host"} }, "spec.externalServices[0].hosts[1]", `invalid host "bad host"`},
		{"mtls override on an external service", func(d *Design) {
			d.Spec.Security = &Security{MTLSOverrides: []MTLSOverride{{Service: "ext", Mode: MTLSDisabled}}}
		}, "spec.security.mtlsOverrides[0].service", "is an external service"},
		{"mtls override port", func(d *Design) {
			d.Spec.Security = &Security{MTLSOverrides: []MTLSOverride{{Service: "web", Port: 81, Mode: MTLSDisabled}}}
		}, "spec.security.mtlsOverrides[0].port", "port 81 is not a port"},
		{"access path with inner star", func(d *Design) {
			d.Spec.Security = &Security{Access: []AccessRule{{Destination: "web", Sources: []Source{{Service: "*"}}, When: []AccessCondition{{Paths: []string{"/a/*/b"}}}}}}
		}, "spec.security.access[0].when[0].paths[0]", `has "*" before its end`},
		{"empty source", func(d *Design) {
			d.Spec.Security = &Security{Access: []AccessRule{{Destination: "web", Sources: []Source{{}}}}}
		}, "spec.security.access[0].sources[0]", "source is empty"},
		{"jwt on tcp", func(d *Design) {
			d.Spec.Security = &Security{RequestAuthentication: []JWTRule{{Name: "j", Issuer: "i", JWKSURI: "https://i/k", Services: []string{"db"}}}}
		}, "spec.security.requestAuthentication[0].services[0]", "JWT validation needs an HTTP or gRPC service"},
		{"jwks uri not https", func(d *Design) {
			d.Spec.Security = &Security{RequestAuthentication: []JWTRule{{Name: "j", Issuer: "i", JWKSURI: "http://i/k"}}}
		}, "spec.security.requestAuthentication[0].jwksURI", "not an https:// URL"},
		{"inline jwks without keys", func(d *Design) {
			d.Spec.Security = &Security{RequestAuthentication: []JWTRule{{Name: "j", Issuer: "i", JWKS: `{"keys": []}`}}}
		}, "spec.security.requestAuthentication[0].jwks", "not a JSON Web Key Set"},
		{"tracing endpoint without port", func(d *Design) {
			d.Spec.Telemetry = &Telemetry{Tracing: &Tracing{Endpoint: "collector"}}
		}, "spec.telemetry.tracing.endpoint", `invalid endpoint "collector"`},
		{"sampling above 100", func(d *Design) {
			p := 150.0
			d.Spec.Telemetry = &Telemetry{Tracing: &Tracing{Endpoint: "c:4317", SamplingPercent: &p}}
		}, "spec.telemetry.tracing.samplingPercent", "out of range"},
		{"extension on an unknown service", func(d *Design) {
			d.Spec.Extensions = []Extension{{Name: "x", Source: "oci://r/x:1", SHA256: strings.Repeat("a", 64), Services: []string{"wbe"}}}
		}, "spec.extensions[0].services[0]", `unknown service "wbe"`},
		{"ignore annotation without reason", func(d *Design) {
			d.Spec.Services[0].Annotations = map[string]string{IgnoreAnnotation: "TRF-012: fine\nSEC-004:"}
		}, `spec.services[0].annotations["trellis.dev/ignore"]`, `invalid ignore line "SEC-004:"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := base()
			tc.mutate(d)
			vs := d.Validate()
			if tc.path == "" {
				if len(vs) != 0 {
					t.Fatalf("want no violation, got %v", vs)
				}
				return
			}
			for _, v := range vs {
				if v.Path == tc.path && strings.Contains(v.Message, tc.msg) {
					return
				}
			}
			t.Fatalf("want %s: %s, got %v", tc.path, tc.msg, vs)
		})
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"services", "externalServices", "traffic", "security", "telemetry", "extensions"}
	for in, want := range map[string]string{"servics": "services", "Traffic": "traffic", "telemtry": "telemetry", "xyz": "", "ext": ""} {
		if got := suggest(in, names); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
