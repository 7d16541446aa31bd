package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// extractOutput is what `agentotp extract` prints for one message.
type extractOutput struct {
	Code       any     `json:"code"`
	Confidence float64 `json:"confidence"`
	Candidates []any   `json:"candidates"`
}

// runExtract runs `agentotp extract ARGS` on stdin, which must exit 0 and
// print JSON.
func runExtract(t *testing.T, stdin string, args []string) extractOutput {
	t.Helper()
	res := agentotp(t, stdin, nil, append([]string{"extract"}, args...)...)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var out extractOutput
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("not JSON: %s", res.stdout)
	}
	return out
}

func TestExtractCommand(t *testing.T) {
	tests := []struct {
		name, stdin string
		args        []string
		want        any // string code, or nil
	}{
		{"sms", "Your Acme code is 123-456\n", []string{"--sender", "ACME"}, "123456"},
		{"sms without code", "Your parcel is on its way. Call 0800 123 456.", nil, nil},
		{"email detected", "From: Acme <no-reply@acme.com>\r\nSubject: Sign in\r\nContent-Type: text/plain\r\n\r\nYour sign-in code: 731902\r\n", nil, "731902"},
		{"email forced", "Subject: x\r\n\r\nYour verification code is 445566", []string{"--source", "email"}, "445566"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if out := runExtract(t, tt.stdin, tt.args); out.Code != tt.want || out.Candidates == nil {
				t.Fatalf("code %v, want %v: %+v", out.Code, tt.want, out)
			}
		})
	}
	if res := agentotp(t, "x", nil, "extract", "--source", "fax"); res.code != exitUsage {
		t.Errorf("bad --source: exit %d", res.code)
	}
}

// TestExtractBatch runs the shared corpus through `extract --batch` with
// a broken line in the middle: one answer per line, in order.
func TestExtractBatch(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "extract", "testdata", "corpus", "shared.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	mid := len(lines) / 2
	input := append(append(append([]string{}, lines[:mid]...), `{"source": "sms", "text": `, `[1,2]`), lines[mid:]...)
	res := agentotp(t, strings.Join(input, "\n")+"\n", nil, "extract", "--batch")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var outs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(res.stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		if _, ok := m["code"]; !ok {
			t.Fatalf("no code member: %s", sc.Text())
		}
		outs = append(outs, m)
	}
	if len(outs) != len(input) {
		t.Fatalf("%d answers for %d lines", len(outs), len(input))
	}
	j := 0
	for i, m := range outs {
		if i == mid || i == mid+1 {
			if m["code"] != nil || m["error"] == nil {
				t.Errorf("bad line %d answered %v", i, m)
			}
			continue
		}
		var c struct {
			ID   string `json:"id"`
			Want any    `json:"want"`
		}
		json.Unmarshal([]byte(lines[j]), &c)
		j++
		if m["code"] != c.Want {
			t.Errorf("%s: code %v, want %v", c.ID, m["code"], c.Want)
		}
	}
}

// TestCaptureTokenFromEnvironment: capture's --token is a source token,
// read from AGENTOTP_SOURCE_TOKEN, never from the owner's variable.
func TestCaptureTokenFromEnvironment(t *testing.T) {
	res := agentotp(t, "x", []string{"AGENTOTP_OWNER_TOKEN=ok_owner"}, "capture", "--stdin", "--server", "http://127.0.0.1:1")
	if res.code != exitUsage || !strings.Contains(res.stderr, "source token") {
		t.Fatalf("with only the owner token set: %+v", res)
	}
	res = agentotp(t, "x", []string{"AGENTOTP_SOURCE_TOKEN=sk_from_env"}, "capture", "--stdin", "--server", "http://127.0.0.1:1")
	if strings.Contains(res.stderr, "source token sk_… is needed") {
		t.Fatalf("AGENTOTP_SOURCE_TOKEN not read: %+v", res)
	}
	if strings.Contains(res.stderr, "agentotp: agentotp:") {
		t.Errorf("doubled prefix: %s", res.stderr)
	}
}

// TestExtractSenderPattern: --sender-pattern, and a batch line's
// sender_pattern, give the relay's context: a bare token from a sender the
// pattern matches is the code; from another sender it is not.
func TestExtractSenderPattern(t *testing.T) {
	for _, tt := range []struct {
		name, stdin string
		args        []string
		want        any
	}{
		{"matching sender", "482193", []string{"--sender", "ACME", "--sender-pattern", "ACME*"}, "482193"},
		{"other sender", "482193", []string{"--sender", "OTHER", "--sender-pattern", "ACME*"}, nil},
		{"no pattern", "482193", []string{"--sender", "ACME"}, nil},
		{"excluded number stays excluded", "Call 0800 123 4567", []string{"--sender", "ACME", "--sender-pattern", "ACME*"}, nil},
		{"origin for another site", "Your code is 731904\n\n@evil.example #731904", []string{"--sender", "login@acme.com", "--sender-pattern", "*@acme.com"}, nil},
		{"origin for the site", "Your code is 731904\n\n@acme.com #731904", []string{"--sender", "login@acme.com", "--sender-pattern", "*@acme.com"}, "731904"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if out := runExtract(t, tt.stdin, tt.args); out.Code != tt.want {
				t.Fatalf("code %v, want %v: %+v", out.Code, tt.want, out)
			}
		})
	}
	if res := agentotp(t, "x", nil, "extract", "--sender-pattern", "a\x01"); res.code != exitUsage {
		t.Errorf("bad --sender-pattern: exit %d", res.code)
	}
	in := `{"source":"sms","sender":"ACME","text":"5WGU8G","sender_pattern":"acme*"}
{"source":"sms","sender":"OTHER","text":"5WGU8G","sender_pattern":"acme*"}
{"source":"sms","sender":"ACME","text":"5WGU8G"}
{"source":"sms","sender":"ACME","text":"x","sender_pattern":"a\u0001"}
`
	res := agentotp(t, in, nil, "extract", "--batch")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	var got []any
	for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %s", l)
		}
		got = append(got, m["code"])
		if len(got) == 4 && m["error"] == nil {
			t.Errorf("a bad sender_pattern gave no error: %s", l)
		}
	}
	if len(got) != 4 || got[0] != "5WGU8G" || got[1] != nil || got[2] != nil || got[3] != nil {
		t.Fatalf("batch codes %v, want [5WGU8G <nil> <nil> <nil>]", got)
	}
	help := agentotp(t, "", nil, "extract", "--help")
	if !strings.Contains(help.stdout, "sender_pattern") || !strings.Contains(help.stdout, "--sender-pattern") {
		t.Errorf("--help does not document sender_pattern: %s", help.stdout)
	}
}
