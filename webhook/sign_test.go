package webhook

import (
	"net/netip"
	"testing"
	"time"
)

// The test vector of the Standard Webhooks specification's libraries.
func TestSignStandardWebhooksVector(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	got, err := Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got != want {
		t.Fatalf("Sign = %s; want %s", got, want)
	}
	if err := Verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,bogus "+want, body, 5*time.Minute, ts.Add(time.Minute)); err != nil {
		t.Errorf("Verify of the vector among several signatures: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1700000000, 0)
	body := []byte(`{"type":"otp.status"}`)
	sig, _ := Sign(secret, "evt_1", now, body)
	ts := "1700000000"
	tests := []struct {
		name, secret, id, ts, sig string
		body                      []byte
		at                        time.Time
	}{
		{"tampered body", secret, "evt_1", ts, sig, []byte(`{"type":"otp.status","x":1}`), now},
		{"other id", secret, "evt_2", ts, sig, body, now},
		{"other secret", "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "evt_1", ts, sig, body, now},
		{"too old", secret, "evt_1", ts, sig, body, now.Add(6 * time.Minute)},
		{"from the future", secret, "evt_1", ts, sig, body, now.Add(-6 * time.Minute)},
		{"bad timestamp", secret, "evt_1", "17e8", sig, body, now},
		{"v2 only", secret, "evt_1", ts, "v2," + sig[3:], body, now},
		{"no signature", secret, "evt_1", ts, "", body, now},
		{"secret without prefix", secret[6:], "evt_1", ts, sig, body, now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(tt.secret, tt.id, tt.ts, tt.sig, tt.body, 5*time.Minute, tt.at); err == nil {
				t.Error("Verify accepted it")
			}
		})
	}
}

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr      string
		refused   bool // without --allow-private-webhooks
		withAllow bool // refused even with it
		reason    string
	}{
		{"93.184.215.14", false, false, ""},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", false, false, ""},
		{"8.8.8.8", false, false, ""},
		{"127.0.0.1", true, false, "loopback"},
		{"127.255.0.9", true, false, "loopback"},
		{"::1", true, false, "loopback"},
		{"::ffff:127.0.0.1", true, false, "loopback"},
		{"10.1.2.3", true, false, "private"},
		{"172.16.0.1", true, false, "private"},
		{"172.31.255.255", true, false, "private"},
		{"172.32.0.1", false, false, ""},
		{"192.168.1.1", true, false, "private"},
		{"::ffff:192.168.1.1", true, false, "private"},
		{"169.254.1.1", true, false, "link-local"},
		{"fe80::1", true, false, "link-local"},
		{"fd12:3456::1", true, false, "unique-local"},
		{"100.64.0.1", true, false, "shared (CGNAT)"},
		{"169.254.169.254", true, true, "cloud metadata"},
		{"fd00:ec2::254", true, true, "cloud metadata"},
		{"100.100.100.200", true, true, "cloud metadata"},
		{"0.0.0.0", true, true, "unspecified"},
		{"::", true, true, "unspecified"},
		{"224.0.0.1", true, true, "multicast"},
		{"ff02::1", true, true, "multicast"},
		{"255.255.255.255", true, true, "broadcast or reserved"},
		{"64:ff9b::a00:1", true, false, "private"},     // NAT64 of 10.0.0.1
		{"64:ff9b::7f00:1", true, false, "loopback"},   // NAT64 of 127.0.0.1
		{"2002:c0a8:101::1", true, false, "private"},   // 6to4 of 192.168.1.1
		{"2002:5db8:d70e::1", false, false, ""},        // 6to4 of a public address
		{"64:ff9b::5db8:d70e", false, false, ""},       // NAT64 of a public address
		{"192.0.2.10", true, false, "special-purpose"}, // TEST-NET-1
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			err := CheckAddr(ip, false)
			if (err != nil) != tt.refused {
				t.Fatalf("CheckAddr(%s, false) = %v; refused want %v", tt.addr, err, tt.refused)
			}
			if err != nil {
				ae := err.(*AddressError)
				if ae.Reason != tt.reason || ae.Allowable == tt.withAllow {
					t.Errorf("reason %q allowable %v; want %q, %v", ae.Reason, ae.Allowable, tt.reason, !tt.withAllow)
				}
			}
			if err := CheckAddr(ip, true); (err != nil) != tt.withAllow {
				t.Errorf("CheckAddr(%s, true) = %v; refused want %v", tt.addr, err, tt.withAllow)
			}
		})
	}
}

func FuzzCheckAddr(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:c0a8:101::1", "fe80::1%eth0", "8.8.8.8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		strict := CheckAddr(ip, false)
		loose := CheckAddr(ip, true)
		// Allowing private targets never refuses more.
		if strict == nil && loose != nil {
			t.Fatalf("%s: allowed strictly, refused loosely: %v", s, loose)
		}
		// Every IPv4 loopback or private address is refused without the flag.
		if u := ip.Unmap(); (u.IsLoopback() || u.IsPrivate() || u.IsLinkLocalUnicast() || u.IsUnspecified() || u.IsMulticast()) && strict == nil {
			t.Fatalf("%s allowed without --allow-private-webhooks", s)
		}
	})
}
