// Package all registers every mesh adapter: import it for its side effects
// (`import _ "github.com/trellis-mesh/trellis/adapters/all"`) wherever the full registry is
// needed (the CLI, the server). Each adapter package adds its own line below.
package all

import (
	// The Consul adapter.
	_ "github.com/trellis-mesh/trellis/adapters/consul"
	// The Istio adapter.
	_ "github.com/trellis-mesh/trellis/adapters/istio"
	// The Linkerd adapter.
	_ "github.com/trellis-mesh/trellis/adapters/linkerd"
	// The bundled mesh (xDS for trellis proxy).
	_ "github.com/trellis-mesh/trellis/adapters/native"
)
