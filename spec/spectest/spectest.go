// Package spectest generates large, realistic designs for benchmarks and load tests of every
// component that consumes a spec.Design.
package spectest

import (
	"bytes"
	"fmt"

	"github.com/trellis-mesh/trellis/spec"
)

// Generate returns the YAML of a valid design with n services. Every service has two or three
// versions; every third one is gRPC and every tenth TCP. HTTP and gRPC services get two or three
// routes with header, path and method matches, weighted splits, timeouts and retries, and
// resilience settings (connection limits, outlier detection, and on some a rate limit or
// consistent hashing). The security section has strict mTLS, a deny default and an access rule
// per service allowing its caller (the previous service). The output is deterministic.
func Generate(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "apiVersion: %s\nkind: %s\nmetadata:\n  name: generated-%d\n  namespace: bench\nspec:\n  services:\n", spec.APIVersion, spec.Kind, n)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "    - name: svc-%d\n", i)
		if i%7 == 3 {
			fmt.Fprintf(&b, "      namespace: team-%d\n", i%5)
		}
		fmt.Fprintf(&b, "      protocol: %s\n      ports:\n        - port: %d\n", protocol(i), 8000+i%1000)
		if i%4 == 0 {
			fmt.Fprintf(&b, "        - port: 9090\n          name: metrics\n")
		}
		fmt.Fprintf(&b, "      identity: svc-%d-sa\n      versions:\n", i)
		for v := 1; v <= versions(i); v++ {
			fmt.Fprintf(&b, "        - name: v%d\n          labels:\n            app: svc-%d\n            version: v%d\n", v, i, v)
		}
		if i%5 == 0 && protocol(i) != "tcp" {
			b.WriteString("      healthCheck:\n        interval: 5s\n        timeout: 500ms\n")
		}
	}
	b.WriteString("  traffic:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "    - service: svc-%d\n      routes:\n", i)
		switch protocol(i) {
		case "tcp":
			b.WriteString("        - name: split\n          backends:\n            - version: v1\n              weight: 80\n            - version: v2\n              weight: 20\n")
		case "grpc":
			fmt.Fprintf(&b, "        - name: write\n          match:\n            - path:\n                prefix: /svc%d.v1.Api/Write\n          backends:\n            - version: v2\n          timeout: 500ms\n", i)
			b.WriteString("        - name: default\n          backends:\n            - version: v1\n              weight: 90\n            - version: v2\n              weight: 10\n          timeout: 1s\n          retries:\n            attempts: 2\n            perTryTimeout: 400ms\n            on: [unavailable, deadline-exceeded]\n")
		default:
			b.WriteString("        - name: canary\n          match:\n            - headers:\n                x-canary:\n                  exact: \"true\"\n            - queryParams:\n                canary:\n                  present: true\n          backends:\n            - version: v2\n          timeout: 2s\n")
			if versions(i) == 3 {
				fmt.Fprintf(&b, "        - name: api\n          match:\n            - path:\n                prefix: /api/v%d\n              method: GET\n            - path:\n                regex: \"/items/[0-9]+\"\n          backends:\n            - version: v3\n          timeout: 1500ms\n          headers:\n            request:\n              set:\n                x-route: api\n", i%3+1)
			}
			b.WriteString("        - name: default\n          backends:\n            - version: v1\n              weight: 95\n            - version: v2\n              weight: 5\n          timeout: 2s\n          retries:\n            attempts: 3\n            perTryTimeout: 500ms\n            on: [5xx, connect-failure, reset]\n            backoff:\n              baseInterval: 25ms\n")
		}
		fmt.Fprintf(&b, "      resilience:\n        connections:\n          max: %d\n          maxPendingRequests: 50\n        outlierDetection:\n          consecutive5xx: 5\n          interval: 10s\n          baseEjectionTime: 30s\n", 100+i%50)
		if protocol(i) != "tcp" {
			switch i % 3 {
			case 0:
				b.WriteString("        rateLimit:\n          requestsPerSecond: 200\n          burst: 50\n")
			case 1:
				b.WriteString("        loadBalancer:\n          consistentHash:\n            header: x-user-id\n")
			default:
				b.WriteString("        loadBalancer:\n          algorithm: least-request\n")
			}
		}
	}
	b.WriteString("  security:\n    mtls: strict\n    defaultPolicy: deny\n    access:\n")
	for i := 0; i < n; i++ {
		caller := (i + n - 1) % n
		fmt.Fprintf(&b, "      - name: to-svc-%d\n        destination: svc-%d\n        sources:\n          - svc-%d\n          - namespace: monitoring\n", i, i, caller)
		if protocol(i) == "http" {
			b.WriteString("        when:\n          - methods: [GET, POST]\n            paths: [/api/*, /healthz]\n")
		}
	}
	b.WriteString("  telemetry:\n    metrics:\n      enabled: true\n    tracing:\n      endpoint: otel-collector.observability:4317\n      samplingPercent: 1\n    accessLogs:\n      enabled: true\n")
	return b.Bytes()
}

func protocol(i int) string {
	switch {
	case i%10 == 9:
		return "tcp"
	case i%3 == 2:
		return "grpc"
	}
	return "http"
}

func versions(i int) int { return 2 + i%2 }

// Design returns Generate(n) loaded (defaulted and validated). It panics if the generated design
// does not load, which would be a bug in this package.
func Design(n int) *spec.Design {
	ds, err := spec.LoadBytes(fmt.Sprintf("generated-%d.yaml", n), Generate(n))
	if err != nil {
		panic(fmt.Sprintf("spectest: generated design does not load: %v", err))
	}
	return ds[0]
}
