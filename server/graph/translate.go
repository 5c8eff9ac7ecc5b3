package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/server/graph/model"
	"github.com/trellis-mesh/trellis/spec"
)

// loadRevision returns a stored revision (number 0: the head) parsed into a defaulted design.
func (r *Resolver) loadRevision(ctx context.Context, name string, number int) (*models.DesignRevision, *spec.Design, error) {
	rev, err := r.Store.Revision(ctx, name, number)
	if err != nil {
		return nil, nil, err
	}
	d, _, err := models.CanonicalDesign(name, []byte(rev.Content))
	if err != nil {
		return rev, nil, err
	}
	return rev, d, nil
}

// adapterOptions converts GraphQL translation options.
func adapterOptions(o *model.TranslateOptions) adapters.Options {
	if o == nil {
		return adapters.Options{}
	}
	return adapters.Options{
		Strict: ptrOr(o.Strict, false), MeshRoutes: ptrOr(o.MeshRoutes, false),
		ServiceProfiles: ptrOr(o.ServiceProfiles, false), ConsulFormat: ptrOr(o.ConsulFormat, ""),
		TrustDomain: ptrOr(o.TrustDomain, ""),
	}
}

// translateDesign runs one mesh's adapter on d; an unknown mesh or a failed translation yields
// BAD_INPUT with the adapter's message.
func (r *Resolver) translateDesign(ctx context.Context, d *spec.Design, mesh string, opts adapters.Options) (*adapters.Output, []adapters.Warning, error) {
	a, err := adapters.Lookup(mesh)
	if err != nil {
		return nil, nil, newError(ctx, CodeBadInput, err.Error(), map[string]any{"meshes": adapters.Names()})
	}
	out, ws, err := adapters.Translate(ctx, a, d, opts)
	if err != nil {
		var se *adapters.StrictError
		ext := map[string]any{}
		if errors.As(err, &se) {
			ext["warnings"] = len(se.Warnings)
		}
		return nil, ws, newError(ctx, CodeBadInput, err.Error(), ext)
	}
	return out, ws, nil
}

// warningsOf converts adapter warnings.
func warningsOf(ws []adapters.Warning) []*model.TranslationWarning {
	out := make([]*model.TranslationWarning, len(ws))
	for i, w := range ws {
		out[i] = &model.TranslationWarning{Path: w.Path, Mesh: w.Mesh, Feature: string(w.Feature), Lost: w.Lost, Severity: string(w.Severity)}
	}
	return out
}

// translation renders one mesh's translation of a stored revision.
func (r *Resolver) translation(ctx context.Context, name string, number int, mesh string, opts adapters.Options) (*model.Translation, error) {
	rev, d, err := r.loadRevision(ctx, name, number)
	if err != nil {
		return nil, r.toGraphQLError(ctx, err)
	}
	out, ws, err := r.translateDesign(ctx, d, mesh, opts)
	if err != nil {
		return nil, err
	}
	text, err := adapters.RenderYAML(out.Objects)
	if err != nil {
		return nil, r.toGraphQLError(ctx, fmt.Errorf("rendering %s output of %s@%d: %w", mesh, name, rev.Number, err))
	}
	return &model.Translation{Mesh: mesh, Design: name, Revision: rev.Number, Manifests: string(text),
		ObjectCount: len(out.Objects), Warnings: warningsOf(ws)}, nil
}
