package smtp

import (
	"context"
	"errors"
	"net"
	"testing"
)

type authHandler struct{}

func (authHandler) Authenticate(context.Context, string, string) (any, error) { return "ok", nil }
func (authHandler) Rcpt(context.Context, *Session, string) (any, error)       { return nil, nil }
func (authHandler) Data(context.Context, *Session, []byte) error              { return nil }

type openHandler struct{}

func (openHandler) Rcpt(context.Context, *Session, string) (any, error) { return nil, nil }
func (openHandler) Data(context.Context, *Session, []byte) error        { return nil }

// TestAuthPolicy: AUTH runs over TLS, from a loopback peer, or anywhere
// when insecure AUTH is allowed; otherwise it is not offered and AUTH is
// answered 538. A handler without Authenticator offers no AUTH at all.
func TestAuthPolicy(t *testing.T) {
	remote := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 40000}
	loop := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 40000}
	loop6 := &net.TCPAddr{IP: net.ParseIP("::1"), Port: 40000}
	tests := []struct {
		name     string
		h        Handler
		addr     net.Addr
		tls      bool
		insecure bool
		allowed  bool
	}{
		{"remote, plain TCP", authHandler{}, remote, false, false, false},
		{"remote, TLS", authHandler{}, remote, true, false, true},
		{"remote, insecure allowed", authHandler{}, remote, false, true, true},
		{"loopback v4", authHandler{}, loop, false, false, true},
		{"loopback v6", authHandler{}, loop6, false, false, true},
		{"no authenticator", openHandler{}, loop, true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Config{AllowInsecureAuth: tt.insecure}, tt.h)
			se := &session{s: s, st: Session{Remote: tt.addr, TLS: tt.tls}}
			mechs := se.AuthMechanisms()
			if (len(mechs) > 0) != tt.allowed {
				t.Fatalf("AuthMechanisms = %v; allowed %v", mechs, tt.allowed)
			}
			_, err := se.Auth("PLAIN")
			var e *Error
			switch {
			case tt.allowed && err != nil:
				t.Fatalf("Auth: %v", err)
			case !tt.allowed && (!errors.As(err, &e) || e.Code/100 != 5):
				t.Fatalf("Auth = %v; want a 5xx refusal", err)
			case !tt.allowed && tt.h == (authHandler{}) && e.Code != 538:
				t.Fatalf("Auth = %d; want 538", e.Code)
			}
		})
	}
}
