package server

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/trellis-mesh/trellis/controlplane/meshca"
)

// MeshCADir is the directory, inside the Trellis home, of the bundled mesh's CA (ca-cert.pem,
// ca-key.pem) and of the join token proxies present (join-token), all mode 0600. Putting one's
// own CA certificate and key there before the first start brings one's own CA.
const MeshCADir = "mesh-ca"

// setupMeshIdentity loads (or creates on first start) the mesh CA and the join token under the
// home directory and hands them to the embedded control plane. A created join token is printed
// once, like the admin token.
func (s *Server) setupMeshIdentity() error {
	dir := filepath.Join(s.cfg.Home, MeshCADir)
	ca, created, err := meshca.LoadOrCreate(dir, "")
	if err != nil {
		return fmt.Errorf("loading the mesh CA: %w", err)
	}
	if created {
		s.log.Info("created the mesh CA", slog.String("dir", dir))
	}
	path := filepath.Join(dir, meshca.TokenFile)
	token, created, err := meshca.LoadOrCreateToken(path)
	if err != nil {
		return fmt.Errorf("loading the proxies' join token: %w", err)
	}
	if created {
		fmt.Fprintf(s.cfg.AdminTokenOut, "trellis: created the join token of the bundled mesh's proxies (also saved to %s; pass it with trellis proxy --join-token-file):\n%s\n", path, token)
	}
	s.xds.SetIdentity(ca, token)
	return nil
}
