package identity_test

import (
	"crypto/tls"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/controlplane/meshca"
	"github.com/trellis-mesh/trellis/proxy/identity"
)

// enroll signs st's CSR for id with ca and installs roots and certificate, as the control plane's
// SDS secrets do.
func enroll(t *testing.T, st *identity.Store, ca *meshca.CA, id string, ttl time.Duration) {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(st.CSR())
	if err != nil {
		t.Fatal(err)
	}
	chain, _, err := ca.Sign(der, id, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetRoots(ca.RootPEM()); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCertificate(chain); err != nil {
		t.Fatal(err)
	}
}

// handshake runs a TLS handshake between a client and a server configuration over a pipe.
func handshake(client, server *tls.Config) (serverSaw string, clientErr, serverErr error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan struct{})
	srv := tls.Server(b, server)
	go func() {
		defer close(done)
		serverErr = srv.Handshake()
		if serverErr == nil {
			serverSaw = identity.PeerID(srv.ConnectionState())
		}
		b.Close()
	}()
	cl := tls.Client(a, client)
	clientErr = cl.Handshake()
	a.Close()
	<-done
	return serverSaw, clientErr, serverErr
}

func TestMutualHandshakeAndRotation(t *testing.T) {
	ca, err := meshca.Generate("")
	if err != nil {
		t.Fatal(err)
	}
	const clientID, serverID = "spiffe://cluster.local/ns/a/sa/client", "spiffe://cluster.local/ns/a/sa/server"
	cs, _ := identity.New(clientID)
	ss, _ := identity.New(serverID)
	if cs.Ready() {
		t.Fatal("ready before enrollment")
	}
	enroll(t, cs, ca, clientID, time.Hour)
	enroll(t, ss, ca, serverID, time.Hour)
	if cs.ID() != clientID || !cs.Ready() {
		t.Fatalf("client identity %q", cs.ID())
	}
	saw, cerr, serr := handshake(cs.ClientConfig([]string{serverID}), ss.ServerConfig())
	if cerr != nil || serr != nil || saw != clientID {
		t.Fatalf("mutual handshake: client %v server %v saw %q", cerr, serr, saw)
	}
	// The server is not the expected destination: the client refuses it.
	if _, cerr, _ := handshake(cs.ClientConfig([]string{"spiffe://cluster.local/ns/a/sa/other"}), ss.ServerConfig()); cerr == nil || !strings.Contains(cerr.Error(), "not one allowed") {
		t.Fatalf("unexpected server identity accepted: %v", cerr)
	}
	// Rotation: configurations built before it serve the new certificate.
	cfg := ss.ServerConfig()
	before := ss.Certificate()
	enroll(t, ss, ca, serverID, 2*time.Hour)
	if ss.Certificate() == before || ss.NotAfter().Before(time.Now().Add(90*time.Minute)) {
		t.Fatal("certificate not rotated")
	}
	if _, cerr, serr := handshake(cs.ClientConfig([]string{serverID}), cfg); cerr != nil || serr != nil {
		t.Fatalf("handshake after rotation: %v / %v", cerr, serr)
	}
	// A certificate signed for another key is refused.
	other, _ := identity.New(clientID)
	der, _ := base64.StdEncoding.DecodeString(other.CSR())
	chain, _, _ := ca.Sign(der, clientID, time.Hour)
	if err := cs.SetCertificate(chain); err == nil {
		t.Fatal("a certificate for another key was installed")
	}
	// A client from a foreign CA is refused by the server.
	foreign, _ := meshca.Generate("")
	fs, _ := identity.New(clientID)
	enroll(t, fs, foreign, clientID, time.Hour)
	if _, _, serr := handshake(fs.ClientConfig(nil), ss.ServerConfig()); serr == nil {
		t.Fatal("a client certificate from a foreign CA was accepted")
	}
}
