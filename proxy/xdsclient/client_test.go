package xdsclient

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"

	"github.com/trellis-mesh/trellis/proxy/table"
)

type recorder struct {
	serverv3.CallbackFuncs
	mu   sync.Mutex
	reqs []*discoveryv3.DiscoveryRequest
}

func (r *recorder) OnStreamRequest(_ int64, req *discoveryv3.DiscoveryRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return nil
}

func (r *recorder) find(f func(*discoveryv3.DiscoveryRequest) bool) *discoveryv3.DiscoveryRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.reqs {
		if f(q) {
			return q
		}
	}
	return nil
}

func cluster(name string) *clusterv3.Cluster {
	return &clusterv3.Cluster{Name: name, ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}}
}

func TestACKAndNACKWithErrorDetail(t *testing.T) {
	rec := &recorder{}
	c := cachev3.NewSnapshotCache(true, cachev3.IDHash{}, nil)
	g := grpc.NewServer()
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, serverv3.NewServer(context.Background(), c, rec))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(l) }()
	defer g.Stop()

	set := func(version string, names ...string) {
		var rs []types.Resource
		for _, n := range names {
			rs = append(rs, cluster(n))
		}
		snap, err := cachev3.NewSnapshot(version, map[resourcev3.Type][]types.Resource{resourcev3.ClusterType: rs})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetSnapshot(context.Background(), "n1", snap); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var applied []string
	apply := func(res table.Resources) error {
		for _, c := range res.Clusters {
			if strings.HasPrefix(c.GetName(), "bad") {
				return errors.New("cluster \"bad\": lb_policy: unsupported")
			}
		}
		mu.Lock()
		defer mu.Unlock()
		applied = append(applied, res.Versions[ClusterType])
		return nil
	}
	set("v1", "good")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl := New(l.Addr().String(), &corev3.Node{Id: "n1"}, apply, nil)
	go func() { _ = cl.Run(ctx) }()
	wait := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait("ACK of v1", func() bool {
		return rec.find(func(q *discoveryv3.DiscoveryRequest) bool {
			return q.GetTypeUrl() == ClusterType && q.GetVersionInfo() == "v1" && q.GetErrorDetail() == nil
		}) != nil
	})
	set("v2", "good", "bad")
	wait("NACK of v2", func() bool {
		return rec.find(func(q *discoveryv3.DiscoveryRequest) bool { return q.GetErrorDetail() != nil }) != nil
	})
	nack := rec.find(func(q *discoveryv3.DiscoveryRequest) bool { return q.GetErrorDetail() != nil })
	if nack.GetVersionInfo() != "v1" || !strings.Contains(nack.GetErrorDetail().GetMessage(), "lb_policy") || nack.GetResponseNonce() == "" {
		t.Errorf("NACK = version %q nonce %q detail %v; want the last accepted version v1 and the reason", nack.GetVersionInfo(), nack.GetResponseNonce(), nack.GetErrorDetail())
	}
	set("v3", "good", "other")
	wait("ACK of v3", func() bool {
		return rec.find(func(q *discoveryv3.DiscoveryRequest) bool {
			return q.GetTypeUrl() == ClusterType && q.GetVersionInfo() == "v3" && q.GetErrorDetail() == nil
		}) != nil
	})
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(applied, ",") != "v1,v3" {
		t.Errorf("applied versions %v, want v1 then v3", applied)
	}
	if st := cl.Stats(); st.Nacks == 0 || st.Acks < 2 {
		t.Errorf("stats %+v", st)
	}
}
