package controlplane_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/spec"
)

const design = `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: shop, namespace: shop}
spec:
  services:
    - name: frontend
      ports: [{port: 8080}]
    - name: reviews
      ports: [{port: 9080}]
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
  traffic:
    - service: reviews
      routes:
        - name: split
          backends: [{version: v1, weight: 90}, {version: v2, weight: 10}]
`

func loadDesign(t *testing.T, text string) []*spec.Design {
	t.Helper()
	ds, err := spec.LoadBytes("design.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func startServer(t *testing.T) (*controlplane.Server, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	cp := controlplane.New(controlplane.Options{Logger: log})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cp.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return cp, lis.Addr().String()
}

// adsClient is a minimal state-of-the-world ADS client, like a proxy: it subscribes to listeners
// and clusters (wildcard), to the routes the contract names and to every EDS cluster, and ACKs.
type adsClient struct {
	t      *testing.T
	conn   *grpc.ClientConn
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	cancel context.CancelFunc

	sendMu sync.Mutex
	mu     sync.Mutex
	latest map[string]*discoveryv3.DiscoveryResponse
	eds    []string
	done   chan struct{}
}

func node(id, svc, version, inbound string) *corev3.Node {
	labels, _ := json.Marshal(map[string]string{"app": svc, "version": version})
	md, _ := structpb.NewStruct(map[string]any{
		"TRELLIS_SERVICE": svc, "TRELLIS_NAMESPACE": "shop", "TRELLIS_VERSION": version, "TRELLIS_IDENTITY": svc,
		"TRELLIS_INBOUND_ADDR": inbound, "TRELLIS_OUTBOUND_ADDR": "127.0.0.1:15001", "TRELLIS_APP_ADDR": "127.0.0.1:9080",
		"TRELLIS_LABELS": string(labels),
	})
	return &corev3.Node{Id: id, Cluster: svc + ".shop", Metadata: md}
}

func connect(t *testing.T, addr string, n *corev3.Node) *adsClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := &adsClient{t: t, conn: conn, stream: stream, cancel: cancel, latest: map[string]*discoveryv3.DiscoveryResponse{}, done: make(chan struct{})}
	// The node travels on the first request only, as Envoy does.
	c.send(&discoveryv3.DiscoveryRequest{Node: n, TypeUrl: resourcev3.ClusterType})
	c.send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.ListenerType})
	c.send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.RouteType, ResourceNames: []string{"outbound", "inbound"}})
	go c.recv()
	t.Cleanup(c.close)
	return c
}

func (c *adsClient) send(r *discoveryv3.DiscoveryRequest) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	_ = c.stream.Send(r)
}

func (c *adsClient) close() {
	c.cancel()
	c.conn.Close()
	<-c.done
}

func (c *adsClient) recv() {
	defer close(c.done)
	for {
		resp, err := c.stream.Recv()
		if err != nil {
			return
		}
		c.mu.Lock()
		c.latest[resp.TypeUrl] = resp
		var names []string
		switch resp.TypeUrl {
		case resourcev3.RouteType:
			names = []string{"outbound", "inbound"}
		case resourcev3.EndpointType:
			names = c.eds
		}
		var newEDS []string
		if resp.TypeUrl == resourcev3.ClusterType {
			for _, a := range resp.Resources {
				cl := &clusterv3.Cluster{}
				if err := a.UnmarshalTo(cl); err == nil && cl.GetType() == clusterv3.Cluster_EDS {
					newEDS = append(newEDS, cl.Name)
				}
			}
			sort.Strings(newEDS)
		}
		changed := resp.TypeUrl == resourcev3.ClusterType && strings.Join(newEDS, ",") != strings.Join(c.eds, ",")
		if changed {
			c.eds = newEDS
		}
		edsResp := c.latest[resourcev3.EndpointType]
		eds := c.eds
		c.mu.Unlock()
		// ACK.
		c.send(&discoveryv3.DiscoveryRequest{TypeUrl: resp.TypeUrl, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce, ResourceNames: names})
		if changed {
			req := &discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.EndpointType, ResourceNames: eds}
			if edsResp != nil {
				req.VersionInfo, req.ResponseNonce = edsResp.VersionInfo, edsResp.Nonce
			}
			c.send(req)
		}
	}
}

func (c *adsClient) names(typ string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.latest[typ].GetResources() {
		m, err := a.UnmarshalNew()
		if err != nil {
			c.t.Errorf("unmarshal %s: %v", typ, err)
			continue
		}
		if cla, ok := m.(*endpointv3.ClusterLoadAssignment); ok {
			out = append(out, cla.ClusterName)
			continue
		}
		out = append(out, m.(interface{ GetName() string }).GetName())
	}
	sort.Strings(out)
	return out
}

func (c *adsClient) version(typ string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest[typ].GetVersionInfo()
}

