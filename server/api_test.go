package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/policies"
)

func TestAuthAndRoles(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		if !strings.HasPrefix(e.admin, models.TokenPrefix) {
			t.Fatalf("admin token file holds %q", e.admin)
		}
		st, err := os.Stat(e.home + "/admin-token")
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("admin-token mode: %v %v", st.Mode(), err)
		}

		// No token and a wrong token: 401 with no data.
		for _, tok := range []string{"", models.TokenPrefix + strings.Repeat("0", 64), "garbage"} {
			r := e.do(t, tok, `{ me { name } }`, nil)
			if r.status != http.StatusUnauthorized || r.Data != nil || r.code() != "UNAUTHENTICATED" {
				t.Fatalf("token %q: status %d body %s", tok, r.status, r.raw)
			}
			if strings.Contains(r.raw, `"data"`) {
				t.Fatalf("401 body carries data: %s", r.raw)
			}
		}

		viewer := e.token(t, "alice", models.RoleViewer)
		editor := e.token(t, "bob", models.RoleEditor)
		var me struct {
			Me struct{ Name, Role string }
		}
		e.must(t, viewer, `{ me { name role } }`, nil, &me)
		if me.Me.Name != "alice" || me.Me.Role != "VIEWER" {
			t.Fatalf("me = %+v", me.Me)
		}

		// A viewer reads but cannot mutate.
		r := e.do(t, viewer, saveMutation, saveVars("shop", designYAML("shop", 50), 0, "x"))
		if r.code() != "FORBIDDEN" || string(r.Data) != "null" {
			t.Fatalf("viewer save: %s", r.raw)
		}
		if d := e.do(t, viewer, `{ design(name: "shop") { name } }`, nil); string(d.Data) != `{"design":null}` {
			t.Fatalf("the forbidden save wrote something: %s", d.raw)
		}
		// An editor saves but cannot manage tokens.
		e.save(t, editor, "shop", 50, 0)
		if r := e.do(t, editor, `mutation { createToken(name: "x", role: ADMIN) { token } }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("editor createToken: %s", r.raw)
		}
		if r := e.do(t, viewer, `{ tokens { name } }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("viewer tokens: %s", r.raw)
		}
		// The admin creates a token that works, lists tokens without secrets, and revokes it.
		var created struct {
			CreateToken struct {
				Token  string
				Record struct{ Name, Role string }
			}
		}
		e.must(t, e.admin, `mutation { createToken(name: "ci", role: EDITOR) { token record { name role } } }`, nil, &created)
		if created.CreateToken.Record.Role != "editor" {
			t.Fatalf("created %+v", created)
		}
		e.must(t, created.CreateToken.Token, `mutation { ping }`, nil, nil)
		var toks struct {
			Tokens []struct {
				Name       string
				LastUsedAt *string
			}
		}
		e.must(t, e.admin, `{ tokens { name lastUsedAt } }`, nil, &toks)
		if len(toks.Tokens) != 4 {
			t.Fatalf("tokens = %+v", toks)
		}
		e.must(t, e.admin, `mutation { deleteToken(name: "ci") }`, nil, nil)
		if r := e.do(t, created.CreateToken.Token, `{ me { name } }`, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("revoked token still works: %s", r.raw)
		}

		// Every mutation is audited with its actor.
		var evs struct {
			Events struct {
				Edges []struct {
					Node struct{ Actor, Action, ObjectName string }
				}
			}
		}
		e.must(t, viewer, `{ events(first: 10) { edges { node { actor action objectName } } } }`, nil, &evs)
		var got []string
		for _, ed := range evs.Events.Edges {
			got = append(got, ed.Node.Actor+" "+ed.Node.Action+" "+ed.Node.ObjectName)
		}
		want := []string{"admin token.delete ci", "admin token.create ci", "bob design.save shop", "test token.create bob", "test token.create alice", "trellis token.create admin"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("events:\n got %q\nwant %q", got, want)
		}
	})
}

