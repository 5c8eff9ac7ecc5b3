// Command trellis is the Trellis multi-mesh management plane: validate, check and translate
// designs, import mesh configurations, and serve the API, dashboard and xDS control plane.
package main

import (
	"os"

	"github.com/trellis-mesh/trellis/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
