//go:build tools

// Package tools pins the Consul agent that Trellis's Consul adapter tests run (MPL-2.0), built by
// build.sh.
package tools

import _ "github.com/hashicorp/consul"