func TestHealthMetricsPlayground(t *testing.T) {
	e := startEnv(t, backends(t)[0])
	get := func(path string) (int, string) {
		res, err := http.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(p); code != 200 || body != "ok\n" {
			t.Fatalf("%s: %d %q", p, code, body)
		}
	}
	if code, body := get("/playground"); code != 200 || !strings.Contains(body, "/graphql") {
		t.Fatalf("playground: %d", code)
	}
	e.must(t, e.admin, `query Who { me { name } }`, nil, nil)
	e.do(t, e.admin, `query Missing { diff(design: "nope", from: 1) { unified } }`, nil)
	_, metrics := get("/metrics")
	for _, want := range []string{
		`trellis_graphql_operations_total{operation="Who",outcome="ok",type="query"} 1`,
		`trellis_graphql_operations_total{operation="Missing",outcome="error",type="query"} 1`,
		`trellis_graphql_errors_total{code="NOT_FOUND"} 1`,
		`trellis_http_request_duration_seconds_count{code="200",method="GET",route="/healthz"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Readiness follows the database.
	_ = e.srv.Store().Close()
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with a closed database: %d", code)
	}
}

func TestDesignLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		ed := e.token(t, "ed", models.RoleEditor)
		r1 := e.save(t, ed, "shop", 90, 0)
		if !r1.SaveDesign.Created || r1.SaveDesign.Revision.Number != 1 || r1.SaveDesign.Revision.Parent != nil ||
			r1.SaveDesign.Revision.Author != "ed" || r1.SaveDesign.Revision.Design.HeadRevision != 1 {
			t.Fatalf("first save: %+v", r1)
		}
		r2 := e.save(t, ed, "shop", 80, 1)
		if r2.SaveDesign.Revision.Number != 2 || r2.SaveDesign.Revision.Parent == nil || r2.SaveDesign.Revision.Parent.Number != 1 {
			t.Fatalf("second save: %+v", r2)
		}
		// Same content again: nothing written.
		r3 := e.save(t, ed, "shop", 80, 2)
		if r3.SaveDesign.Created || r3.SaveDesign.Revision.Number != 2 {
			t.Fatalf("identical save: %+v", r3)
		}
		// Canonical content is stored, with its sha256.
		if !strings.Contains(r2.SaveDesign.Revision.Content, "weight: 80") || len(r2.SaveDesign.Revision.SHA256) != 64 {
			t.Fatalf("content: %s", r2.SaveDesign.Revision.Content)
		}

		var got struct {
			Design struct {
				Name         string
				HeadRevision int
				Head         struct{ Number int }
				Revision     struct{ Message string }
				History      struct {
					Edges []struct {
						Node struct{ Number int }
					}
				}
			}
		}
		e.must(t, ed, `{ design(name: "shop") { name headRevision head { number } revision(number: 1) { message } history(first: 10) { edges { node { number } } } } }`, nil, &got)
		if got.Design.HeadRevision != 2 || got.Design.Head.Number != 2 || got.Design.Revision.Message != "weight 90" ||
			len(got.Design.History.Edges) != 2 || got.Design.History.Edges[0].Node.Number != 2 {
			t.Fatalf("design: %+v", got)
		}

		var diff struct {
			Diff struct {
				Unified   string
				Identical bool
				From, To  int
			}
		}
		e.must(t, ed, `{ diff(design: "shop", from: 1) { unified identical from to } }`, nil, &diff)
		if diff.Diff.Identical || diff.Diff.From != 1 || diff.Diff.To != 2 ||
			!strings.Contains(diff.Diff.Unified, "--- shop@1") || !strings.Contains(diff.Diff.Unified, "+++ shop@2") ||
			!strings.Contains(diff.Diff.Unified, "-") || !strings.Contains(diff.Diff.Unified, "weight: 80") {
			t.Fatalf("diff:\n%s", diff.Diff.Unified)
		}
		e.must(t, ed, `{ diff(design: "shop", from: 2, to: 2) { unified identical } }`, nil, &diff)
		if !diff.Diff.Identical || diff.Diff.Unified != "" {
			t.Fatalf("self diff: %+v", diff)
		}
		if r := e.do(t, ed, `{ diff(design: "shop", from: 7) { unified } }`, nil); r.code() != "NOT_FOUND" {
			t.Fatalf("diff of a missing revision: %s", r.raw)
		}

		// Delete with a stale revision conflicts; with the head it succeeds.
		if r := e.do(t, ed, `mutation { deleteDesign(name: "shop", expectedRevision: 1) { deleted } }`, nil); r.code() != "CONFLICT" {
			t.Fatalf("stale delete: %s", r.raw)
		}
		e.must(t, ed, `mutation { deleteDesign(name: "shop", expectedRevision: 2) { deleted } }`, nil, nil)
		if r := e.do(t, ed, `{ design(name: "shop") { name } }`, nil); string(r.Data) != `{"design":null}` {
			t.Fatalf("after delete: %s", r.raw)
		}
		if r := e.do(t, ed, `mutation { deleteDesign(name: "shop") { deleted } }`, nil); r.code() != "NOT_FOUND" {
			t.Fatalf("second delete: %s", r.raw)
		}
		// The name can be reused from revision 1.
		if r := e.save(t, ed, "shop", 10, 0); r.SaveDesign.Revision.Number != 1 {
			t.Fatalf("re-create: %+v", r)
		}
	})
}

func TestConflictsAndInvalidDesigns(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		ed := e.token(t, "ed", models.RoleEditor)
		// A first save must expect 0.
		r := e.do(t, ed, saveMutation, saveVars("shop", designYAML("shop", 50), 1, ""))
		if r.code() != "CONFLICT" || r.Errors[0].Extensions["head"] != float64(0) {
			t.Fatalf("first save expecting 1: %s", r.raw)
		}
		e.save(t, ed, "shop", 50, 0)
		e.save(t, ed, "shop", 60, 1)
		for _, expected := range []int{0, 1, 3} {
			r := e.do(t, ed, saveMutation, saveVars("shop", designYAML("shop", 70), expected, ""))
			if r.code() != "CONFLICT" || r.Errors[0].Extensions["head"] != float64(2) || string(r.Data) != "null" {
				t.Fatalf("save expecting %d: %s", expected, r.raw)
			}
		}

		// Invalid content: violations with field paths and lines, nothing written.
		bad, err := os.ReadFile("../spec/testdata/invalid/bad-weight.yaml")
		if err != nil {
			t.Fatal(err)
		}
		r = e.do(t, ed, saveMutation, saveVars("bad-weight", string(bad), 0, ""))
		if r.code() != "INVALID_DESIGN" {
			t.Fatalf("invalid save: %s", r.raw)
		}
		vs, _ := r.Errors[0].Extensions["violations"].([]any)
		found := false
		for _, v := range vs {
			m := v.(map[string]any)
			if m["path"] == "spec.traffic[0].routes[1].backends[0].weight" && m["line"] == float64(21) {
				found = true
			}
		}
		if !found {
			t.Fatalf("violations lack the weight path at line 21: %v", vs)
		}
		// A name that does not match metadata.name, and content that is not a design.
		r = e.do(t, ed, saveMutation, saveVars("other", designYAML("shop", 50), 2, ""))
		if r.code() != "INVALID_DESIGN" || !strings.Contains(r.raw, `"path":"metadata.name"`) {
			t.Fatalf("mismatched name: %s", r.raw)
		}
		r = e.do(t, ed, saveMutation, saveVars("x", "{not yaml: [", 0, ""))
		if r.code() != "INVALID_DESIGN" {
			t.Fatalf("garbage: %s", r.raw)
		}
		var designs struct {
			Designs struct{ TotalCount int }
		}
		e.must(t, ed, `{ designs { totalCount } }`, nil, &designs)
		if designs.Designs.TotalCount != 1 {
			t.Fatalf("invalid saves wrote designs: %+v", designs)
		}
		var evs struct {
			Events struct{ Edges []any }
		}
		e.must(t, ed, `{ events(filter: {objectKind: "design"}) { edges { cursor } } }`, nil, &evs)
		if len(evs.Events.Edges) != 2 {
			t.Fatalf("design events = %d, want 2 (two accepted saves)", len(evs.Events.Edges))
		}

		// validate reports violations as data.
		var v struct {
			Validate struct {
				Valid      bool
				Violations []struct {
					Path string
					Line *int
				}
				Canonical *string
			}
		}
		e.must(t, ed, `query($c: String) { validate(input: {content: $c}) { valid violations { path line } canonical } }`, map[string]any{"c": string(bad)}, &v)
		if v.Validate.Valid || len(v.Validate.Violations) == 0 || v.Validate.Canonical != nil {
			t.Fatalf("validate invalid: %+v", v)
		}
		e.must(t, ed, `{ validate(input: {design: "shop", revision: 1}) { valid violations { path } canonical } }`, nil, &v)
		if !v.Validate.Valid || v.Validate.Canonical == nil || !strings.Contains(*v.Validate.Canonical, "weight: 50") {
			t.Fatalf("validate stored: %+v", v)
		}
		if r := e.do(t, ed, `{ validate(input: {}) { valid } }`, nil); r.code() != "BAD_INPUT" {
			t.Fatalf("empty validate: %s", r.raw)
		}
	})
}

func TestPagination(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		names := []string{"a1", "a2", "b1", "b2", "c1", "c2", "d1"}
		for i, n := range names {
			e.save(t, e.admin, n, i+1, 0)
		}
		type page struct {
			Designs struct {
				TotalCount int
				Edges      []struct {
					Cursor string
					Node   struct{ Name string }
				}
				PageInfo struct {
					HasNextPage, HasPreviousPage bool
					StartCursor, EndCursor       *string
				}
			}
		}
		q := `query($first: Int, $after: String, $last: Int, $before: String) {
		  designs(first: $first, after: $after, last: $last, before: $before) {
		    totalCount edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
		var all []string
		vars := map[string]any{"first": 3}
		for i := 0; ; i++ {
			var p page
			e.must(t, e.admin, q, vars, &p)
			if p.Designs.TotalCount != len(names) {
				t.Fatalf("totalCount %d", p.Designs.TotalCount)
			}
			for _, ed := range p.Designs.Edges {
				all = append(all, ed.Node.Name)
			}
			if !p.Designs.PageInfo.HasNextPage {
				break
			}
			if i > 5 {
				t.Fatal("pagination does not end")
			}
			vars = map[string]any{"first": 3, "after": *p.Designs.PageInfo.EndCursor}
		}
		if strings.Join(all, ",") != strings.Join(names, ",") {
			t.Fatalf("forward pages: %v", all)
		}
		// Backwards from the end.
		var p page
		e.must(t, e.admin, q, map[string]any{"last": 2}, &p)
		if len(p.Designs.Edges) != 2 || p.Designs.Edges[0].Node.Name != "c2" || p.Designs.Edges[1].Node.Name != "d1" || !p.Designs.PageInfo.HasPreviousPage {
			t.Fatalf("last 2: %+v", p.Designs)
		}
		e.must(t, e.admin, q, map[string]any{"last": 10, "before": *p.Designs.PageInfo.StartCursor}, &p)
		if len(p.Designs.Edges) != 5 || p.Designs.Edges[4].Node.Name != "c1" || p.Designs.PageInfo.HasPreviousPage {
			t.Fatalf("before c2: %+v", p.Designs)
		}
		for _, bad := range []map[string]any{{"first": 1, "last": 1}, {"first": 101}, {"first": 1, "after": "bm9wZQ"}, {"first": -1}} {
			if r := e.do(t, e.admin, q, bad); r.code() != "BAD_INPUT" {
				t.Fatalf("%v: %s", bad, r.raw)
			}
		}
		// Revision history pages newest first.
		for i := 2; i <= 5; i++ {
			e.save(t, e.admin, "a1", 10+i, i-1)
		}
		var h struct {
			Design struct {
				History struct {
					Edges []struct {
						Cursor string
						Node   struct{ Number int }
					}
					PageInfo struct{ HasNextPage bool }
				}
			}
		}
		e.must(t, e.admin, `{ design(name: "a1") { history(first: 2) { edges { cursor node { number } } pageInfo { hasNextPage } } } }`, nil, &h)
		if len(h.Design.History.Edges) != 2 || h.Design.History.Edges[0].Node.Number != 5 || !h.Design.History.PageInfo.HasNextPage {
			t.Fatalf("history: %+v", h)
		}
		e.must(t, e.admin, `query($a: String) { design(name: "a1") { history(first: 5, after: $a) { edges { cursor node { number } } pageInfo { hasNextPage } } } }`,
			map[string]any{"a": h.Design.History.Edges[1].Cursor}, &h)
		if len(h.Design.History.Edges) != 3 || h.Design.History.Edges[0].Node.Number != 3 || h.Design.History.PageInfo.HasNextPage {
			t.Fatalf("history page 2: %+v", h)
		}
		// Events page too, with filters.
		var ev struct {
			Events struct {
				Edges []struct {
					Node struct{ ObjectName string }
				}
				PageInfo struct{ HasNextPage bool }
			}
		}
		e.must(t, e.admin, `{ events(first: 2, filter: {objectName: "a1", actor: "admin"}) { edges { node { objectName } } pageInfo { hasNextPage } } }`, nil, &ev)
		if len(ev.Events.Edges) != 2 || !ev.Events.PageInfo.HasNextPage || ev.Events.Edges[0].Node.ObjectName != "a1" {
			t.Fatalf("events: %+v", ev)
		}
	})
}

func TestPreviewsAndCatalogue(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		viewer := e.token(t, "v", models.RoleViewer)
		content, err := os.ReadFile("../spec/testdata/cases/bookinfo-canary.yaml")
		if err != nil {
			t.Fatal(err)
		}
		e.must(t, e.admin, saveMutation, saveVars("bookinfo", string(content), 0, "import"), nil)

		var tr struct {
			Translate struct {
				Mesh, Manifests string
				Revision        int
				ObjectCount     int
				Warnings        []struct{ Path, Mesh string }
			}
		}
		e.must(t, viewer, `{ translate(design: "bookinfo", mesh: "native") { mesh revision manifests objectCount warnings { path mesh } } }`, nil, &tr)
		if tr.Translate.Revision != 1 || tr.Translate.ObjectCount == 0 || !strings.Contains(tr.Translate.Manifests, "trellis.dev/design: bookinfo") {
			t.Fatalf("translate: %+v", tr)
		}
		if r := e.do(t, viewer, `{ translate(design: "bookinfo", mesh: "nope") { mesh } }`, nil); r.code() != "BAD_INPUT" {
			t.Fatalf("unknown mesh: %s", r.raw)
		}
		if r := e.do(t, viewer, `{ translate(design: "nope", mesh: "native") { mesh } }`, nil); r.code() != "NOT_FOUND" {
			t.Fatalf("unknown design: %s", r.raw)
		}

		var ck struct {
			Check struct {
				Revision int
				Meshes   []string
				Findings []struct{ Rule, Severity, Path string }
			}
		}
		e.must(t, viewer, `{ check(design: "bookinfo", meshes: ["native"]) { revision meshes findings { rule severity path } } }`, nil, &ck)
		if ck.Check.Revision != 1 || len(ck.Check.Meshes) != 1 {
			t.Fatalf("check: %+v", ck)
		}
		for _, f := range ck.Check.Findings {
			if f.Rule == "" || f.Severity == "" {
				t.Fatalf("finding without rule or severity: %+v", f)
			}
		}
		// The API reports exactly what the policy engine finds for the same design and output.
		engine, err := policies.New(context.Background(), policies.Options{})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := e.srv.Store().Revision(context.Background(), "bookinfo", 1)
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := models.CanonicalDesign("bookinfo", []byte(stored.Content))
		if err != nil {
			t.Fatal(err)
		}
		native, _ := adapters.Lookup("native")
		out, _, err := adapters.Translate(context.Background(), native, d, adapters.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := engine.Check(context.Background(), policies.Target{Design: d, Meshes: map[string]*adapters.Output{"native": out}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != len(ck.Check.Findings) {
			t.Fatalf("check returned %d findings, the engine finds %d", len(ck.Check.Findings), len(want))
		}
		for i, f := range want {
			if ck.Check.Findings[i].Rule != f.Rule || ck.Check.Findings[i].Path != f.Path {
				t.Fatalf("finding %d: %+v, want %s at %s", i, ck.Check.Findings[i], f.Rule, f.Path)
			}
		}

		var pol struct {
			Policies []struct{ ID, Severity, Title string }
		}
		e.must(t, viewer, `{ policies { id severity title } }`, nil, &pol)
		if len(pol.Policies) == 0 || pol.Policies[0].ID == "" {
			t.Fatalf("policies: %+v", pol)
		}

		var caps struct {
			Capabilities struct {
				Meshes []string
				Rows   []struct {
					Feature string
					Meshes  []struct{ Mesh, Support string }
				}
			}
		}
		e.must(t, viewer, `{ capabilities { meshes rows { feature meshes { mesh support } } } }`, nil, &caps)
		if len(caps.Capabilities.Rows) != len(adapters.Features) || len(caps.Capabilities.Meshes) != len(adapters.Names()) {
			t.Fatalf("capabilities: %d rows, meshes %v", len(caps.Capabilities.Rows), caps.Capabilities.Meshes)
		}
		for _, row := range caps.Capabilities.Rows {
			if len(row.Meshes) != len(adapters.Names()) {
				t.Fatalf("row %s has %d cells", row.Feature, len(row.Meshes))
			}
		}
	})
}

func TestQueryLimits(t *testing.T) {
	e := startEnv(t, backends(t)[0])
	e.save(t, e.admin, "shop", 50, 0)
	deep := `{ design(name: "shop") { ` + strings.Repeat("head { design { ", 6) + "name" + strings.Repeat(" } }", 6) + " } }"
	r := e.do(t, e.admin, deep, nil)
	if r.code() != "DEPTH_LIMIT_EXCEEDED" || r.Data != nil && string(r.Data) != "null" {
		t.Fatalf("deep query: %s", r.raw)
	}
	wide := `{ designs(first: 100) { edges { node { history(first: 100) { edges { node { design { history(first: 100) { edges { node { number } } } } } } } } } } }`
	r = e.do(t, e.admin, wide, nil)
	if r.code() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("complex query: %s", r.raw)
	}
	// Introspection is not counted for depth.
	e.must(t, e.admin, `{ __schema { types { name fields { name type { name ofType { name ofType { name ofType { name ofType { name } } } } } } } } }`, nil, nil)
}

func TestOperationsQuery(t *testing.T) {
	e := startEnv(t, backends(t)[0])
	viewer := e.token(t, "v", models.RoleViewer)
	e.save(t, e.admin, "shop", 50, 0)
	if r := e.do(t, viewer, `mutation { startTranslateAll(input: {design: "shop"}) { id } }`, nil); r.code() != "FORBIDDEN" {
		t.Fatalf("viewer started an operation: %s", r.raw)
	}
	var st struct {
		StartTranslateAll struct{ ID, Status string }
	}
	e.must(t, e.admin, `mutation { startTranslateAll(input: {design: "shop", meshes: ["native"]}) { id status } }`, nil, &st)
	if r := e.do(t, e.admin, `mutation { startTranslateAll(input: {design: "shop", meshes: ["nope"]}) { id } }`, nil); r.code() != "BAD_INPUT" {
		t.Fatalf("unknown mesh: %s", r.raw)
	}
	var list struct {
		Operations []struct{ ID, Kind, Target, Actor string }
	}
	e.must(t, viewer, `{ operations { id kind target actor } }`, nil, &list)
	if len(list.Operations) != 1 || list.Operations[0].ID != st.StartTranslateAll.ID || list.Operations[0].Target != "design/shop@1" || list.Operations[0].Actor != "admin" {
		t.Fatalf("operations: %+v", list)
	}
	var evs struct {
		Events struct {
			Edges []struct {
				Node struct {
					Action  string
					Details map[string]any
				}
			}
		}
	}
	e.must(t, viewer, `{ events(first: 1) { edges { node { action details } } } }`, nil, &evs)
	if n := evs.Events.Edges[0].Node; n.Action != "operation.translate-all" || n.Details["revision"] != float64(1) {
		t.Fatalf("operation audit event: %+v", evs)
	}
	for i := 0; ; i++ {
		var op struct {
			Operation struct {
				Status   string
				Progress float64
				Result   map[string]any
			}
		}
		e.must(t, viewer, fmt.Sprintf(`{ operation(id: %q) { status progress result } }`, st.StartTranslateAll.ID), nil, &op)
		if op.Operation.Status == "SUCCEEDED" {
			b, _ := json.Marshal(op.Operation.Result)
			if op.Operation.Progress != 1 || !strings.Contains(string(b), `"native"`) {
				t.Fatalf("operation: %+v", op)
			}
			break
		}
		if i > 200 {
			t.Fatalf("operation did not finish: %+v", op)
		}
	}
}
