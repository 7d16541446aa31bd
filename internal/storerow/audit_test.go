package storerow

import (
	"bytes"
	"testing"
)

// TestOpenLegacySeal: the seal opens with its key over its boundary and
// heads, and with nothing else.
func TestOpenLegacySeal(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	heads := `{"own_1":{"seq":4,"hash":"abc"}}`
	mac := LegacyMAC(key, 9, heads)
	got, ok := OpenLegacySeal(key, 9, heads, mac)
	if !ok || len(got) != 1 {
		t.Fatalf("good seal: %v, %v", got, ok)
	}
	for _, tt := range []struct {
		name       string
		key        []byte
		maxSeq     int64
		heads, mac string
	}{
		{"other key", bytes.Repeat([]byte{8}, 32), 9, heads, mac},
		{"other boundary", key, 10, heads, mac},
		{"edited heads", key, 9, `{"own_1":{"seq":5,"hash":"abc"}}`, mac},
		{"no mac", key, 9, heads, ""},
		{"heads not JSON", key, 9, "{", LegacyMAC(key, 9, "{")},
	} {
		if h, ok := OpenLegacySeal(tt.key, tt.maxSeq, tt.heads, tt.mac); ok {
			t.Errorf("%s: opened as %v", tt.name, h)
		}
	}
}
