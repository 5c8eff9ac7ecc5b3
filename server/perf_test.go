package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/perf"
)

var (
	perfResultOnce sync.Once
	perfResultJSON string
	perfResultErr  error
)

// realPerfResult runs a short load profile against a loopback HTTP server (once per test binary)
// and returns the result's JSON, as `trellis perf run -o json` prints it.
func realPerfResult(t *testing.T) string {
	t.Helper()
	perfResultOnce.Do(func() {
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
		defer upstream.Close()
		res, err := perf.Run(context.Background(), perf.Profile{Name: "direct", URL: upstream.URL + "/", Connections: 2, Requests: 40}, nil)
		if err != nil {
			perfResultErr = err
			return
		}
		b, err := json.Marshal(res)
		perfResultJSON, perfResultErr = string(b), err
	})
	if perfResultErr != nil {
		t.Fatalf("running the load profile: %v", perfResultErr)
	}
	return perfResultJSON
}

const savePerfProfile = `mutation($in: SavePerfProfileInput!) {
  savePerfProfile(input: $in) { created profile { id name url method headers { name value } qps connections duration warmUp requests spec } }
}`

const recordPerfResult = `mutation($in: RecordPerfResultInput!) {
  recordPerfResult(input: $in) { id mesh requests errors errorRate qps durationSeconds noisy cancelled json latency { p50Ms p99Ms maxMs } profile { name url } }
}`

type perfPage struct {
	PerfResults struct {
		Edges []struct {
			Cursor string
			Node   struct {
				ID      string
				Mesh    string
				Profile struct{ Name string }
			}
		}
		PageInfo struct {
			HasNextPage, HasPreviousPage bool
			EndCursor                    *string
		}
	}
}

// violationPaths returns the paths of extensions.violations of the first error.
func violationPaths(t *testing.T, r gqlResponse) []string {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Fatalf("no error: %s", r.raw)
	}
	vs, _ := r.Errors[0].Extensions["violations"].([]any)
	var out []string
	for _, v := range vs {
		m, _ := v.(map[string]any)
		p, _ := m["path"].(string)
		out = append(out, p)
	}
	return out
}

