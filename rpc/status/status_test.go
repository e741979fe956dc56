package status

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	browser := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, tc := range []struct {
		name, method, path, accept, upgrade string
		want                                bool
	}{
		{"browser", "GET", "/", browser, "", true},
		{"head", "HEAD", "/", browser, "", true},
		{"asset", "GET", "/status/app.js", "*/*", "", true},
		{"curl", "GET", "/", "*/*", "", false},
		{"no accept", "GET", "/", "", "", false},
		{"json-rpc post", "POST", "/", browser, "", false},
		{"websocket", "GET", "/", browser, "websocket", false},
		{"other path", "GET", "/favicon.ico", browser, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, nil)
			r.Header.Set("Accept", tc.accept)
			if tc.upgrade != "" {
				r.Header.Set("Upgrade", tc.upgrade)
			}
			if got := Match(r); got != tc.want {
				t.Errorf("Match(%s %s, Accept %q): got %v, want %v", tc.method, tc.path, tc.accept, got, tc.want)
			}
		})
	}
}

func TestServe(t *testing.T) {
	p := New(`replica<script>`)
	for _, tc := range []struct {
		path, ctype string
		code        int
		contains    string
	}{
		{"/", "text/html; charset=utf-8", 200, `data-role="replica&lt;script&gt;"`},
		{"/status/app.js", "text/javascript; charset=utf-8", 200, "eth_subscribe"},
		{"/status/style.css", "text/css; charset=utf-8", 200, ".st-finalized"},
		{"/status/index.html", "", 404, ""},
		{"/status/nope.js", "", 404, ""},
		{"/status/../status.go", "", 404, ""},
		{"/status/", "", 404, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if w.Code != tc.code {
				t.Fatalf("GET %s: got %d, want %d", tc.path, w.Code, tc.code)
			}
			if tc.ctype != "" && w.Header().Get("Content-Type") != tc.ctype {
				t.Errorf("GET %s: content type %q, want %q", tc.path, w.Header().Get("Content-Type"), tc.ctype)
			}
			if !strings.Contains(w.Body.String(), tc.contains) {
				t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
			}
		})
	}
}

// TestSelfContained: the page loads nothing from another origin.
func TestSelfContained(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		data, err := assets.ReadFile("assets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(data), bad) {
				t.Errorf("%s contains %q: the page must be served from the node alone", name, bad)
			}
		}
	}
}
