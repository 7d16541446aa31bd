package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/client"
)

type policyDoc struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Position   int            `json:"position"`
	Conditions map[string]any `json:"conditions"`
	Action     string         `json:"action"`
	MaxPerHour *int           `json:"max_per_hour"`
	Enabled    bool           `json:"enabled"`
	CreatedAt  string         `json:"created_at"`
	UpdatedAt  string         `json:"updated_at"`
}

func (h *harness) policyCall(method, path, body string) (int, []byte) {
	h.t.Helper()
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	st, b, hdr := h.call(method, path, h.ownerToken, ct, []byte(body))
	if st >= 400 && hdr.Get("Content-Type") != "application/problem+json" {
		h.t.Errorf("%s %s: %d with Content-Type %q", method, path, st, hdr.Get("Content-Type"))
	}
	return st, b
}

func TestPolicyAPI(t *testing.T) {
	h := newHarness(t)
	_, na := h.agent("shopper", false)

	st, b := h.policyCall("POST", "/v1/owner/policies", `{"name":"acme sign-ups","action":"auto_approve","max_per_hour":5,
		"conditions":{"agent_id":"`+na.Agent.ID+`","sources":["email"],"sender_pattern":"*@acme.com","reason_pattern":"(?i)acme","hours":"00:00-24:00"}}`)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, b)
	}
	var p policyDoc
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.ID, "pol_") || p.Position != 1 || !p.Enabled || p.MaxPerHour == nil || *p.MaxPerHour != 5 ||
		p.Conditions["sender_pattern"] != "*@acme.com" || p.Conditions["agent_id"] != na.Agent.ID || p.CreatedAt == "" {
		t.Errorf("created policy: %s", b)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	for _, k := range []string{"id", "name", "position", "conditions", "action", "max_per_hour", "enabled", "created_at", "updated_at"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("policy object lacks %q: %s", k, b)
		}
	}
	if _, ok := raw["owner_id"]; ok {
		t.Errorf("policy object shows owner_id: %s", b)
	}

	// A second policy at position 1 moves the first down.
	st, b = h.policyCall("POST", "/v1/owner/policies", `{"name":"deny banks","action":"deny","position":1,"enabled":false,"conditions":{"reason_pattern":"(?i)bank"}}`)
	if st != http.StatusCreated {
		t.Fatalf("create 2: %d %s", st, b)
	}
	var p2 policyDoc
	json.Unmarshal(b, &p2)
	st, b = h.policyCall("GET", "/v1/owner/policies", "")
	var list struct {
		Data []policyDoc `json:"data"`
	}
	if err := json.Unmarshal(b, &list); st != 200 || err != nil || len(list.Data) != 2 || list.Data[0].ID != p2.ID || list.Data[1].ID != p.ID ||
		list.Data[1].Position != 2 || list.Data[0].Enabled {
		t.Fatalf("list: %d %s", st, b)
	}

	// PUT replaces; position 0 keeps the place.
	st, b = h.policyCall("PUT", "/v1/owner/policies/"+p.ID, `{"name":"acme, any time","action":"auto_approve","conditions":{"sender_pattern":"*@acme.com"}}`)
	var got policyDoc
	json.Unmarshal(b, &got)
	if st != 200 || got.Position != 2 || got.MaxPerHour != nil || got.Conditions["agent_id"] != nil || got.CreatedAt != p.CreatedAt {
		t.Fatalf("put: %d %s", st, b)
	}
	st, b = h.policyCall("GET", "/v1/owner/policies/"+p.ID, "")
	if json.Unmarshal(b, &got); st != 200 || got.Name != "acme, any time" {
		t.Fatalf("get: %d %s", st, b)
	}

	// The policy decides over HTTP: decided_by says which.
	agent := client.New(h.keys[firstClient(h)], client.WithBaseURL(h.srv.URL), client.WithMaxRetries(0))
	pub, _, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	req, err := agent.RequestOTP(context.Background(), client.RequestOptions{Reason: "Sign up for Acme", ExpectedSender: "noreply@acme.com",
		Filter: &client.Filter{SenderPattern: "noreply@acme.com"}, PublicKey: client.ExportPublicKey(pub)})
	if err != nil {
		t.Fatal(err)
	}
	if req.Status != client.StatusApproved || req.DecidedBy == nil || *req.DecidedBy != "policy:"+p.ID {
		t.Fatalf("request %s decided by %v; want policy:%s", req.Status, req.DecidedBy, p.ID)
	}
	req, err = agent.RequestOTP(context.Background(), client.RequestOptions{Reason: "Sign up", Filter: &client.Filter{SenderPattern: "*"},
		PublicKey: client.ExportPublicKey(pub)})
	if err != nil || req.Status != client.StatusPendingApproval {
		t.Fatalf("wide filter: %v %v", req, err)
	}

	st, b = h.policyCall("DELETE", "/v1/owner/policies/"+p2.ID, "")
	if json.Unmarshal(b, &got); st != 200 || got.ID != p2.ID {
		t.Fatalf("delete: %d %s", st, b)
	}
	st, b = h.policyCall("GET", "/v1/owner/policies/"+p2.ID, "")
	if pd := decodeProblem(t, b); st != 404 || pd.Code != agentotp.ENotFound {
		t.Fatalf("get deleted: %d %s", st, b)
	}
	st, b = h.policyCall("GET", "/v1/owner/policies/"+p.ID, "")
	if json.Unmarshal(b, &got); st != 200 || got.Position != 1 {
		t.Fatalf("after delete the other moved up: %d %s", st, b)
	}

	// Every change is in the audit log.
	_, b = h.policyCall("GET", "/v1/owner/audit?action=policy.changed", "")
	var audit struct {
		Data []agentotp.AuditEntry `json:"data"`
	}
	json.Unmarshal(b, &audit)
	var ops []string
	for _, e := range audit.Data {
		ops = append(ops, e.Actor+" "+e.Details["op"]+" "+e.Details["policy_id"])
	}
	want := []string{"owner created " + p.ID, "owner created " + p2.ID, "owner updated " + p.ID, "owner deleted " + p2.ID}
	if strings.Join(ops, "|") != strings.Join(want, "|") {
		t.Errorf("audit %q; want %q", ops, want)
	}
}