// endpoints returns the addresses of a cluster's endpoints in the latest EDS response.
func (c *adsClient) endpoints(cluster string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.latest[resourcev3.EndpointType].GetResources() {
		cla := &endpointv3.ClusterLoadAssignment{}
		if a.UnmarshalTo(cla) != nil || cla.ClusterName != cluster {
			continue
		}
		for _, le := range cla.Endpoints {
			for _, e := range le.LbEndpoints {
				sa := e.GetEndpoint().GetAddress().GetSocketAddress()
				out = append(out, fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue()))
			}
		}
	}
	sort.Strings(out)
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func equal(a []string, b ...string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestADSRegistrationAndPush(t *testing.T) {
	cp, addr := startServer(t)
	if _, err := cp.SetDesigns(context.Background(), loadDesign(t, design)); err != nil {
		t.Fatal(err)
	}

	a := connect(t, addr, node("reviews.shop~v1~aaaa", "reviews", "v1", "127.0.0.1:20001"))
	eventually(t, "listeners, routes and clusters for node A", func() bool {
		return equal(a.names(resourcev3.ListenerType), "inbound", "outbound") &&
			equal(a.names(resourcev3.RouteType), "inbound", "outbound") &&
			len(a.names(resourcev3.ClusterType)) == 5 // 4 EDS + inbound|reviews.shop
	})
	eventually(t, "node A's own endpoint in reviews v1", func() bool {
		return equal(a.endpoints("outbound|9080|v1|reviews.shop"), "127.0.0.1:20001") &&
			equal(a.endpoints("outbound|9080||reviews.shop"), "127.0.0.1:20001")
	})
	if got := a.endpoints("outbound|9080|v2|reviews.shop"); len(got) != 0 {
		t.Fatalf("v2 endpoints before B connects = %v", got)
	}

	b := connect(t, addr, node("reviews.shop~v2~bbbb", "reviews", "v2", "127.0.0.1:20002"))
	eventually(t, "node B's endpoint to appear at node A", func() bool {
		return equal(a.endpoints("outbound|9080|v2|reviews.shop"), "127.0.0.1:20002") &&
			equal(a.endpoints("outbound|9080||reviews.shop"), "127.0.0.1:20001", "127.0.0.1:20002")
	})
	eventually(t, "node B to get its config", func() bool {
		return equal(b.endpoints("outbound|9080|v1|reviews.shop"), "127.0.0.1:20001")
	})
	if n := len(cp.Nodes()); n != 2 {
		t.Fatalf("Nodes() = %d, want 2", n)
	}

	b.close()
	eventually(t, "node B's endpoint to disappear at node A", func() bool {
		return len(a.endpoints("outbound|9080|v2|reviews.shop")) == 0 && len(cp.Nodes()) == 1
	})

	before := a.version(resourcev3.ClusterType)
	more := strings.Replace(design, "  traffic:", "    - name: ratings\n      ports: [{port: 9090}]\n  traffic:", 1)
	if _, err := cp.SetDesigns(context.Background(), loadDesign(t, more)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new version with the ratings cluster after SetDesigns", func() bool {
		v := a.version(resourcev3.ClusterType)
		names := a.names(resourcev3.ClusterType)
		return v != before && v == cp.SnapshotVersion("reviews.shop~v1~aaaa") && contains(names, "outbound|9090||ratings.shop")
	})
	eventually(t, "the ratings ClusterLoadAssignment", func() bool {
		return contains(a.names(resourcev3.EndpointType), "outbound|9090||ratings.shop")
	})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestStreamWithoutServiceIsRejected(t *testing.T) {
	_, addr := startServer(t)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "x"}, TypeUrl: resourcev3.ClusterType})
	if _, err := stream.Recv(); err == nil || !strings.Contains(err.Error(), "TRELLIS_SERVICE") {
		t.Fatalf("Recv error = %v, want a rejection naming TRELLIS_SERVICE", err)
	}
}

func TestWatchDirKeepsLastGoodDesign(t *testing.T) {
	cp, _ := startServer(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(file, []byte(design), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cp.WatchDir(ctx, dir, 50*time.Millisecond)
	eventually(t, "the design to load", func() bool { return len(cp.Designs()) == 1 })

	// An invalid design (unknown protocol) keeps the last good one.
	bad := strings.Replace(design, "ports: [{port: 8080}]", "protocol: carrier-pigeon\n      ports: [{port: 8080}]", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if ds := cp.Designs(); len(ds) != 1 || ds[0].Spec.Services[0].Protocol != spec.ProtocolHTTP {
		t.Fatalf("designs after an invalid edit = %v", ds)
	}
	// A valid change is picked up.
	renamed := strings.Replace(design, "name: shop,", "name: shop2,", 1)
	if err := os.WriteFile(file, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the renamed design", func() bool {
		ds := cp.Designs()
		return len(ds) == 1 && ds[0].Metadata.Name == "shop2"
	})
}

// TestIdentityIssuance registers nodes directly: a node with a CSR is issued its SPIFFE ID, a CSR
// that is not one is rejected, and an identity outside the trust domain is refused.
func TestIdentityIssuance(t *testing.T) {
	cp := controlplane.New(controlplane.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TrustDomain: "example.org"})
	csr := func() string {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(der)
	}
	node := func(id, identity, csr string) *corev3.Node {
		md, _ := structpb.NewStruct(map[string]any{"TRELLIS_SERVICE": "reviews", "TRELLIS_NAMESPACE": "shop",
			"TRELLIS_IDENTITY": identity, "TRELLIS_CSR": csr})
		return &corev3.Node{Id: id, Cluster: "reviews.shop", Metadata: md}
	}
	if err := cp.RegisterStream(1, node("a", "reviews-sa", csr())); err != nil {
		t.Fatal(err)
	}
	if id, na := cp.IssuedIdentity("a"); id != "spiffe://example.org/ns/shop/sa/reviews-sa" || time.Until(na) < 23*time.Hour {
		t.Fatalf("issued %q until %v", id, na)
	}
	if err := cp.RegisterStream(2, node("b", "reviews", "bm90IGEgQ1NS")); err == nil {
		t.Fatal("a malformed CSR was accepted")
	}
	if err := cp.RegisterStream(3, node("c", "spiffe://other.org/ns/shop/sa/reviews", csr())); err == nil {
		t.Fatal("an identity outside the trust domain was issued")
	}
	if err := cp.RegisterStream(4, node("d", "reviews", "")); err != nil {
		t.Fatal(err)
	}
	if id, _ := cp.IssuedIdentity("d"); id != "" {
		t.Fatalf("a node without a CSR got %q", id)
	}
}
