package istio

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

var _ adapters.Installer = (*Adapter)(nil)

// DefaultVersion is the Istio version `trellis mesh install istio` installs by default.
const DefaultVersion = "1.30.3"

// Charts returns Istio's base (CRDs) and istiod charts from Istio's chart repository. The istiod
// values carry the meshConfig that the designs in opts need: the collectors their Telemetry
// objects name (meshConfig.extensionProviders) and the JSON access-log encoding.
func (a *Adapter) Charts(opts adapters.InstallOptions) ([]adapters.Chart, error) {
	v := opts.Version
	if v == "" {
		v = DefaultVersion
	}
	mc, err := meshConfig(opts)
	if err != nil {
		return nil, err
	}
	const repo = "https://istio-release.storage.googleapis.com/charts"
	return []adapters.Chart{
		{Repo: repo, Name: "base", Version: v, Release: "istio-base", Namespace: "istio-system",
			Values: map[string]any{"defaultRevision": "default"}},
		{Repo: repo, Name: "istiod", Version: v, Release: "istiod", Namespace: "istio-system",
			Values: map[string]any{"meshConfig": mc}},
	}, nil
}

// meshConfig builds istiod's meshConfig values from the trust domain and the designs' telemetry.
// Designs that disagree on a mesh-wide value (two endpoints for one tracing provider, JSON and
// text access logs) are an error: meshConfig holds one value and silently picking one would
// break the other design.
func meshConfig(opts adapters.InstallOptions) (map[string]any, error) {
	mc := map[string]any{"trustDomain": opts.TrustDomainOrDefault()}
	type source struct{ endpoint, design string }
	providers := map[spec.TracingProvider]source{}
	var logFormat, logDesign string
	for _, d := range opts.Designs {
		if d == nil || d.Spec.Telemetry == nil {
			continue
		}
		tel := d.Spec.Telemetry
		if tr := tel.Tracing; tr != nil {
			p := tr.Provider
			if p == "" {
				p = spec.TracingOTLP
			}
			if prev, ok := providers[p]; ok && prev.endpoint != tr.Endpoint {
				return nil, fmt.Errorf("designs %q and %q send %s traces to different collectors (%q, %q): Istio's meshConfig holds one provider named %q; hint: use one collector for both designs", prev.design, d.Metadata.Name, p, prev.endpoint, tr.Endpoint, p)
			}
			providers[p] = source{tr.Endpoint, d.Metadata.Name}
		}
		if al := tel.AccessLogs; al != nil && al.Enabled {
			f := string(al.Format)
			if f == "" {
				f = string(spec.AccessLogJSON)
			}
			if logFormat != "" && logFormat != f {
				return nil, fmt.Errorf("designs %q and %q ask for %s and %s access logs: Istio's meshConfig.accessLogEncoding is mesh-wide; hint: choose one format for both designs", logDesign, d.Metadata.Name, logFormat, f)
			}
			logFormat, logDesign = f, d.Metadata.Name
		}
	}
	if len(providers) > 0 {
		names := make([]string, 0, len(providers))
		for p := range providers {
			names = append(names, string(p))
		}
		sort.Strings(names)
		var ext []any
		for _, n := range names {
			src := providers[spec.TracingProvider(n)]
			host, port, err := collector(src.endpoint)
			if err != nil {
				return nil, fmt.Errorf("design %q: spec.telemetry.tracing.endpoint: %w", src.design, err)
			}
			kind := "opentelemetry"
			if spec.TracingProvider(n) == spec.TracingZipkin {
				kind = "zipkin"
			}
			ext = append(ext, map[string]any{"name": n, kind: map[string]any{"service": host, "port": port}})
		}
		mc["extensionProviders"] = ext
	}
	if logFormat == string(spec.AccessLogJSON) {
		mc["accessLogFile"] = "/dev/stdout"
		mc["accessLogEncoding"] = "JSON"
	}
	return mc, nil
}

// collector splits a "host:port" endpoint into the fully qualified service host Istio's
// extensionProviders expect and the port. "name.namespace" and "name.namespace.svc" are completed
// with the cluster domain "svc.cluster.local".
func collector(endpoint string) (string, int64, error) {
	host, p, err := net.SplitHostPort(endpoint)
	if err != nil {
		return "", 0, fmt.Errorf("invalid endpoint %q, expected \"host:port\": %w", endpoint, err)
	}
	port, err := strconv.ParseInt(p, 10, 32)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port in endpoint %q, expected 1-65535", endpoint)
	}
	switch strings.Count(host, ".") {
	case 1:
		host += ".svc.cluster.local"
	case 2:
		if strings.HasSuffix(host, ".svc") {
			host += ".cluster.local"
		}
	}
	return host, port, nil
}
