package graph

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/spec"
)

// Error codes carried in extensions.code.
const (
	// CodeInvalidDesign: the design is invalid; extensions.violations lists why.
	CodeInvalidDesign = "INVALID_DESIGN"
	// CodeConflict: the expected revision is stale; extensions.head is the current head.
	CodeConflict = "CONFLICT"
	// CodeNotFound: the object does not exist.
	CodeNotFound = "NOT_FOUND"
	// CodeForbidden: the caller's role does not allow the operation.
	CodeForbidden = "FORBIDDEN"
	// CodeUnauthenticated: no or an unknown token.
	CodeUnauthenticated = "UNAUTHENTICATED"
	// CodeBadInput: an argument is invalid.
	CodeBadInput = "BAD_INPUT"
	// CodePolicyFailed: a deployment was refused because the policy check found unsuppressed
	// errors; extensions.findings lists them.
	CodePolicyFailed = "POLICY_FAILED"
	// CodeClusterUnavailable: the cluster could not be reached or read; the message says why.
	CodeClusterUnavailable = "CLUSTER_UNAVAILABLE"
	// CodeInternal: an unexpected failure (details are logged, not returned).
	CodeInternal = "INTERNAL"
)

// newError builds a GraphQL error at the current field's path with code and extra extensions.
func newError(ctx context.Context, code, msg string, ext map[string]any) *gqlerror.Error {
	e := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
	if graphql.GetFieldContext(ctx) != nil {
		e.Path = graphql.GetPath(ctx)
	}
	for k, v := range ext {
		e.Extensions[k] = v
	}
	return e
}

// violationsExt renders violations for extensions.violations.
func violationsExt(vs []spec.Violation) []map[string]any {
	out := make([]map[string]any, len(vs))
	for i, v := range vs {
		m := map[string]any{"path": v.Path, "message": v.Message}
		if v.Expected != "" {
			m["expected"] = v.Expected
		}
		if v.Hint != "" {
			m["hint"] = v.Hint
		}
		if v.Pos != nil && v.Pos.Line > 0 {
			m["line"] = v.Pos.Line
			m["column"] = v.Pos.Column
		}
		out[i] = m
	}
	return out
}

// toGraphQLError maps store and validation errors onto coded GraphQL errors; anything else is
// logged and reported as INTERNAL without details.
func (r *Resolver) toGraphQLError(ctx context.Context, err error) error {
	var ve *spec.ValidationError
	var ce *models.ConflictError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return newError(ctx, CodeInvalidDesign, ve.Error(), map[string]any{"violations": violationsExt(ve.Violations)})
	case errors.As(err, &ce):
		return newError(ctx, CodeConflict, ce.Error(), map[string]any{"head": ce.Head, "expected": ce.Expected})
	case errors.Is(err, models.ErrNotFound):
		return newError(ctx, CodeNotFound, err.Error(), nil)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return newError(ctx, CodeInternal, "request cancelled or timed out", nil)
	}
	r.logger().ErrorContext(ctx, "graphql resolver failed", slog.String("error", err.Error()))
	return newError(ctx, CodeInternal, "internal error; see the server log", nil)
}

func (r *Resolver) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}
