package cli

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/gatewayapi"
)

func init() {
	registerImportSource("gateway-api", func(ctx context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error) {
		return gatewayapi.Import(ctx, objs, gatewayapi.Options{})
	})
}
