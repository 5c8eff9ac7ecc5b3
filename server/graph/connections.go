package graph

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/server/graph/model"
)

// Page-size bounds of every connection.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// encodeCursor makes an opaque cursor from a kind prefix and a key.
func encodeCursor(kind, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + key))
}

// decodeCursor reverses encodeCursor, checking the kind.
func decodeCursor(kind, cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", fmt.Errorf("malformed cursor %q", cursor)
	}
	k, key, ok := strings.Cut(string(b), ":")
	if !ok || k != kind {
		return "", fmt.Errorf("cursor %q does not belong to this list", cursor)
	}
	return key, nil
}

func decodeInt[K ~int | ~int64](kind, cursor string) (K, error) {
	s, err := decodeCursor(kind, cursor)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed cursor %q", cursor)
	}
	return K(n), nil
}

// windowFor turns Relay arguments into a store window; bad arguments give BAD_INPUT.
func windowFor[K comparable](ctx context.Context, first *int, after *string, last *int, before *string, decode func(string) (K, error)) (models.Window[K], error) {
	var w models.Window[K]
	if first != nil && last != nil {
		return w, newError(ctx, CodeBadInput, "pass either first or last, not both", nil)
	}
	w.Limit = defaultPageSize
	for _, n := range []*int{first, last} {
		if n == nil {
			continue
		}
		if *n < 0 || *n > maxPageSize {
			return w, newError(ctx, CodeBadInput, fmt.Sprintf("page size %d is out of range; expected 0 to %d", *n, maxPageSize), nil)
		}
		w.Limit = *n
	}
	w.FromEnd = last != nil
	for _, c := range []struct {
		s   *string
		dst **K
	}{{after, &w.After}, {before, &w.Before}} {
		if c.s == nil {
			continue
		}
		k, err := decode(*c.s)
		if err != nil {
			return w, newError(ctx, CodeBadInput, err.Error(), nil)
		}
		*c.dst = &k
	}
	return w, nil
}

// pageInfo builds Relay page information for a page fetched with w.
func pageInfo[K comparable](w models.Window[K], more bool, first, last string, n int) *model.PageInfo {
	pi := &model.PageInfo{}
	if w.FromEnd {
		pi.HasPreviousPage, pi.HasNextPage = more, w.Before != nil
	} else {
		pi.HasNextPage, pi.HasPreviousPage = more, w.After != nil
	}
	if n > 0 {
		pi.StartCursor, pi.EndCursor = &first, &last
	}
	return pi
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
