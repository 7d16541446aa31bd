package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
	"github.com/agentotp/agentotp/relay"
)

// call makes one HTTP call and decodes a JSON (or problem) answer.
func (h *harness) enrollCall(t *testing.T, method, path, token, contentType, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "enroll-test/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, b)
		}
	}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s %s: %d with Content-Type %q, want application/problem+json", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, resp.Header, doc
}

func (h *harness) startEnrollment(t *testing.T, name string) map[string]any {
	t.Helper()
	st, _, doc := h.enrollCall(t, "POST", "/v1/agents/enroll", "", "application/json", `{"name":"`+name+`","description":"runs on the build box"}`)
	if st != http.StatusOK {
		t.Fatalf("enroll: %d %v", st, doc)
	}
	return doc
}

func TestEnrollOverHTTP(t *testing.T) {
	h := newHarness(t)
	h.svc.ConfigureEnrollment(relay.EnrollConfig{Interval: time.Nanosecond})
	en := h.startEnrollment(t, "build-box")
	for _, k := range []string{"device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in", "interval"} {
		if _, ok := en[k]; !ok {
			t.Errorf("the enroll answer lacks %s: %v", k, en)
		}
	}
	device, user := en["device_code"].(string), en["user_code"].(string)
	if en["verification_uri"] != h.srv.URL+"/enroll" || en["expires_in"].(float64) != 600 {
		t.Errorf("enroll answer %v", en)
	}
	token := `{"device_code":"` + device + `"}`
	st, _, doc := h.enrollCall(t, "POST", "/v1/agents/enroll/token", "", "application/json", token)
	if st != http.StatusBadRequest || doc["code"] != "authorization_pending" || doc["error"] != "authorization_pending" {
		t.Fatalf("poll before a decision: %d %v", st, doc)
	}
	st, _, list := h.enrollCall(t, "GET", "/v1/owner/enrollments", h.ownerToken, "", "")
	data, _ := list["data"].([]any)
	if st != http.StatusOK || len(data) != 1 {
		t.Fatalf("owner's list: %d %v", st, list)
	}
	item := data[0].(map[string]any)
	if item["user_code"] != user || item["name"] != "build-box" || item["description"] != "runs on the build box" ||
		item["client_address"] != "127.0.0.1" || item["user_agent"] != "enroll-test/1.0" || item["status"] != "pending" {
		t.Errorf("the owner's view: %v", item)
	}
	id := item["id"].(string)
	// The enroll endpoint takes no credential, and an agent's key is not
	// an owner's.
	agentClient, _ := h.agent("other", false)
	if st, _, _ := h.enrollCall(t, "POST", "/v1/owner/enrollments/"+id+"/approve", h.keys[agentClient], "", ""); st != http.StatusUnauthorized {
		t.Errorf("an agent approving: %d, want 401", st)
	}
	if st, _, doc := h.enrollCall(t, "POST", "/v1/owner/enrollments/"+id+"/approve", h.ownerToken, "", ""); st != http.StatusOK || doc["status"] != "approved" {
		t.Fatalf("approve: %d %v", st, doc)
	}
	st, _, doc = h.enrollCall(t, "POST", "/v1/agents/enroll/token", "", "application/json", token)
	if st != http.StatusOK {
		t.Fatalf("poll after approval: %d %v", st, doc)
	}
	key, _ := doc["api_key"].(string)
	if !strings.HasPrefix(key, "ak_live_") || !strings.HasPrefix(doc["webhook_secret"].(string), "whsec_") {
		t.Fatalf("issued: %v", doc)
	}
	st, _, doc = h.enrollCall(t, "POST", "/v1/agents/enroll/token", "", "application/json", token)
	if st != http.StatusBadRequest || doc["code"] != "invalid_grant" || doc["api_key"] != nil {
		t.Errorf("second poll: %d %v, want 400 invalid_grant", st, doc)
	}
	// The key works.
	agent := client.New(key, client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
	if _, err := agent.RequestOTP(ctxT(t), client.RequestOptions{Reason: "sign in", PublicKey: client.ExportPublicKey(pub)}); err != nil {
		t.Errorf("the enrolled key cannot request a code: %v", err)
	}
	st, _, list = h.enrollCall(t, "GET", "/v1/owner/enrollments?status=issued", h.ownerToken, "", "")
	if data, _ := list["data"].([]any); st != http.StatusOK || len(data) != 1 || data[0].(map[string]any)["agent_id"] == nil || data[0].(map[string]any)["user_code"] != nil {
		t.Errorf("issued list: %d %v (no user code once final)", st, list)
	}
	h.srv.Close()
	h.store.Close()
	assertNoSecretOnDisk(t, h.dir, device, user, strings.ReplaceAll(user, "-", ""), key)
	for _, s := range []string{device, key, user} {
		if bytes.Contains(h.logs.Bytes(), []byte(s)) {
			t.Errorf("the log holds a secret (%.6s…)", s)
		}
	}
}

// assertNoSecretOnDisk fails when a file of dir (the database, its log)
// holds one of the secrets.
func assertNoSecretOnDisk(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) == 0 {
		t.Fatal("no files in the data directory")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a plaintext secret (%.6s…)", filepath.Base(f), s)
			}
		}
	}
}

