package web

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/r/otp_123", "/r/otp_123"},
		{"/history?status=denied&agent=agt_1", "/history?status=denied&agent=agt_1"},
		{"https://evil.example/", "/"},
		{"//evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"r/otp_1", "/"},
		{"/login?next=/", "/"},
		{"/logout", "/"},
		{"/events", "/"},
		{"/static/app.js", "/"},
		{"/r/x\r\nSet-Cookie: a=b", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSafeNext: whatever comes in, the result is a path of this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/r/otp_1", "//x", "https://x/", "/\\x", "/%2F%2Fx", "/a?b=//c", "\t/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := safeNext(in)
		if out == "/" {
			return
		}
		if out != in || !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.ContainsAny(out, "\\\r\n\t") {
			t.Fatalf("safeNext(%q) = %q", in, out)
		}
		u, err := url.Parse(out)
		if err != nil || u.Host != "" || u.Scheme != "" || u.User != nil {
			t.Fatalf("safeNext(%q) = %q leaves the site: %+v %v", in, out, u, err)
		}
		// What a browser resolves it to must stay on the same origin.
		base, _ := url.Parse("http://relay.example/login")
		if r := base.ResolveReference(u); r.Host != "relay.example" {
			t.Fatalf("safeNext(%q) = %q resolves to %s", in, out, r)
		}
	})
}

func TestLeftAndAgo(t *testing.T) {
	now := time.Unix(1000, 0)
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{0, "expired"}, {-time.Second, "expired"}, {65 * time.Second, "1:05 left"}, {3725 * time.Second, "1:02:05 left"}} {
		if got := left(now, now.Add(tt.d)); got != tt.want {
			t.Errorf("left(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
	if got := ago(now, now.Add(-90*time.Second)); got != "1 min ago" {
		t.Errorf("ago = %q", got)
	}
}

func TestCSRFToken(t *testing.T) {
	a, b := csrfFor("ds_one"), csrfFor("ds_two")
	if a == b || a != csrfFor("ds_one") || strings.Contains(a, "ds_one") {
		t.Errorf("tokens %q %q", a, b)
	}
}
