package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// asset returns the path of one built asset with the given extension.
func asset(t *testing.T, ext string) string {
	t.Helper()
	entries, err := fs.ReadDir(Files(), "assets")
	if err != nil {
		t.Fatalf("reading embedded assets: %v", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ext) {
			return "/assets/" + e.Name()
		}
	}
	t.Fatalf("no embedded %s asset; run `make ui`", ext)
	return ""
}

func TestIndexAndSPAFallback(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/index.html", "/designs/bookinfo/edit", "/capabilities", "/signin?x=1"} {
		r := get(t, h, http.MethodGet, p, nil)
		b := body(t, r)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", p, r.StatusCode)
		}
		if !strings.Contains(b, `<div id="root">`) || !strings.Contains(b, "/assets/") {
			t.Fatalf("GET %s: not the dashboard's index.html:\n%s", p, b)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", p, got)
		}
		if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
			t.Errorf("GET %s: Content-Type %q", p, got)
		}
		if r.Header.Get("Content-Security-Policy") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: missing security headers: %v", p, r.Header)
		}
	}
}

func TestIndexRevalidatesWithETag(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, "/", nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("index.html has no ETag")
	}
	again := get(t, h, http.MethodGet, "/designs", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: status %d, want 304", again.StatusCode)
	}
}

func TestHashedAssetsAreImmutable(t *testing.T) {
	h := Handler()
	for _, ext := range []string{".js", ".css"} {
		p := asset(t, ext)
		r := get(t, h, http.MethodGet, p, nil)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", p, r.StatusCode)
		}
		if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") || !strings.Contains(got, "max-age=31536000") {
			t.Errorf("GET %s: Cache-Control %q", p, got)
		}
		ct := r.Header.Get("Content-Type")
		if (ext == ".js" && !strings.Contains(ct, "javascript")) || (ext == ".css" && !strings.HasPrefix(ct, "text/css")) {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
	}
}

func TestMissingFilesAre404NotIndex(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/assets/missing-abc.js", "/favicon.ico", "/robots.txt", "/../../etc/passwd.txt"} {
		r := get(t, h, http.MethodGet, p, nil)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, r.StatusCode)
		}
		if strings.Contains(body(t, r), `<div id="root">`) {
			t.Errorf("GET %s: served index.html for a missing file", p)
		}
	}
}

func TestOnlyGetAndHead(t *testing.T) {
	h := Handler()
	if r := get(t, h, http.MethodHead, "/", nil); r.StatusCode != http.StatusOK {
		t.Errorf("HEAD /: status %d", r.StatusCode)
	}
	r := get(t, h, http.MethodPost, "/designs", nil)
	if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /designs: status %d, Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}
}

func TestBuildReferencesOnlyLocalResources(t *testing.T) {
	b, err := fs.ReadFile(Files(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"http://", "https://", "//fonts.", "cdn"} {
		if strings.Contains(string(b), bad) {
			t.Errorf("index.html references %q: the dashboard must work offline", bad)
		}
	}
}

func TestIndexReferencesEmbeddedAssets(t *testing.T) {
	b, err := fs.ReadFile(Files(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(b), -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d assets, want the script and the stylesheet:\n%s", len(refs), b)
	}
	h := Handler()
	for _, m := range refs {
		if r := get(t, h, http.MethodGet, m[1], nil); r.StatusCode != http.StatusOK {
			t.Errorf("index.html references %s, which is not embedded (status %d); run `make ui`", m[1], r.StatusCode)
		}
	}
}
