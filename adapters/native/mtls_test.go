package native_test

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/adapters/native"
	"github.com/trellis-mesh/trellis/spec"
)

const mtlsDesign = `
apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: tls, namespace: shop}
spec:
  services:
    - {name: strict-svc, ports: [{port: 8080}]}
    - {name: open-svc, ports: [{port: 8080}]}
    - {name: plain-svc, ports: [{port: 8080}]}
    - {name: mixed-svc, identity: mixed-sa, ports: [{port: 8080}, {port: 9090}]}
  security:
    mtls: strict
    mtlsOverrides:
      - {service: open-svc, mode: permissive}
      - {service: plain-svc, mode: disabled}
      - {service: mixed-svc, port: 9090, mode: disabled}
`

// TestMTLSModesShapeListenersAndClusters checks the transport sockets per mTLS mode: strict, one
// mTLS chain requiring a client certificate; permissive, tls_inspector + mTLS and plaintext chains;
// disabled, plaintext; mesh clusters originate mTLS with the destination's SPIFFE ID unless the
// destination port is disabled.
func TestMTLSModesShapeListenersAndClusters(t *testing.T) {
	ds, err := spec.LoadBytes("tls.yaml", []byte(mtlsDesign))
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := native.Build(ds[0], adapters.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inbound := func(svc string) *listenerv3.Listener {
		t.Helper()
		n := native.NodeInfo{ID: svc + "~x", Service: svc, Namespace: "shop", Identity: svc, InboundAddr: "127.0.0.1:16006", OutboundAddr: "127.0.0.1:16001", AppAddr: "127.0.0.1:8080"}
		snap, err := native.ForNode(res, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap[resourcev3.SecretType] = native.NodeSecrets([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), []byte("root"))
		checkSnapshot(t, snap)
		return find[*listenerv3.Listener](t, snap[resourcev3.ListenerType], native.ListenerInbound)
	}
	downstream := func(fc *listenerv3.FilterChain) *tlsv3.DownstreamTlsContext {
		t.Helper()
		if fc.TransportSocket == nil {
			return nil
		}
		d := &tlsv3.DownstreamTlsContext{}
		if err := fc.TransportSocket.GetTypedConfig().UnmarshalTo(d); err != nil {
			t.Fatal(err)
		}
		return d
	}

	strict := inbound("strict-svc")
	if len(strict.FilterChains) != 1 || !downstream(strict.FilterChains[0]).GetRequireClientCertificate().GetValue() {
		t.Errorf("strict inbound: want one mTLS chain requiring a client certificate, got %v", strict.FilterChains)
	}
	d := downstream(strict.FilterChains[0])
	if d.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()[0].GetName() != native.SecretCert ||
		d.GetCommonTlsContext().GetValidationContextSdsSecretConfig().GetName() != native.SecretRoots {
		t.Errorf("strict inbound secrets = %v", d.GetCommonTlsContext())
	}
	open := inbound("open-svc")
	if len(open.FilterChains) != 2 || len(open.ListenerFilters) != 1 || open.ListenerFilters[0].Name != native.TLSInspector ||
		open.FilterChains[0].GetFilterChainMatch().GetTransportProtocol() != "tls" || downstream(open.FilterChains[0]) == nil ||
		open.FilterChains[1].GetFilterChainMatch().GetTransportProtocol() != "raw_buffer" || open.FilterChains[1].TransportSocket != nil {
		t.Errorf("permissive inbound: want tls_inspector and tls + raw_buffer chains, got %v", open)
	}
	if plain := inbound("plain-svc"); len(plain.FilterChains) != 1 || plain.FilterChains[0].TransportSocket != nil {
		t.Errorf("disabled inbound: want one plaintext chain, got %v", plain.FilterChains)
	}
	if mixed := inbound("mixed-svc"); len(mixed.FilterChains) != 2 {
		t.Errorf("mixed ports: want the permissive shape, got %d chains", len(mixed.FilterChains))
	}

	clusters := map[string]*clusterv3.Cluster{}
	for _, c := range res.Clusters {
		clusters[c.Name] = c
	}
	san := func(name string) string {
		t.Helper()
		c := clusters[name]
		if c == nil {
			t.Fatalf("cluster %q missing", name)
		}
		if c.TransportSocket == nil {
			return ""
		}
		u := &tlsv3.UpstreamTlsContext{}
		if err := c.TransportSocket.GetTypedConfig().UnmarshalTo(u); err != nil {
			t.Fatal(err)
		}
		cv := u.GetCommonTlsContext().GetCombinedValidationContext()
		if cv.GetValidationContextSdsSecretConfig().GetName() != native.SecretRoots || u.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()[0].GetName() != native.SecretCert {
			t.Errorf("cluster %s: SDS secrets = %v", name, u.GetCommonTlsContext())
		}
		m := cv.GetDefaultValidationContext().GetMatchTypedSubjectAltNames()[0]
		if m.GetSanType() != tlsv3.SubjectAltNameMatcher_URI {
			t.Errorf("cluster %s: SAN type %v, want URI", name, m.GetSanType())
		}
		return m.GetMatcher().GetExact()
	}
	for name, want := range map[string]string{
		"outbound|8080||strict-svc.shop": "spiffe://cluster.local/ns/shop/sa/strict-svc",
		"outbound|8080||open-svc.shop":   "spiffe://cluster.local/ns/shop/sa/open-svc",
		"outbound|8080||plain-svc.shop":  "",
		"outbound|8080||mixed-svc.shop":  "spiffe://cluster.local/ns/shop/sa/mixed-sa",
		"outbound|9090||mixed-svc.shop":  "",
	} {
		if got := san(name); got != want {
			t.Errorf("cluster %s: SAN %q, want %q", name, got, want)
		}
	}
}