// firstClient returns the one agent client of the harness.
func firstClient(h *harness) *client.Client {
	for c := range h.keys {
		return c
	}
	h.t.Fatal("no agent")
	return nil
}

func TestPolicyAPIRefusals(t *testing.T) {
	h := newHarness(t)
	agent, _ := h.agent("a", false)
	agentKey := h.keys[agent]
	countAudit := func() int {
		es, err := h.svc.ListAudit(context.Background(), agentotp.AuditQuery{OwnerID: ownerID(t, h)})
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	before := countAudit()
	tests := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"unknown field", "POST", "/v1/owner/policies", `{"name":"x","action":"ask","bogus":1}`, 422, agentotp.EValidation, "bogus"},
		{"unknown condition", "POST", "/v1/owner/policies", `{"name":"x","action":"ask","conditions":{"sender":"x"}}`, 422, agentotp.EValidation, ""},
		{"wrong type", "POST", "/v1/owner/policies", `{"name":"x","action":"ask","max_per_hour":"5"}`, 422, agentotp.EValidation, ""},
		{"no body", "POST", "/v1/owner/policies", ``, 422, agentotp.EValidation, ""},
		{"trailing data", "POST", "/v1/owner/policies", `{"name":"x","action":"ask"} {}`, 422, agentotp.EValidation, ""},
		{"bad action", "POST", "/v1/owner/policies", `{"name":"x","action":"approve"}`, 422, agentotp.EValidation, "action"},
		{"missing name", "POST", "/v1/owner/policies", `{"action":"ask"}`, 422, agentotp.EValidation, "name"},
		{"bad regexp", "POST", "/v1/owner/policies", `{"name":"x","action":"ask","conditions":{"reason_pattern":"(?P<"}}`, 422, agentotp.EValidation, "conditions.reason_pattern"},
		{"bad hours", "POST", "/v1/owner/policies", `{"name":"x","action":"ask","conditions":{"hours":"9 to 5"}}`, 422, agentotp.EValidation, "conditions.hours"},
		{"unknown agent", "POST", "/v1/owner/policies", `{"name":"x","action":"ask","conditions":{"agent_id":"agt_nobody"}}`, 422, agentotp.EValidation, "conditions.agent_id"},
		{"cap on deny", "POST", "/v1/owner/policies", `{"name":"x","action":"deny","max_per_hour":3}`, 422, agentotp.EValidation, "max_per_hour"},
		{"put missing", "PUT", "/v1/owner/policies/pol_nope", `{"name":"x","action":"ask"}`, 404, agentotp.ENotFound, ""},
		{"delete missing", "DELETE", "/v1/owner/policies/pol_nope", ``, 404, agentotp.ENotFound, ""},
		{"bad time zone", "PUT", "/v1/owner/settings", `{"time_zone":"Mars/Base"}`, 422, agentotp.EValidation, "time_zone"},
		{"no time zone", "PUT", "/v1/owner/settings", `{}`, 422, agentotp.EValidation, "time_zone"},
		{"unlink when not linked", "DELETE", "/v1/owner/telegram", ``, 404, agentotp.ENotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, b := h.policyCall(tt.method, tt.path, tt.body)
			pd := decodeProblem(t, b)
			if st != tt.status || pd.Code != tt.code {
				t.Fatalf("%d %s; want %d %s", st, b, tt.status, tt.code)
			}
			if tt.field != "" && (len(pd.Errors) == 0 || pd.Errors[0].Field != tt.field) {
				t.Errorf("errors %+v; want field %s", pd.Errors, tt.field)
			}
		})
	}
	// An agent key cannot use the owner's endpoints.
	for _, path := range []string{"/v1/owner/policies", "/v1/owner/settings", "/v1/owner/telegram"} {
		st, b, _ := h.call("GET", path, agentKey, "", nil)
		if pd := decodeProblem(t, b); st != 401 || pd.Code != agentotp.EAuthentication {
			t.Errorf("agent key on %s: %d %s", path, st, b)
		}
	}
	st, b, _ := h.call("POST", "/v1/owner/policies", agentKey, "application/json", []byte(`{"name":"x","action":"auto_approve"}`))
	if st != 401 {
		t.Errorf("agent creating a policy: %d %s", st, b)
	}
	if after := countAudit(); after != before {
		t.Errorf("refused calls wrote %d audit entries", after-before)
	}
	if ps, _ := h.svc.ListPolicies(context.Background(), ownerID(t, h)); len(ps) != 0 {
		t.Errorf("refused calls created %d policies", len(ps))
	}
}

