package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/perf"
	"github.com/trellis-mesh/trellis/server"
)

// perfServer starts a real Trellis server (SQLite) over HTTP and returns its URL and an editor
// and a viewer token.
func perfServer(t *testing.T) (string, string, string) {
	t.Helper()
	srv, err := server.New(context.Background(), server.Config{Home: t.TempDir(), AdminTokenOut: io.Discard,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); _ = srv.Close() })
	editor, _, err := srv.Store().CreateToken(context.Background(), "perf-ci", models.RoleEditor, "test")
	if err != nil {
		t.Fatal(err)
	}
	viewer, _, err := srv.Store().CreateToken(context.Background(), "reader", models.RoleViewer, "test")
	if err != nil {
		t.Fatal(err)
	}
	return hs.URL, editor, viewer
}

func TestPerfRunUploadsAndResultsReads(t *testing.T) {
	url, editor, viewer := perfServer(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer upstream.Close()

	// Upload two runs: the token from the flag, then from the environment.
	code, out, errs := perfCLI(t, "run", "--url", upstream.URL, "-n", "30", "-c", "2", "--name", "reviews", "-o", "json",
		"--server", url, "--token", editor)
	if code != ExitOK || !strings.Contains(errs, `uploaded result 1 of profile "reviews"`) {
		t.Fatalf("run --server: exit %d\n%s", code, errs)
	}
	first, err := perf.Decode("stdout", []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envServer, url)
	t.Setenv(envToken, editor)
	if code, _, errs := perfCLI(t, "run", "--url", upstream.URL, "-n", "20", "-c", "2", "--name", "reviews", "--mesh", "native"); code != ExitOK {
		t.Fatalf("run with TRELLIS_SERVER: exit %d\n%s", code, errs)
	}

	// A viewer reads them back, newest first, in every format.
	t.Setenv(envToken, viewer)
	code, out, errs = perfCLI(t, "results", "-o", "json")
	if code != ExitOK {
		t.Fatalf("results: exit %d\n%s", code, errs)
	}
	var rows []perfResultRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("results -o json: %v\n%s", err, out)
	}
	if len(rows) != 2 || rows[0].Mesh != "native" || rows[0].Requests != 20 || rows[1].Mesh != "" ||
		rows[1].Requests != first.Requests || rows[1].Latency.P99Ms != first.Latency.P99 || rows[1].Profile != "reviews" {
		t.Fatalf("results: %+v", rows)
	}
	dir := t.TempDir()
	code, out, _ = perfCLI(t, "results", "--mesh", "", "--save", dir, "-o", "yaml")
	if code != ExitOK || !strings.Contains(out, "profile: reviews") || strings.Contains(out, "mesh: native") {
		t.Fatalf("results --mesh '' -o yaml: exit %d\n%s", code, out)
	}
	saved, err := perf.Load(filepath.Join(dir, "reviews-1.json"))
	if err != nil || saved.Requests != first.Requests {
		t.Fatalf("saved result: %+v %v", saved, err)
	}
	code, out, _ = perfCLI(t, "results", "--profile", "reviews", "--limit", "1")
	if code != ExitOK || !strings.HasPrefix(out, "ID") || strings.Count(out, "\n") != 2 || !strings.Contains(out, "native") {
		t.Fatalf("results table: exit %d\n%s", code, out)
	}

	// A viewer token cannot upload: the run refuses before sending load.
	code, _, errs = perfCLI(t, "run", "--url", upstream.URL, "-n", "10", "-c", "1")
	if code != ExitUsage || !strings.Contains(errs, "viewer role") || strings.Contains(errs, "load ") {
		t.Fatalf("viewer upload: exit %d\n%s", code, errs)
	}
	// Missing token, bad server URL, and an unreachable server.
	t.Setenv(envToken, "")
	if code, _, errs := perfCLI(t, "results"); code != ExitUsage || !strings.Contains(errs, envToken) {
		t.Fatalf("no token: exit %d\n%s", code, errs)
	}
	if code, _, errs := perfCLI(t, "results", "--server", "127.0.0.1:1", "--token", "x"); code != ExitUsage || !strings.Contains(errs, "expected a URL") {
		t.Fatalf("bad URL: exit %d\n%s", code, errs)
	}
	// An invalid result is reported with its field path.
	t.Setenv(envToken, editor)
	c := &gqlClient{url: url + "/graphql", token: editor, http: http.DefaultClient}
	_, err = c.uploadResult(context.Background(), []byte(`{"profile": {"name": "x", "url": "http://192.0.2.1/"}, "requests": 1, "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:01Z"}`), "x", "")
	if err == nil || !strings.Contains(err.Error(), "input.result.profile.url") || !strings.Contains(err.Error(), "BAD_INPUT") {
		t.Fatalf("invalid upload: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "reviews-2.json")); err == nil {
		t.Fatalf("--mesh '' saved the native result too")
	}
}
