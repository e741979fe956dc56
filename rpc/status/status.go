// Package status serves the node's status page: one HTML page, its script
// and style sheet, embedded in the binary, at / of every role's RPC port. A
// browser's GET / (Accept: text/html) gets the page; JSON-RPC posts,
// websocket upgrades and every other GET / are the server's as before.
//
// The page is a client of the node's own public API: it subscribes to
// miniBlocks, newHeads and finality over the websocket on the same port,
// calls eth_*/mega_* for search, and reads /metrics and /ready for the
// role's panel. Nothing is fetched from elsewhere.
package status

import (
	"embed"
	"html"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// AssetPrefix is the path under which the page's script and style are served.
const AssetPrefix = "/status/"

// Page serves the status page of one role.
type Page struct {
	index []byte
}

// New returns the page naming role ("sequencer", "replica", "gateway"…).
func New(role string) *Page {
	if role == "" {
		role = "node"
	}
	index, err := assets.ReadFile("assets/index.html")
	if err != nil {
		panic("status: index.html not embedded: " + err.Error()) // a broken build, not input
	}
	return &Page{index: []byte(strings.ReplaceAll(string(index), "{{role}}", html.EscapeString(role)))}
}

// Match reports whether r is the page's: a browser's GET or HEAD of / (one
// that accepts text/html and is no websocket upgrade), or of an asset.
func Match(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if strings.HasPrefix(r.URL.Path, AssetPrefix) {
		return true
	}
	return r.URL.Path == "/" && r.Header.Get("Upgrade") == "" && strings.Contains(r.Header.Get("Accept"), "text/html")
}

var types = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// ServeHTTP answers a request Match accepted.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path == "/" {
		h.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(p.index)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, AssetPrefix)
	dot := strings.LastIndexByte(name, '.')
	if strings.ContainsAny(name, "/\\") || dot < 0 || types[name[dot:]] == "" {
		http.NotFound(w, r)
		return
	}
	data, err := assets.ReadFile("assets/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", types[name[dot:]])
	_, _ = w.Write(data)
}