func TestPerfProfilesAndResults(t *testing.T) {
	result := realPerfResult(t)
	eachBackend(t, func(t *testing.T, b backend) {
		e := startEnv(t, b)
		viewer := e.token(t, "vera", models.RoleViewer)
		editor := e.token(t, "ed", models.RoleEditor)
		profile := map[string]any{"in": map[string]any{
			"name": "direct", "url": "http://127.0.0.1:9080/reviews", "qps": 2000, "connections": 16, "duration": "15s",
			"headers": []any{map[string]any{"name": "Host", "value": "reviews:9080"}},
		}}

		// A viewer reads but may not write.
		if r := e.do(t, viewer, savePerfProfile, profile); r.code() != "FORBIDDEN" {
			t.Fatalf("viewer savePerfProfile: %s", r.raw)
		}
		if r := e.do(t, viewer, recordPerfResult, map[string]any{"in": map[string]any{"profile": "direct", "result": result, "createProfile": true}}); r.code() != "FORBIDDEN" {
			t.Fatalf("viewer recordPerfResult: %s", r.raw)
		}
		var saved struct {
			SavePerfProfile struct {
				Created bool
				Profile struct {
					ID, Name, URL, Method, Duration, WarmUp, Spec string
					QPS                                           float64
					Connections, Requests                         int
					Headers                                       []struct{ Name, Value string }
				}
			}
		}
		e.must(t, editor, savePerfProfile, profile, &saved)
		p := saved.SavePerfProfile.Profile
		if !saved.SavePerfProfile.Created || p.Name != "direct" || p.URL != "http://127.0.0.1:9080/reviews" || p.Method != "GET" ||
			p.QPS != 2000 || p.Connections != 16 || p.Duration != "15s" || p.WarmUp != "0s" || len(p.Headers) != 1 ||
			p.Headers[0].Value != "reviews:9080" || !strings.Contains(p.Spec, "duration: 15s") {
			t.Fatalf("saved profile: %+v", saved)
		}
		// Saving again replaces the spec.
		profile["in"].(map[string]any)["qps"] = 1000
		e.must(t, editor, savePerfProfile, profile, &saved)
		if saved.SavePerfProfile.Created || saved.SavePerfProfile.Profile.QPS != 1000 || saved.SavePerfProfile.Profile.ID != p.ID {
			t.Fatalf("second save: %+v", saved)
		}

		// Validation: bounded requests and duration, loopback targets only; field paths in extensions.
		bad := map[string]any{"in": map[string]any{
			"name": "far", "url": "http://10.1.2.3:80/", "requests": perf.MaxRequests + 1, "duration": "6m", "connections": 5000,
		}}
		r := e.do(t, editor, savePerfProfile, bad)
		got := violationPaths(t, r)
		if r.code() != "BAD_INPUT" || strings.Join(got, ",") != "input.connections,input.duration,input.requests,input.url" {
			t.Fatalf("invalid profile: paths %q: %s", got, r.raw)
		}
		if !strings.Contains(r.raw, "127.0.0.0/8") || !strings.Contains(r.raw, `"expected"`) {
			t.Fatalf("the loopback violation lacks its expectation: %s", r.raw)
		}
		r = e.do(t, editor, savePerfProfile, map[string]any{"in": map[string]any{"name": "-x", "url": "ftp://127.0.0.1/", "duration": "soon"}})
		if got := violationPaths(t, r); strings.Join(got, ",") != "input.name,input.duration,input.url" {
			t.Fatalf("invalid profile: paths %q: %s", got, r.raw)
		}
		r = e.do(t, editor, recordPerfResult, map[string]any{"in": map[string]any{"profile": "direct", "mesh": "Not A Mesh", "result": `{"bogus": 1}`}})
		if got := violationPaths(t, r); r.code() != "BAD_INPUT" || strings.Join(got, ",") != "input.mesh,input.result" {
			t.Fatalf("invalid result: paths %q: %s", got, r.raw)
		}
		var tampered map[string]any
		_ = json.Unmarshal([]byte(result), &tampered)
		tampered["profile"].(map[string]any)["url"] = "http://192.0.2.1:8080/"
		tb, _ := json.Marshal(tampered)
		r = e.do(t, editor, recordPerfResult, map[string]any{"in": map[string]any{"profile": "direct", "result": string(tb)}})
		if got := violationPaths(t, r); strings.Join(got, ",") != "input.result.profile.url" {
			t.Fatalf("non-loopback result: paths %q: %s", got, r.raw)
		}
		// An unknown profile is NOT_FOUND unless the upload creates it.
		if r := e.do(t, editor, recordPerfResult, map[string]any{"in": map[string]any{"profile": "adhoc", "result": result}}); r.code() != "NOT_FOUND" {
			t.Fatalf("unknown profile: %s", r.raw)
		}

		// Upload a real result: the fields come from the run.
		var rec struct {
			RecordPerfResult struct {
				ID, Mesh, JSON       string
				Requests, Errors     int
				QPS, DurationSeconds float64
				Latency              struct{ P50Ms, P99Ms, MaxMs float64 }
				Profile              struct{ Name, URL string }
				Noisy, Cancelled     bool
			}
		}
		e.must(t, editor, recordPerfResult, map[string]any{"in": map[string]any{"profile": "adhoc", "mesh": "", "result": result, "createProfile": true}}, &rec)
		rr := rec.RecordPerfResult
		var want perf.Result
		_ = json.Unmarshal([]byte(result), &want)
		if rr.Requests != int(want.Requests) || rr.Requests != 40 || rr.Errors != 0 || rr.QPS != want.QPS || rr.Latency.P99Ms != want.Latency.P99 ||
			rr.Latency.MaxMs < rr.Latency.P50Ms || rr.Profile.Name != "adhoc" || rr.Profile.URL != want.Profile.URL || rr.JSON != result {
			t.Fatalf("recorded result: %+v", rr)
		}
		if _, err := perf.Decode("round trip", []byte(rr.JSON)); err != nil {
			t.Fatalf("the stored JSON is not a result: %v", err)
		}
		// More results for pagination: 2 without mesh, 3 for istio, on profile "direct".
		ids := []string{rr.ID}
		for i, mesh := range []string{"", "istio", "", "istio", "istio"} {
			e.must(t, editor, recordPerfResult, map[string]any{"in": map[string]any{"profile": "direct", "mesh": mesh, "result": result}}, &rec)
			if rec.RecordPerfResult.Mesh != mesh {
				t.Fatalf("result %d: mesh %q", i, rec.RecordPerfResult.Mesh)
			}
			ids = append(ids, rec.RecordPerfResult.ID)
		}

		// Viewer pages through every result, newest first, two at a time.
		var seen []string
		var after any
		for pages := 0; ; pages++ {
			var pg perfPage
			e.must(t, viewer, `query($after: String) { perfResults(first: 2, after: $after) { edges { cursor node { id mesh profile { name } } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`,
				map[string]any{"after": after}, &pg)
			for _, ed := range pg.PerfResults.Edges {
				seen = append(seen, ed.Node.ID)
			}
			if pages > 0 != pg.PerfResults.PageInfo.HasPreviousPage {
				t.Fatalf("page %d: hasPreviousPage %v", pages, pg.PerfResults.PageInfo.HasPreviousPage)
			}
			if !pg.PerfResults.PageInfo.HasNextPage {
				break
			}
			after = *pg.PerfResults.PageInfo.EndCursor
		}
		for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
			ids[i], ids[j] = ids[j], ids[i]
		}
		if strings.Join(seen, ",") != strings.Join(ids, ",") {
			t.Fatalf("pages: got %v, want %v", seen, ids)
		}
		// Filters: by profile and mesh ("" is the baseline), also through the profile's results.
		var pg perfPage
		e.must(t, viewer, `{ perfResults(profile: "direct", mesh: "istio", first: 10) { edges { node { id mesh profile { name } } } pageInfo { hasNextPage } } }`, nil, &pg)
		if len(pg.PerfResults.Edges) != 3 || pg.PerfResults.Edges[0].Node.ID != ids[0] || pg.PerfResults.Edges[2].Node.Mesh != "istio" {
			t.Fatalf("istio results: %+v", pg)
		}
		var prof struct {
			PerfProfile struct {
				Name    string
				Results struct {
					Edges []struct{ Node struct{ Mesh string } }
				}
			}
			Missing *struct{ Name string }
		}
		e.must(t, viewer, `{ perfProfile(name: "direct") { name results(mesh: "") { edges { node { mesh } } } } missing: perfProfile(name: "nope") { name } }`, nil, &prof)
		if len(prof.PerfProfile.Results.Edges) != 2 || prof.Missing != nil {
			t.Fatalf("baseline results of direct: %+v", prof)
		}
		var one struct {
			PerfResult *struct {
				ID      string
				Profile struct{ Name string }
			}
			Gone *struct{ ID string }
		}
		e.must(t, viewer, fmt.Sprintf(`{ perfResult(id: %q) { id profile { name } } gone: perfResult(id: "999999") { id } }`, ids[len(ids)-1]), nil, &one)
		if one.PerfResult == nil || one.PerfResult.Profile.Name != "adhoc" || one.Gone != nil {
			t.Fatalf("perfResult: %+v", one)
		}
		var list struct{ PerfProfiles []struct{ Name string } }
		e.must(t, viewer, `{ perfProfiles { name } }`, nil, &list)
		if len(list.PerfProfiles) != 2 || list.PerfProfiles[0].Name != "adhoc" || list.PerfProfiles[1].Name != "direct" {
			t.Fatalf("perfProfiles: %+v", list)
		}

		// Only an admin deletes a profile; its results go with it.
		if r := e.do(t, editor, `mutation { deletePerfProfile(name: "direct") { deletedResults } }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("editor deletePerfProfile: %s", r.raw)
		}
		var del struct{ DeletePerfProfile struct{ DeletedResults int } }
		e.must(t, e.admin, `mutation { deletePerfProfile(name: "direct") { deletedResults } }`, nil, &del)
		if del.DeletePerfProfile.DeletedResults != 5 {
			t.Fatalf("deleted %+v", del)
		}
		if r := e.do(t, e.admin, `mutation { deletePerfProfile(name: "direct") { deletedResults } }`, nil); r.code() != "NOT_FOUND" {
			t.Fatalf("deleting twice: %s", r.raw)
		}
		e.must(t, viewer, `{ perfResults { edges { node { id mesh profile { name } } } pageInfo { hasNextPage } } }`, nil, &pg)
		if len(pg.PerfResults.Edges) != 1 || pg.PerfResults.Edges[0].Node.Profile.Name != "adhoc" {
			t.Fatalf("results after deleting direct: %+v", pg)
		}

		// Every mutation is audited with its actor.
		var evs struct {
			Events struct {
				Edges []struct {
					Node struct{ Actor, Action, ObjectName string }
				}
			}
		}
		e.must(t, viewer, `{ events(filter: {objectKind: "perf-profile"}, first: 20) { edges { node { actor action objectName } } } }`, nil, &evs)
		var gotEv []string
		for _, ed := range evs.Events.Edges {
			gotEv = append(gotEv, ed.Node.Actor+" "+ed.Node.Action+" "+ed.Node.ObjectName)
		}
		wantEv := []string{"admin perf-profile.delete direct"}
		for range 5 {
			wantEv = append(wantEv, "ed perf-result.record direct")
		}
		wantEv = append(wantEv, "ed perf-result.record adhoc", "ed perf-profile.save adhoc", "ed perf-profile.save direct", "ed perf-profile.save direct")
		if strings.Join(gotEv, "|") != strings.Join(wantEv, "|") {
			t.Fatalf("events:\n got %q\nwant %q", gotEv, wantEv)
		}
	})
}

func TestPerfResultsTimeRoundTrip(t *testing.T) {
	// The stored start time is the run's, in UTC.
	result := realPerfResult(t)
	e := startEnv(t, backends(t)[0])
	var rec struct {
		RecordPerfResult struct{ StartedAt time.Time }
	}
	e.must(t, e.admin, `mutation($in: RecordPerfResultInput!) { recordPerfResult(input: $in) { startedAt } }`,
		map[string]any{"in": map[string]any{"profile": "p", "result": result, "createProfile": true}}, &rec)
	var want perf.Result
	_ = json.Unmarshal([]byte(result), &want)
	if !rec.RecordPerfResult.StartedAt.Equal(want.Start) {
		t.Fatalf("startedAt %s, want %s", rec.RecordPerfResult.StartedAt, want.Start)
	}
}

func TestPerfResultsCostByPageSize(t *testing.T) {
	e := startEnv(t, backends(t)[0])
	q := `{ perfResults(first: 100) { edges { node { json profile { results(first: 100) { edges { node { json } } } } } } } }`
	if r := e.do(t, e.admin, q, nil); len(r.Errors) == 0 || !strings.Contains(r.raw, "complexity") {
		t.Fatalf("nested pages of 100 were accepted: %s", r.raw)
	}
	e.must(t, e.admin, `{ perfResults(first: 100) { edges { node { json profile { name } } } } }`, nil, nil)
}
