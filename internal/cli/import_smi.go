package cli

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
	"github.com/trellis-mesh/trellis/spec/smi"
)

func init() {
	registerImportSource("smi", func(ctx context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error) {
		return smi.Import(ctx, objs, smi.Options{})
	})
}
