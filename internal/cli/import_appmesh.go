package cli

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/appmesh"
)

func init() {
	registerImportSource("appmesh", func(ctx context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error) {
		return appmesh.Import(ctx, objs, appmesh.Options{})
	})
}
