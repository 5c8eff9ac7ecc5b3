package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/server/auth"
	"github.com/trellis-mesh/trellis/server/graph/model"
	"github.com/trellis-mesh/trellis/server/live"
)

// actorName returns the caller's name for audit records.
func actorName(ctx context.Context) string {
	if a, ok := auth.FromContext(ctx); ok {
		return a.Name
	}
	return "anonymous"
}

func isNotFound(err error) bool { return errors.Is(err, models.ErrNotFound) }

// wantsField reports whether the current field's selection includes the named sub-field.
func wantsField(ctx context.Context, name string) bool {
	if graphql.GetFieldContext(ctx) == nil {
		return true
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == name {
			return true
		}
	}
	return false
}

// roleOf maps a stored role onto the GraphQL enum.
func roleOf(r models.Role) model.Role {
	switch r {
	case models.RoleAdmin:
		return model.RoleAdmin
	case models.RoleEditor:
		return model.RoleEditor
	}
	return model.RoleViewer
}

// storeRole maps the GraphQL enum onto a stored role.
func storeRole(r model.Role) models.Role {
	switch r {
	case model.RoleAdmin:
		return models.RoleAdmin
	case model.RoleEditor:
		return models.RoleEditor
	}
	return models.RoleViewer
}

// HasRole implements the @hasRole directive: the caller must be authenticated with at least
// the role (UNAUTHENTICATED or FORBIDDEN otherwise).
func HasRole(ctx context.Context, _ any, next graphql.Resolver, role model.Role) (any, error) {
	a, ok := auth.FromContext(ctx)
	if !ok {
		return nil, newError(ctx, CodeUnauthenticated, "authentication required", nil)
	}
	if !a.Role.Allows(storeRole(role)) {
		return nil, newError(ctx, CodeForbidden, "role "+string(a.Role)+" may not do this; requires "+string(storeRole(role)), nil)
	}
	return next(ctx)
}

// publish announces a design change to subscribers.
func (r *Resolver) publish(c model.DesignChange) {
	if r.Designs != nil {
		r.Designs.Publish(c)
	}
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// operationOf converts an operation snapshot.
func operationOf(op live.Operation) *model.Operation {
	return &model.Operation{
		ID: op.ID, Kind: op.Kind, Target: op.Target, Actor: op.Actor, Status: model.OperationStatus(op.Status),
		Progress: op.Progress, Message: op.Message, Error: optString(op.Error), Result: op.Result,
		StartedAt: op.StartedAt, FinishedAt: op.FinishedAt,
	}
}
