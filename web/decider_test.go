package web

import "testing"

func TestDecidedBy(t *testing.T) {
	policies := map[string]string{"pol_1": "Acme sign-ups"}
	tests := []struct {
		by   string
		want decider
	}{
		{"", decider{}},
		{"owner", decider{Words: "you"}},
		{"test_key", decider{Words: "the test key (approved at once)"}},
		{"policy:pol_1", decider{Words: "policy “Acme sign-ups”", Href: "/policies/pol_1"}},
		{"policy:pol_gone", decider{Words: "a policy since deleted (pol_gone)"}},
		{"someone-new", decider{Words: "someone-new"}},
	}
	for _, tt := range tests {
		if got := decidedBy(tt.by, policies); got != tt.want {
			t.Errorf("decidedBy(%q) = %+v, want %+v", tt.by, got, tt.want)
		}
	}
}
