package relay_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/internal/relaytest"
	"github.com/agentotp/agentotp/relay"
	"github.com/agentotp/agentotp/sqlite"
)

// TestRevocationBeatsTheCredentialCache: the service keeps the
// credentials behind tokens in memory; every way a token stops working
// still stops it at once (or, for a rotated key, when its grace ends),
// although the token was used, and so cached, just before.
func TestRevocationBeatsTheCredentialCache(t *testing.T) {
	type fixture struct {
		svc   *relay.Service
		clock *relaytest.Clock
		owner string
	}
	cases := []struct {
		name   string
		token  func(t *testing.T, f *fixture) string
		change func(t *testing.T, f *fixture, token string)
		grace  time.Duration // the token keeps working this long after the change
	}{
		{
			name:  "agent revoked",
			token: func(t *testing.T, f *fixture) string { return newAgentKey(t, f.svc, f.owner) },
			change: func(t *testing.T, f *fixture, token string) {
				p := mustAuth(t, f.svc, token)
				if _, err := f.svc.RevokeAgent(context.Background(), f.owner, p.AgentID); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "agent key rotated, after its grace",
			token: func(t *testing.T, f *fixture) string { return newAgentKey(t, f.svc, f.owner) },
			change: func(t *testing.T, f *fixture, token string) {
				p := mustAuth(t, f.svc, token)
				if _, err := f.svc.RotateAgent(context.Background(), f.owner, p.AgentID, 5*time.Second); err != nil {
					t.Fatal(err)
				}
			},
			grace: 5 * time.Second, // shorter than the cache keeps an entry
		},
		{
			name: "source revoked",
			token: func(t *testing.T, f *fixture) string {
				ns, err := f.svc.CreateSource(context.Background(), f.owner, "phone", agentotp.SourceKindSMS)
				if err != nil {
					t.Fatal(err)
				}
				return ns.Token
			},
			change: func(t *testing.T, f *fixture, token string) {
				p := mustAuth(t, f.svc, token)
				if _, err := f.svc.RevokeSource(context.Background(), f.owner, p.SourceID); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "owner token rotated",
			token: func(t *testing.T, f *fixture) string { return newOwnerToken(t, f.svc, f.owner) },
			change: func(t *testing.T, f *fixture, token string) {
				if _, err := f.svc.RotateOwnerToken(context.Background(), f.owner, token); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name:  "owner tokens revoked",
			token: func(t *testing.T, f *fixture) string { return newOwnerToken(t, f.svc, f.owner) },
			change: func(t *testing.T, f *fixture, token string) {
				if _, err := f.svc.RevokeOwnerTokens(context.Background(), f.owner); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			clock := &relaytest.Clock{}
			clock.Set(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC))
			svc := relay.New(store, nil, relay.Config{PublicURL: "http://relay.test", Now: clock.Now})
			o, _, err := svc.EnsureOwner(ctx, "me", false)
			if err != nil {
				t.Fatal(err)
			}
			f := &fixture{svc: svc, clock: clock, owner: o.ID}
			token := tc.token(t, f)
			mustAuth(t, svc, token) // read from the store, and kept
			mustAuth(t, svc, token) // from the cache
			tc.change(t, f, token)
			if tc.grace > 0 {
				mustAuth(t, svc, token)
				clock.Advance(tc.grace)
			}
			if _, err := svc.Authenticate(ctx, token); agentotp.ErrorCode(err) != agentotp.EAuthentication {
				t.Fatalf("after the change the token still authenticates: %v", err)
			}
		})
	}
}

func mustAuth(t *testing.T, svc *relay.Service, token string) *relay.Principal {
	t.Helper()
	p, err := svc.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return p
}

func newAgentKey(t *testing.T, svc *relay.Service, owner string) string {
	t.Helper()
	na, err := svc.CreateAgent(context.Background(), owner, "a", false)
	if err != nil {
		t.Fatal(err)
	}
	return na.APIKey
}

func newOwnerToken(t *testing.T, svc *relay.Service, owner string) string {
	t.Helper()
	nt, err := svc.RevokeOwnerTokens(context.Background(), owner) // issues a fresh one
	if err != nil {
		t.Fatal(err)
	}
	return nt.Token
}

// TestSourceKindBoundsItsChannels: a source delivers only the channels of
// its kind, whether the relay read the source for this call or kept it
// from an earlier one.
func TestSourceKindBoundsItsChannels(t *testing.T) {
	cases := []struct {
		kind    agentotp.SourceKind
		channel agentotp.Channel
		ok      bool
	}{
		{agentotp.SourceKindSMS, agentotp.ChannelSMS, true},
		{agentotp.SourceKindSMS, agentotp.ChannelEmail, false},
		{agentotp.SourceKindEmail, agentotp.ChannelEmail, true},
		{agentotp.SourceKindEmail, agentotp.ChannelSMS, false},
		{agentotp.SourceKindGeneric, agentotp.ChannelSMS, true},
		{agentotp.SourceKindGeneric, agentotp.ChannelEmail, true},
	}
	svc, _, owner := newService(t)
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(string(tc.kind)+"/"+string(tc.channel), func(t *testing.T) {
			ns, err := svc.CreateSource(ctx, owner, "src", tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			for _, round := range []string{"read", "kept"} {
				p := mustAuth(t, svc, ns.Token)
				_, err := svc.Ingest(ctx, p, relay.IncomingMessage{Source: tc.channel, Sender: "ACME", Text: "Your code is 123987"})
				switch {
				case tc.ok && err != nil:
					t.Fatalf("%s: refused: %v", round, err)
				case !tc.ok && agentotp.ErrorCode(err) != agentotp.EValidation:
					t.Fatalf("%s: a %s source delivered %s: %v", round, tc.kind, tc.channel, err)
				}
			}
		})
	}
}
