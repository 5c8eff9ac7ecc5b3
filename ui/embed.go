// Package ui embeds the built web dashboard (ui/dist, produced by `make ui`) and serves it.
//
// Handler serves the files with an SPA fallback: paths that name no file and look like app
// routes (no file extension, not under /assets/) get index.html, so deep links such as
// /designs/bookinfo/edit work after a reload. Hashed assets are cached for a year; index.html
// is revalidated on every load so a new build is picked up at once.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// ContentSecurityPolicy is sent with every dashboard response: everything comes from the
// server's own origin (the GraphQL endpoint and its websocket included).
const ContentSecurityPolicy = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Files returns the built dashboard's files (index.html at the root).
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic("ui: embedded dist directory missing: " + err.Error())
	}
	return sub
}

// Handler serves the dashboard. Mount it at "/" of the Trellis server.
func Handler() http.Handler {
	files := Files()
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic("ui: dist/index.html missing; run `make ui`: " + err.Error())
	}
	sum := sha256.Sum256(index)
	return &handler{files: files, index: index, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

type handler struct {
	files fs.FS
	index []byte
	etag  string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" || name == "index.html" {
		h.serveIndex(w, r)
		return
	}
	if st, err := fs.Stat(h.files, name); err == nil && !st.IsDir() {
		if strings.HasPrefix(name, "assets/") {
			hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			hdr.Set("Cache-Control", "no-cache")
		}
		http.ServeFileFS(w, r, h.files, name)
		return
	}
	if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
		hdr.Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	h.serveIndex(w, r)
}

// serveIndex sends index.html, revalidated on every load.
func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("ETag", h.etag)
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(h.index))
}
