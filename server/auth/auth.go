// Package auth carries the authenticated caller through request contexts and turns bearer
// tokens into callers. Tokens are never logged; only their sha256 is stored.
package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/trellis-mesh/trellis/models"
)

// Actor is an authenticated caller.
type Actor struct {
	// Name is the token's name; it is recorded as the actor of audit events.
	Name string
	// Role is what the caller may do.
	Role models.Role
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// FromContext returns the caller carried by ctx.
func FromContext(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// Authenticator resolves a bearer token to its record.
type Authenticator interface {
	// Authenticate returns the token's record, or models.ErrUnauthenticated.
	Authenticate(ctx context.Context, token string) (*models.APIToken, error)
}

var _ Authenticator = (*models.Store)(nil)

// BearerToken extracts the token from an Authorization header value ("Bearer TOKEN"); "" when
// the value is not a bearer credential.
func BearerToken(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// ErrNoCredentials means the request carried no bearer token.
var ErrNoCredentials = errors.New("no bearer token; hint: send 'Authorization: Bearer <token>' (see $TRELLIS_HOME/admin-token or `trellis token create`)")

// Resolve authenticates a raw Authorization header value.
func Resolve(ctx context.Context, a Authenticator, header string) (Actor, error) {
	token := BearerToken(header)
	if token == "" {
		return Actor{}, ErrNoCredentials
	}
	rec, err := a.Authenticate(ctx, token)
	if err != nil {
		return Actor{}, err
	}
	return Actor{Name: rec.Name, Role: rec.Role}, nil
}

// Middleware authenticates every request with a bearer token and stores the actor in the request
// context. Requests without a valid token get 401 with a GraphQL-shaped error body and no data,
// except websocket upgrades without an Authorization header, which authenticate in the
// connection_init payload instead. A store failure gives 503.
func Middleware(a Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" && isWebsocket(r) {
			next.ServeHTTP(w, r)
			return
		}
		actor, err := Resolve(r.Context(), a, header)
		switch {
		case errors.Is(err, ErrNoCredentials), errors.Is(err, models.ErrUnauthenticated):
			w.Header().Set("WWW-Authenticate", `Bearer realm="trellis"`)
			writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", err.Error())
			return
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "authentication is unavailable; try again")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), actor)))
	})
}

// RequireRole wraps h (a non-GraphQL handler mounted on the server) so that only callers with at
// least role reach it; others get 401 or 403.
func RequireRole(a Authenticator, role models.Role, h http.Handler) http.Handler {
	return Middleware(a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := FromContext(r.Context())
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="trellis"`)
			writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", ErrNoCredentials.Error())
			return
		}
		if !actor.Role.Allows(role) {
			writeError(w, http.StatusForbidden, "FORBIDDEN", "role "+string(actor.Role)+" may not do this; requires "+string(role))
			return
		}
		h.ServeHTTP(w, r)
	}))
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"errors":[{"message":` + quote(msg) + `,"extensions":{"code":"` + code + `"}}]}`))
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20:
			b.WriteString(" ")
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
