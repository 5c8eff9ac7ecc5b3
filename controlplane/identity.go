package controlplane

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/trellis-mesh/trellis/adapters/native"
	"github.com/trellis-mesh/trellis/controlplane/meshca"
)

// TokenHeader is the gRPC metadata key a proxy sends its join token in ("Bearer <token>").
const TokenHeader = "authorization"

// issued is the workload certificate of one node.
type issued struct {
	csr      string
	spiffe   string
	chain    []byte
	issuedAt time.Time
	notAfter time.Time
}

// authorize checks the join token of a new ADS stream. Without a configured token every stream
// may enroll (open enrollment, logged once at start).
func (s *Server) authorize(ctx context.Context, id int64) error {
	s.mu.Lock()
	want := s.opts.JoinToken
	s.mu.Unlock()
	if want == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get(TokenHeader) {
		tok, ok := strings.CutPrefix(v, "Bearer ")
		if ok && meshca.TokenEqual(strings.TrimSpace(tok), want) {
			return nil
		}
	}
	s.log.Warn("rejecting xDS stream: missing or wrong join token", "stream", id)
	return status.Error(codes.Unauthenticated, "trellis control plane: a valid join token is required (trellis proxy --join-token-file)")
}

// spiffeFor returns the SPIFFE ID a node is issued: its identity in its namespace, in the
// control plane's trust domain. An identity given as a SPIFFE ID must be in that trust domain.
func (s *Server) spiffeFor(info native.NodeInfo) (string, error) {
	td := s.trustDomain()
	if strings.HasPrefix(info.Identity, "spiffe://") {
		u, err := meshca.ParseSPIFFE(info.Identity)
		if err != nil {
			return "", err
		}
		if u.Host != td {
			return "", fmt.Errorf("identity %s is outside the trust domain %q", info.Identity, td)
		}
		return info.Identity, nil
	}
	return meshca.SPIFFEID(td, info.Namespace, info.Identity), nil
}

func (s *Server) trustDomain() string {
	if s.opts.TrustDomain == "" {
		return "cluster.local"
	}
	return s.opts.TrustDomain
}

// issueLocked signs (or re-signs, past half of the certificate's lifetime, or for a new key) the
// node's certificate. A node without a CSR gets the roots only.
func (s *Server) issueLocked(n *nodeState, now time.Time) error {
	if n.info.CSR == "" {
		n.cert = nil
		return nil
	}
	if c := n.cert; c != nil && c.csr == n.info.CSR && now.Before(c.issuedAt.Add(c.notAfter.Sub(c.issuedAt)/2)) {
		return nil
	}
	der, err := base64.StdEncoding.DecodeString(n.info.CSR)
	if err != nil {
		return fmt.Errorf("node metadata %s: expected base64 of a DER certificate signing request: %w", native.MetaCSR, err)
	}
	id, err := s.spiffeFor(n.info)
	if err != nil {
		return err
	}
	chain, notAfter, err := s.ca.Sign(der, id, s.opts.CertTTL)
	if err != nil {
		return err
	}
	n.cert = &issued{csr: n.info.CSR, spiffe: id, chain: chain, issuedAt: now, notAfter: notAfter}
	s.log.Info("workload certificate issued", "node", n.info.ID, "spiffe_id", id, "not_after", notAfter.UTC().Format(time.RFC3339))
	return nil
}

// rotate re-signs certificates past half of their lifetime and pushes them, until ctx ends.
func (s *Server) rotate(ctx context.Context) {
	every := s.opts.CertTTL / 10
	if every <= 0 || every > time.Minute {
		every = time.Minute
	}
	if every < 50*time.Millisecond {
		every = 50 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		changed := false
		now := time.Now()
		for _, n := range s.nodes {
			before := n.cert
			if err := s.issueLocked(n, now); err != nil {
				s.log.Error("rotating a workload certificate", "node", n.info.ID, "err", err)
				continue
			}
			if n.cert != before {
				changed = true
			}
		}
		if changed {
			s.pushLocked(ctx)
		}
		s.mu.Unlock()
	}
}

// CA returns the mesh certificate authority.
func (s *Server) CA() *meshca.CA {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ca
}

// SetIdentity replaces the CA and the join token (for servers that create the control plane
// before their persisted CA is loaded). Certificates of connected proxies are re-issued by the
// new CA and pushed with its root; streams already open stay authorised.
func (s *Server) SetIdentity(ca *meshca.CA, joinToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ca != nil && ca != s.ca {
		s.ca = ca
		now := time.Now()
		for _, n := range s.nodes {
			n.cert = nil
			if err := s.issueLocked(n, now); err != nil {
				s.log.Error("re-issuing a workload certificate", "node", n.info.ID, "err", err)
			}
		}
		s.pushLocked(context.Background())
	}
	s.opts.JoinToken = joinToken
}

// IssuedIdentity returns the SPIFFE ID and expiry of a node's current certificate (zero values
// when it has none).
func (s *Server) IssuedIdentity(nodeID string) (string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nodes[nodeID]; n != nil && n.cert != nil {
		return n.cert.spiffe, n.cert.notAfter
	}
	return "", time.Time{}
}

// IssueKeyPair generates a key and a certificate for a workload identity in a namespace, signed by
// the mesh CA (ttl 0: the configured lifetime). It is for in-process clients that act as a
// workload of the mesh, such as a load generator calling a sidecar's inbound listener directly;
// proxies use the CSR flow instead, so that their keys never leave them.
func (s *Server) IssueKeyPair(namespace, identity string, ttl time.Duration) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating a workload key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating a certificate signing request: %w", err)
	}
	id, err := s.spiffeFor(native.NodeInfo{Namespace: namespace, Identity: identity})
	if err != nil {
		return tls.Certificate{}, err
	}
	if ttl <= 0 {
		ttl = s.opts.CertTTL
	}
	chain, _, err := s.CA().Sign(csr, id, ttl)
	if err != nil {
		return tls.Certificate{}, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(chain, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}