func TestEnrollBadInput(t *testing.T) {
	h := newHarness(t, func(c *httpapi.Config) { c.EnrollRate, c.EnrollBurst = 0, 0 })
	en := h.startEnrollment(t, "one")
	device := en["device_code"].(string)
	_, _, list := h.enrollCall(t, "GET", "/v1/owner/enrollments", h.ownerToken, "", "")
	id := list["data"].([]any)[0].(map[string]any)["id"].(string)
	tests := []struct {
		name, method, path, token, ctype, body string
		status                                 int
		code                                   string
	}{
		{"no body", "POST", "/v1/agents/enroll", "", "application/json", "", 422, "VALIDATION_ERROR"},
		{"malformed", "POST", "/v1/agents/enroll", "", "application/json", `{"name":`, 422, "VALIDATION_ERROR"},
		{"unknown member", "POST", "/v1/agents/enroll", "", "application/json", `{"name":"a","scope":"all"}`, 422, "VALIDATION_ERROR"},
		{"no name", "POST", "/v1/agents/enroll", "", "application/json", `{"description":"x"}`, 422, "VALIDATION_ERROR"},
		{"name of a wrong type", "POST", "/v1/agents/enroll", "", "application/json", `{"name":5}`, 422, "VALIDATION_ERROR"},
		{"control characters", "POST", "/v1/agents/enroll", "", "application/json", `{"name":"a","description":"x\u202ey"}`, 422, "VALIDATION_ERROR"},
		{"form body", "POST", "/v1/agents/enroll", "", "application/x-www-form-urlencoded", "name=a", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"too large", "POST", "/v1/agents/enroll", "", "application/json", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "PAYLOAD_TOO_LARGE"},
		{"token without device code", "POST", "/v1/agents/enroll/token", "", "application/json", `{}`, 422, "VALIDATION_ERROR"},
		{"unknown device code", "POST", "/v1/agents/enroll/token", "", "application/json", `{"device_code":"dc_nope"}`, 400, "invalid_grant"},
		{"an API key as device code", "POST", "/v1/agents/enroll/token", "", "application/json", `{"device_code":"ak_live_x"}`, 400, "invalid_grant"},
		{"wait of zero", "POST", "/v1/agents/enroll/token?wait=0", "", "application/json", `{"device_code":"` + device + `"}`, 422, "VALIDATION_ERROR"},
		{"wait too long", "POST", "/v1/agents/enroll/token?wait=56", "", "application/json", `{"device_code":"` + device + `"}`, 422, "VALIDATION_ERROR"},
		{"wrong method", "GET", "/v1/agents/enroll", "", "", "", 405, "METHOD_NOT_ALLOWED"},
		{"list without a token", "GET", "/v1/owner/enrollments", "", "", "", 401, "AUTHENTICATION_ERROR"},
		{"list with a bad status", "GET", "/v1/owner/enrollments?status=maybe", h.ownerToken, "", "", 422, "VALIDATION_ERROR"},
		{"list with a bad limit", "GET", "/v1/owner/enrollments?limit=1000", h.ownerToken, "", "", 422, "VALIDATION_ERROR"},
		{"approve unknown", "POST", "/v1/owner/enrollments/enr_nope/approve", h.ownerToken, "", "", 404, "NOT_FOUND"},
		{"approve with a body member", "POST", "/v1/owner/enrollments/" + id + "/approve", h.ownerToken, "application/json", `{"x":1}`, 422, "VALIDATION_ERROR"},
		{"approve with a device code", "POST", "/v1/owner/enrollments/" + id + "/approve", device, "", "", 401, "AUTHENTICATION_ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _, doc := h.enrollCall(t, tt.method, tt.path, tt.token, tt.ctype, tt.body)
			if st != tt.status || doc["code"] != tt.code {
				t.Errorf("%d %v, want %d %s", st, doc["code"], tt.status, tt.code)
			}
		})
	}
	// None of that changed the enrollment.
	if st, _, doc := h.enrollCall(t, "POST", "/v1/owner/enrollments/"+id+"/deny", h.ownerToken, "", ""); st != 200 || doc["status"] != "denied" {
		t.Fatalf("deny: %d %v", st, doc)
	}
	if st, _, doc := h.enrollCall(t, "POST", "/v1/owner/enrollments/"+id+"/approve", h.ownerToken, "", ""); st != 409 || doc["code"] != "CONFLICT" {
		t.Errorf("approve after deny: %d %v", st, doc)
	}
	st, _, doc := h.enrollCall(t, "POST", "/v1/agents/enroll/token", "", "application/json", `{"device_code":"`+device+`"}`)
	if st != 400 || doc["code"] != "access_denied" {
		t.Errorf("poll of a denied enrollment: %d %v", st, doc)
	}
}

