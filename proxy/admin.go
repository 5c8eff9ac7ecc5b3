package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-mesh/trellis/proxy/stats"
)

func (p *Proxy) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-p.ready:
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "LIVE\n")
		default:
			http.Error(w, "PRE_INITIALIZING: no configuration applied yet", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("/config_dump", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(p.configDump())
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		p.stats.WritePrometheus(w)
	})
	mux.HandleFunc("/stats/prometheus", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		p.stats.WritePrometheus(w)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/heap", pprof.Index)
	return mux
}

// configDump renders the resources of the live table as JSON.
func (p *Proxy) configDump() []byte {
	t := p.srv.Table()
	out := map[string]any{"node": json.RawMessage(marshal(p.node()))}
	if t != nil {
		res := t.Resources
		conv := func(n int, f func(i int) proto.Message) []json.RawMessage {
			list := make([]json.RawMessage, 0, n)
			for i := 0; i < n; i++ {
				list = append(list, marshal(f(i)))
			}
			return list
		}
		out["versions"] = res.Versions
		out["listeners"] = conv(len(res.Listeners), func(i int) proto.Message { return res.Listeners[i] })
		out["route_configs"] = conv(len(res.Routes), func(i int) proto.Message { return res.Routes[i] })
		out["clusters"] = conv(len(res.Clusters), func(i int) proto.Message { return res.Clusters[i] })
		out["endpoints"] = conv(len(res.Endpoints), func(i int) proto.Message { return res.Endpoints[i] })
		bound := map[string]string{}
		for name := range t.Listeners {
			bound[name] = p.srv.Addr(name)
		}
		out["bound_listeners"] = bound
		out["warming_clusters"] = t.Warming
	}
	if p.xds != nil {
		out["xds"] = p.xds.Stats()
	}
	if p.id != nil {
		// The certificate is public; the private key never leaves the identity store.
		ident := map[string]any{"spiffe_id": p.id.ID(), "ready": p.id.Ready()}
		if na := p.id.NotAfter(); !na.IsZero() {
			ident["not_after"] = na.UTC().Format(time.RFC3339)
		}
		out["identity"] = ident
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	return b
}

func marshal(m proto.Message) json.RawMessage {
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return json.RawMessage(fmt.Sprintf("%q", err.Error()))
	}
	return b
}

// upstreamMetrics writes per-cluster gauges and counters.
func (p *Proxy) upstreamMetrics(w io.Writer) {
	t := p.srv.Table()
	if t == nil {
		return
	}
	names := make([]string, 0, len(t.Clusters))
	for n := range t.Clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	type metric struct {
		name, help, typ string
		val             func(string) float64
	}
	ms := []metric{
		{"trellis_proxy_upstream_connections_active", "Open upstream HTTP/1.1 connections.", "gauge", func(n string) float64 { return float64(t.Clusters[n].ActiveConnections()) }},
		{"trellis_proxy_upstream_requests_active", "In-flight upstream requests.", "gauge", func(n string) float64 { return float64(t.Clusters[n].ActiveRequests()) }},
		{"trellis_proxy_upstream_connections_total", "Upstream connections opened.", "counter", func(n string) float64 { return float64(t.Clusters[n].Counters().ConnectionsOpened.Load()) }},
		{"trellis_proxy_upstream_connect_failures_total", "Failed upstream connection attempts.", "counter", func(n string) float64 { return float64(t.Clusters[n].Counters().ConnectFailures.Load()) }},
		{"trellis_proxy_upstream_retries_total", "Retries attempted.", "counter", func(n string) float64 { return float64(t.Clusters[n].Counters().Retries.Load()) }},
		{"trellis_proxy_upstream_overflow_total", "Circuit-breaker overflows.", "counter", func(n string) float64 { return float64(t.Clusters[n].Counters().Overflows.Load()) }},
		{"trellis_proxy_outlier_ejections_total", "Outlier-detection ejections.", "counter", func(n string) float64 { return float64(t.Clusters[n].Counters().Ejections.Load()) }},
		{"trellis_proxy_outlier_ejected_endpoints", "Endpoints currently ejected.", "gauge", func(n string) float64 { return float64(t.Clusters[n].EjectedCount()) }},
		{"trellis_proxy_health_check_failures_total", "Failed active health checks.", "counter", func(n string) float64 { return float64(t.Clusters[n].Counters().HealthCheckFailures.Load()) }},
		{"trellis_proxy_cluster_endpoints", "Endpoints in the cluster's assignment.", "gauge", func(n string) float64 { return float64(len(t.Clusters[n].Endpoints)) }},
	}
	for _, m := range ms {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		for _, n := range names {
			fmt.Fprintf(w, "%s{cluster=%s} %g\n", m.name, stats.Label(n), m.val(n))
		}
	}
	var ms2 runtime.MemStats
	runtime.ReadMemStats(&ms2)
	fmt.Fprintf(w, "# HELP trellis_proxy_heap_bytes Go heap in use.\n# TYPE trellis_proxy_heap_bytes gauge\ntrellis_proxy_heap_bytes %d\n", ms2.HeapInuse)
}
