//go:build tools

// Package tools pins code generators used by `make generate`.
package tools

import (
	_ "github.com/99designs/gqlgen"
)
