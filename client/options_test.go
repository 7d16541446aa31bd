package client

import (
	"testing"
	"time"
)

// TestNewOptions: where the relay's URL comes from (the option, the
// guide's AGENT_OTP_BASE_URL, AGENTOTP_URL, the default), and that the
// retry options take effect.
func TestNewOptions(t *testing.T) {
	tests := []struct {
		name            string
		guide, agentotp string
		opts            []Option
		want            string
	}{
		{"default", "", "", nil, DefaultBaseURL},
		{"AGENTOTP_URL", "", "http://relay.test:1/", nil, "http://relay.test:1"},
		{"the guide's name wins", "http://guide.test:2", "http://relay.test:1", nil, "http://guide.test:2"},
		{"the option wins", "http://guide.test:2", "http://relay.test:1", []Option{WithBaseURL("http://option.test:3")}, "http://option.test:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AGENT_OTP_BASE_URL", tt.guide)
			t.Setenv("AGENTOTP_URL", tt.agentotp)
			if got := New("ak_test_x", tt.opts...).baseURL; got != tt.want {
				t.Fatalf("base URL %q; want %q", got, tt.want)
			}
		})
	}
	c := New("ak_test_x", WithMaxRetries(7), WithBackoff(3*time.Second))
	if c.maxRetries != 7 || c.backoff != 3*time.Second {
		t.Fatalf("retries %d, backoff %v", c.maxRetries, c.backoff)
	}
}
