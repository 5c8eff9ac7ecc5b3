package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/trellis-mesh/trellis/controlplane"
	"github.com/trellis-mesh/trellis/spec"
)

// DefaultXDSAddr is where the embedded xDS control plane listens by default: loopback only.
const DefaultXDSAddr = "127.0.0.1:15010"

// XDS returns the embedded control plane of the bundled mesh (it serves the head revision of
// every stored design once ServeXDS or Serve with Config.XDSAddr runs).
func (s *Server) XDS() *controlplane.Server { return s.xds }

// XDSAddr returns the address the embedded control plane listens on ("" while it does not).
func (s *Server) XDSAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.xdsListener != nil {
		return s.xdsListener.Addr().String()
	}
	return ""
}

// ServeXDS serves the embedded ADS control plane on lis until ctx ends. It loads the head
// revision of every stored design, then reloads them after every design save or deletion. The
// mesh CA and the proxies' join token live in <home>/mesh-ca (see MeshCADir).
func (s *Server) ServeXDS(ctx context.Context, lis net.Listener) error {
	if err := s.setupMeshIdentity(); err != nil {
		_ = lis.Close()
		return err
	}
	s.mu.Lock()
	s.xdsListener = lis
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Subscribe before the first sync so that no change between the two is missed. A dropped
	// change means the buffer is full, so a later sync (which reads the store) still sees it.
	changes := s.designs.Subscribe(ctx, 64)
	if err := s.syncXDS(ctx); err != nil {
		s.log.WarnContext(ctx, "serving designs over xDS", slog.String("error", err.Error()))
	}
	go func() {
		for range changes {
			// Coalesce a burst of changes into one sync.
			for drained := false; !drained; {
				select {
				case _, ok := <-changes:
					if !ok {
						return
					}
				default:
					drained = true
				}
			}
			if err := s.syncXDS(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "refreshing xDS snapshots after a design change", slog.String("error", err.Error()))
			}
		}
	}()
	return s.xds.Serve(ctx, lis)
}

// syncXDS serves the head revision of every stored design. A design that cannot be parsed is
// left out (and logged); a translation error keeps the previous snapshots in force.
func (s *Server) syncXDS(ctx context.Context) error {
	s.xdsMu.Lock()
	defer s.xdsMu.Unlock()
	revs, err := s.store.AllHeadRevisions(ctx)
	if err != nil {
		return err
	}
	designs := make([]*spec.Design, 0, len(revs))
	for _, r := range revs {
		ds, err := spec.LoadBytes(fmt.Sprintf("revision-%d.yaml", r.ID), []byte(r.Content))
		if err != nil {
			s.log.WarnContext(ctx, "leaving a stored design out of xDS", slog.Int64("revision", r.ID), slog.String("error", err.Error()))
			continue
		}
		designs = append(designs, ds...)
	}
	if _, err := s.xds.SetDesigns(ctx, designs); err != nil {
		return fmt.Errorf("building xDS snapshots from %d designs: %w", len(designs), err)
	}
	s.log.DebugContext(ctx, "xDS snapshots refreshed", slog.Int("designs", len(designs)))
	return nil
}
