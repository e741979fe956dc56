package jsonrpc

import (
	"net/http/httptest"
	"testing"
)

func TestParseCalls(t *testing.T) {
	calls, batch, err := ParseCalls([]byte(` [{"jsonrpc":"2.0","id":"a","method":"m","params":[1]},{"jsonrpc":"2.0","method":"n"}]`))
	if err != nil || !batch || len(calls) != 2 || string(calls[0].ID) != `"a"` || string(calls[0].Params) != "[1]" ||
		calls[0].Notification() || !calls[1].Notification() || string(RawID(calls[1].ID)) != "null" {
		t.Fatalf("batch: %+v %v %v", calls, batch, err)
	}
	calls, batch, err = ParseCalls([]byte(`{"jsonrpc":"2.0","id":0,"method":"m"}`))
	if err != nil || batch || len(calls) != 1 || string(RawID(calls[0].ID)) != "0" {
		t.Fatalf("single: %+v %v %v", calls, batch, err)
	}
	for _, bad := range []string{`{"jsonrpc":`, `[{"method":1}]`, ``} {
		if _, _, err := ParseCalls([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestCORS(t *testing.T) {
	for _, c := range []struct {
		origin  string
		allowed []string
		want    string
	}{{"https://app.example", []string{"*"}, "https://app.example"}, {"https://app.example", []string{"https://other.example"}, ""}, {"", []string{"*"}, ""}} {
		r := httptest.NewRequest("POST", "/", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		w := httptest.NewRecorder()
		CORS(w, r, c.allowed)
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != c.want {
			t.Errorf("origin %q allowed %v: %q, want %q", c.origin, c.allowed, got, c.want)
		}
	}
}
