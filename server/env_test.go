package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/server"
)

// backend is one database the tests run against.
type backend struct {
	name string
	// database returns a fresh, empty database URL ("" for SQLite in the home directory).
	database func(t testing.TB) string
}

// backends returns SQLite and, when TRELLIS_TEST_POSTGRES_DSN is set, PostgreSQL. With
// TRELLIS_REQUIRE_INTEGRATION=1 a missing PostgreSQL fails the test.
func backends(t testing.TB) []backend {
	out := []backend{{name: "sqlite", database: func(testing.TB) string { return "" }}}
	dsn := os.Getenv("TRELLIS_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("TRELLIS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("TRELLIS_TEST_POSTGRES_DSN is not set but TRELLIS_REQUIRE_INTEGRATION=1; hint: DSN=$(hack/postgres.sh start)")
		}
		return out
	}
	return append(out, backend{name: "postgres", database: func(t testing.TB) string { return freshPostgres(t, dsn) }})
}

// eachBackend runs f as a subtest per backend.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// freshPostgres creates an empty schema and returns a DSN whose search_path is that schema; the
// schema is dropped when the test ends.
func freshPostgres(t testing.TB, dsn string) string {
	t.Helper()
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	sqlDB, _ := db.DB()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if err := db.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		_ = db.Exec("DROP SCHEMA " + schema + " CASCADE").Error
		_ = sqlDB.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parsing DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// env is one running server reached over real HTTP.
type env struct {
	srv      *server.Server
	http     *httptest.Server
	url      string
	admin    string
	home     string
	database string
}

// startEnv starts a server on a fresh database of backend b.
func startEnv(t testing.TB, b backend) *env {
	t.Helper()
	home := t.TempDir()
	return startAt(t, home, b.database(t))
}

// startAt starts a server on the given home and database (reused by restart tests).
func startAt(t testing.TB, home, database string) *env {
	t.Helper()
	var out bytes.Buffer
	srv, err := server.New(context.Background(), server.Config{
		Home: home, Database: database, AdminTokenOut: &out,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	e := &env{srv: srv, http: hs, url: hs.URL, home: home, database: database}
	if b, err := os.ReadFile(home + "/" + server.AdminTokenFile); err == nil {
		e.admin = strings.TrimSpace(string(b))
	}
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *env) stop() {
	if e.http != nil {
		e.http.Close()
		e.http = nil
		_ = e.srv.Close()
	}
}

// token creates a token with role and returns it.
func (e *env) token(t testing.TB, name string, role models.Role) string {
	t.Helper()
	tok, _, err := e.srv.Store().CreateToken(context.Background(), name, role, "test")
	if err != nil {
		t.Fatalf("creating token: %v", err)
	}
	return tok
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	status int
	raw    string
}

// code returns the first error's extensions.code.
func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// do posts a GraphQL operation with token ("" for none).
func (e *env) do(t testing.TB, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	resp, err := e.post(token, query, vars)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// post is do without the testing.TB (for goroutines).
func (e *env) post(token, query string, vars map[string]any) (gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return gqlResponse{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out gqlResponse
	if err := json.Unmarshal(b, &out); err != nil {
		return gqlResponse{}, fmt.Errorf("decoding %q (status %d): %w", b, res.StatusCode, err)
	}
	out.status, out.raw = res.StatusCode, string(b)
	return out, nil
}

// must posts and fails the test on any GraphQL error, decoding data into out.
func (e *env) must(t testing.TB, token, query string, vars map[string]any, out any) {
	t.Helper()
	r := e.do(t, token, query, vars)
	if len(r.Errors) > 0 || r.status != http.StatusOK {
		t.Fatalf("query failed (status %d): %s", r.status, r.raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatalf("decoding data %s: %v", r.Data, err)
		}
	}
}

// designYAML is a small valid design whose v1 weight is w (1–99).
func designYAML(name string, w int) string {
	return fmt.Sprintf(`apiVersion: trellis.dev/v1alpha1
kind: Design
metadata: {name: %s, namespace: shop}
spec:
  services:
    - name: web
      ports: [{port: 8080}]
      versions:
        - {name: v1, labels: {version: v1}}
        - {name: v2, labels: {version: v2}}
  traffic:
    - service: web
      routes:
        - name: default
          backends:
            - {version: v1, weight: %d}
            - {version: v2, weight: %d}
`, name, w, 100-w)
}

const saveMutation = `mutation($in: SaveDesignInput!) {
  saveDesign(input: $in) { created revision { number author message sha256 content parent { number } design { name headRevision } } }
}`

type saveData struct {
	SaveDesign struct {
		Created  bool `json:"created"`
		Revision struct {
			Number  int    `json:"number"`
			Author  string `json:"author"`
			Message string `json:"message"`
			SHA256  string `json:"sha256"`
			Content string `json:"content"`
			Parent  *struct {
				Number int `json:"number"`
			} `json:"parent"`
			Design struct {
				Name         string `json:"name"`
				HeadRevision int    `json:"headRevision"`
			} `json:"design"`
		} `json:"revision"`
	} `json:"saveDesign"`
}

func saveVars(name, content string, expected int, msg string) map[string]any {
	return map[string]any{"in": map[string]any{"name": name, "content": content, "expectedRevision": expected, "message": msg}}
}

// save saves a design as token and fails the test on error.
func (e *env) save(t testing.TB, token, name string, w, expected int) saveData {
	t.Helper()
	var d saveData
	e.must(t, token, saveMutation, saveVars(name, designYAML(name, w), expected, fmt.Sprintf("weight %d", w)), &d)
	return d
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
