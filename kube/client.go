// Package kube deploys generated mesh objects to Kubernetes with client-go: server-side apply
// with a dry run of every object first (so a rejected object leaves the cluster as it was),
// pruning of objects a design no longer produces, and diffs between what a design generates and
// what runs (drift).
package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/trellis-mesh/trellis/adapters"
)

// FieldManager is the server-side apply field manager Trellis writes with.
const FieldManager = "trellis"

// Client talks to one cluster.
type Client struct {
	dyn    dynamic.Interface
	disc   discovery.DiscoveryInterface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// Config loads a rest.Config the way kubectl does: kubeconfig (empty: $KUBECONFIG or
// ~/.kube/config, else in-cluster) and an optional context. It also returns the context's
// default namespace.
func Config(kubeconfig, context string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading kubeconfig: %w; hint: pass --kubeconfig or set KUBECONFIG", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		ns = "default"
	}
	return cfg, ns, nil
}

// New returns a client for the cluster behind cfg.
func New(cfg *rest.Config) (*Client, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating discovery client: %w", err)
	}
	return &Client{dyn: dyn, disc: dc, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// resource returns the dynamic resource interface for an object, refreshing discovery once when
// its kind is unknown (CRDs installed after the client was made).
func (c *Client) resource(o *unstructured.Unstructured) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	gvk := o.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the cluster does not serve %s: %w; hint: install the mesh's CRDs first", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.dyn.Resource(m.Resource).Namespace(o.GetNamespace()), m, nil
	}
	return c.dyn.Resource(m.Resource), m, nil
}

// get reads the live version of an object; nil when it does not exist.
func (c *Client) get(ctx context.Context, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, _, err := c.resource(o)
	if err != nil {
		return nil, err
	}
	live, err := ri.Get(ctx, o.GetName(), metav1GetOptions)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", adapters.ObjectRef(o), err)
	}
	return live, nil
}

// objectKey identifies an object by group, kind, namespace and name.
type objectKey struct {
	gk        schema.GroupKind
	namespace string
	name      string
}

func keyOf(o *unstructured.Unstructured) objectKey {
	return objectKey{gk: o.GroupVersionKind().GroupKind(), namespace: o.GetNamespace(), name: o.GetName()}
}
