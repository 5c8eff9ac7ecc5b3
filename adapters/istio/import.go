package istio

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Import builds a design from Istio objects.
func (a *Adapter) Import(ctx context.Context, objs []*unstructured.Unstructured, opts adapters.ImportOptions) (*spec.Design, []adapters.Warning, error) {
	return nil, nil, errors.New("not yet")
}