func TestSettingsAndTelegramLinkAPI(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	s, err := h.owner.Settings(ctx)
	if err != nil || s.TimeZone != "UTC" || s.UpdatedAt != nil {
		t.Fatalf("default settings: %+v %v", s, err)
	}
	if s, err = h.owner.SetTimeZone(ctx, "Europe/Berlin"); err != nil || s.TimeZone != "Europe/Berlin" {
		t.Fatalf("set: %+v %v", s, err)
	}
	st, b := h.policyCall("POST", "/v1/owner/telegram/link-code", "")
	var c client.TelegramLinkCode
	if err := json.Unmarshal(b, &c); st != 201 || err != nil || !regexp.MustCompile(`^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$`).MatchString(c.Code) ||
		c.Command != "/link "+c.Code || c.ExpiresAt.Sub(h.clock.Now()) > agentotp.TelegramLinkCodeTTL+1e9 {
		t.Fatalf("link code: %d %s", st, b)
	}
	l, err := h.owner.Telegram(ctx)
	if err != nil || l.Linked {
		t.Fatalf("link state: %+v %v", l, err)
	}
	// The code is never in the logs or the audit log.
	if strings.Contains(string(h.logs.Bytes()), c.Code) {
		t.Error("the link code is in the logs")
	}
	es, _ := h.svc.ListAudit(ctx, agentotp.AuditQuery{OwnerID: ownerID(t, h), Action: agentotp.AuditTelegramLinkCode})
	if len(es) != 1 {
		t.Fatalf("%d link-code audit entries", len(es))
	}
	if j, _ := json.Marshal(es); strings.Contains(string(j), c.Code) {
		t.Error("the link code is in the audit log")
	}
}