func TestEnrollSlowDownAndRateLimit(t *testing.T) {
	h := newHarness(t)
	en := h.startEnrollment(t, "fast")
	body := `{"device_code":"` + en["device_code"].(string) + `"}`
	if st, _, doc := h.enrollCall(t, "POST", "/v1/agents/enroll/token", "", "application/json", body); doc["code"] != "authorization_pending" {
		t.Fatalf("first poll: %d %v", st, doc)
	}
	st, hdr, doc := h.enrollCall(t, "POST", "/v1/agents/enroll/token", "", "application/json", body)
	if st != 400 || doc["code"] != "slow_down" || hdr.Get("Retry-After") != "10" {
		t.Errorf("second poll at once: %d %v Retry-After %q, want slow_down and the interval grown to 10 s", st, doc, hdr.Get("Retry-After"))
	}
	// The enroll endpoint allows a burst of 5 per address.
	codes := map[int]int{}
	for range 6 {
		st, _, _ := h.enrollCall(t, "POST", "/v1/agents/enroll", "", "application/json", `{"name":"again"}`)
		codes[st]++
	}
	if codes[429] == 0 {
		t.Errorf("7 enrollments from one address at once were all taken: %v", codes)
	}
}

// TestEnrollConcurrentPollsOverHTTP: of simultaneous polls of an approved
// enrollment exactly one answer carries a key.
func TestEnrollConcurrentPollsOverHTTP(t *testing.T) {
	h := newHarness(t)
	h.svc.ConfigureEnrollment(relay.EnrollConfig{Interval: time.Nanosecond})
	en := h.startEnrollment(t, "racer")
	_, _, list := h.enrollCall(t, "GET", "/v1/owner/enrollments", h.ownerToken, "", "")
	id := list["data"].([]any)[0].(map[string]any)["id"].(string)
	if st, _, _ := h.enrollCall(t, "POST", "/v1/owner/enrollments/"+id+"/approve", h.ownerToken, "", ""); st != 200 {
		t.Fatal("approve failed")
	}
	body := `{"device_code":"` + en["device_code"].(string) + `"}`
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	keys, others := 0, map[any]int{}
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			st, _, doc := h.enrollCall(t, "POST", "/v1/agents/enroll/token", "", "application/json", body)
			mu.Lock()
			defer mu.Unlock()
			if st == 200 && doc["api_key"] != nil {
				keys++
				return
			}
			others[doc["code"]]++
		})
	}
	close(start)
	wg.Wait()
	if keys != 1 {
		t.Fatalf("%d answers carried a key (others %v), want exactly 1", keys, others)
	}
	for c := range others {
		if c != "invalid_grant" && c != "slow_down" {
			t.Errorf("a losing poll answered %v", c)
		}
	}
	agents, err := h.owner.ListAgents(ctxT(t))
	if err != nil || len(agents) != 1 {
		t.Errorf("agents: %d, %v; want 1", len(agents), err)
	}
}

func TestEnrollLongPoll(t *testing.T) {
	h := newHarness(t)
	en := h.startEnrollment(t, "patient")
	_, _, list := h.enrollCall(t, "GET", "/v1/owner/enrollments", h.ownerToken, "", "")
	id := list["data"].([]any)[0].(map[string]any)["id"].(string)
	c := client.New("", client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	go func() {
		time.Sleep(100 * time.Millisecond)
		h.enrollCall(t, "POST", "/v1/owner/enrollments/"+id+"/approve", h.ownerToken, "", "")
	}()
	n, err := c.WaitEnrollment(ctxT(t), &client.Enrollment{DeviceCode: en["device_code"].(string), ExpiresIn: 600, Interval: 5})
	if err != nil || !strings.HasPrefix(n.APIKey, "ak_live_") || n.Agent.Name != "patient" {
		t.Fatalf("WaitEnrollment: %v, %v", n, err)
	}
}

// BenchmarkEnrollment measures one whole enrollment over loopback HTTP
// with a real SQLite file: enroll, the owner's list and approval, the
// agent's poll that issues its key. The token endpoint's limit (burst 60
// per address) bounds a run: -benchtime 50x.
func BenchmarkEnrollment(b *testing.B) {
	h := newHarness(b, func(c *httpapi.Config) { c.EnrollRate, c.EnrollBurst = 0, 0 })
	h.svc.ConfigureEnrollment(relay.EnrollConfig{Interval: time.Nanosecond})
	post := func(path, token, body string) map[string]any {
		req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d %v", path, resp.StatusCode, doc)
		}
		return doc
	}
	ctx := ctxT(b)
	owner, err := h.svc.Authenticate(ctx, h.ownerToken)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		en := post("/v1/agents/enroll", "", `{"name":"bench"}`)
		es, err := h.svc.ListEnrollments(ctx, owner.OwnerID, "pending", 1)
		if err != nil || len(es) != 1 {
			b.Fatalf("pending: %v %v", es, err)
		}
		post("/v1/owner/enrollments/"+es[0].ID+"/approve", h.ownerToken, "")
		if doc := post("/v1/agents/enroll/token", "", `{"device_code":"`+en["device_code"].(string)+`"}`); doc["api_key"] == nil {
			b.Fatal("no key")
		}
	}
}
