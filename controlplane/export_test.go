package controlplane

import corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

// RegisterStream registers a node as if its ADS stream id had sent its first request.
func (s *Server) RegisterStream(id int64, n *corev3.Node) error { return s.register(id, n) }
