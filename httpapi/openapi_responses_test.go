package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/httpapi"
)

// apiDoc is openapi.json read for checking real traffic against it: its
// operations by path template, and its component schemas as JSON Schema
// 2020-12 $defs (OpenAPI 3.1's schema dialect).
type apiDoc struct {
	raw      map[string]any
	defs     any
	paths    []docPath
	mu       sync.Mutex
	resolved map[string]*jsonschema.Resolved
}

type docPath struct {
	template string
	re       *regexp.Regexp
	params   int
	item     map[string]any
}

func loadAPIDoc(t *testing.T) *apiDoc {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	d := &apiDoc{resolved: map[string]*jsonschema.Resolved{}}
	if err := json.Unmarshal(b, &d.raw); err != nil {
		t.Fatal(err)
	}
	d.defs = d.raw["components"].(map[string]any)["schemas"]
	for tmpl, item := range d.raw["paths"].(map[string]any) {
		re := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`) + "$"
		d.paths = append(d.paths, docPath{tmpl, regexp.MustCompile(re), strings.Count(tmpl, "{"), item.(map[string]any)})
	}
	// The most literal template first: /v1/otp/request before /v1/otp/{id}.
	slices.SortFunc(d.paths, func(a, b docPath) int { return a.params - b.params })
	return d
}

// ref follows a local $ref ("#/components/responses/NotFound").
func (d *apiDoc) ref(v map[string]any) map[string]any {
	for {
		r, ok := v["$ref"].(string)
		if !ok {
			return v
		}
		var cur any = d.raw
		for _, tok := range strings.Split(strings.TrimPrefix(r, "#/"), "/") {
			cur = cur.(map[string]any)[strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")]
		}
		v = cur.(map[string]any)
	}
}

// pathItem finds the documented path that path falls under.
func (d *apiDoc) pathItem(path string) (string, map[string]any) {
	for _, p := range d.paths {
		if p.re.MatchString(path) {
			return p.template, p.item
		}
	}
	return "", nil
}

// schema compiles an OpenAPI schema object, with the document's
// components as $defs.
func (d *apiDoc) schema(s any) (*jsonschema.Resolved, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	key := string(b)
	d.mu.Lock()
	defer d.mu.Unlock()
	if rs, ok := d.resolved[key]; ok {
		return rs, nil
	}
	root := map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": d.defs, "allOf": []any{s}}
	rb, err := json.Marshal(root)
	if err != nil {
		return nil, err
	}
	rb = bytes.ReplaceAll(rb, []byte(`"#/components/schemas/`), []byte(`"#/$defs/`))
	var js jsonschema.Schema
	if err := json.Unmarshal(rb, &js); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	rs, err := js.Resolve(nil)
	if err != nil {
		return nil, fmt.Errorf("resolve schema: %w", err)
	}
	d.resolved[key] = rs
	return rs, nil
}

// validateJSON checks body against the schema of a media type object.
func (d *apiDoc) validateJSON(media map[string]any, body []byte) error {
	s, ok := media["schema"]
	if !ok {
		return nil
	}
	rs, err := d.schema(s)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return rs.Validate(v)
}

func isJSON(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

// exchange is one request the server answered, as recorded.
type exchange struct {
	method, path string
	reqType      string
	reqBody      []byte
	status       int
	header       http.Header
	body         []byte
}

// check returns what in the exchange the document does not describe.
func (d *apiDoc) check(x exchange) []string {
	var bad []string
	tmpl, item := d.pathItem(x.path)
	if item == nil {
		return []string{"no documented path"}
	}
	opv, ok := item[strings.ToLower(x.method)].(map[string]any)
	if !ok {
		if x.status != http.StatusMethodNotAllowed {
			return []string{fmt.Sprintf("%s is not documented on %s, yet answered %d", x.method, tmpl, x.status)}
		}
		// A method the path lacks: any of its operations documents the 405.
		for _, m := range []string{"get", "post", "put", "delete"} {
			if o, ok := item[m].(map[string]any); ok {
				opv = o
				break
			}
		}
		if allow := x.header.Get("Allow"); allow == "" {
			bad = append(bad, "405 without Allow")
		} else {
			for _, m := range strings.Split(allow, ", ") {
				if _, ok := item[strings.ToLower(m)]; !ok {
					bad = append(bad, fmt.Sprintf("Allow names %s, which %s does not document", m, tmpl))
				}
			}
		}
	}
	responses := opv["responses"].(map[string]any)
	rv, ok := responses[strconv.Itoa(x.status)]
	if !ok {
		rv, ok = responses[fmt.Sprintf("%dXX", x.status/100)]
	}
	if !ok {
		rv, ok = responses["default"]
	}
	if !ok {
		return append(bad, fmt.Sprintf("status %d is not documented", x.status))
	}
	resp := d.ref(rv.(map[string]any))
	if hs, ok := resp["headers"].(map[string]any); ok {
		for name, hv := range hs {
			h := d.ref(hv.(map[string]any))
			if req, _ := h["required"].(bool); req && x.header.Get(name) == "" {
				bad = append(bad, fmt.Sprintf("%d lacks the required header %s", x.status, name))
			}
		}
	}
	content, _ := resp["content"].(map[string]any)
	if len(x.body) == 0 && x.header.Get("Content-Type") == "" {
		return bad
	}
	mt, _, err := mime.ParseMediaType(x.header.Get("Content-Type"))
	if err != nil {
		return append(bad, fmt.Sprintf("Content-Type %q: %v", x.header.Get("Content-Type"), err))
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		return append(bad, fmt.Sprintf("%d answered %s, which is not documented (%v)", x.status, mt, slices.Sorted(mapKeys(content))))
	}
	if isJSON(mt) {
		if err := d.validateJSON(media, x.body); err != nil {
			bad = append(bad, fmt.Sprintf("%d body %s: %v", x.status, truncate(x.body), err))
		}
	}
	// A request the server took must match the documented request body.
	if x.status < 300 && len(x.reqBody) > 0 && isJSON(x.reqType) {
		rb, ok := opv["requestBody"].(map[string]any)
		if !ok {
			return append(bad, "the server took a body the operation does not document")
		}
		rmedia, ok := d.ref(rb)["content"].(map[string]any)[x.reqType].(map[string]any)
		if !ok {
			return append(bad, "the server took a request body of type "+x.reqType+", which is not documented")
		}
		if err := d.validateJSON(rmedia, x.reqBody); err != nil {
			bad = append(bad, fmt.Sprintf("the server took the body %s, which the document refuses: %v", truncate(x.reqBody), err))
		}
	}
	return bad
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// recorder keeps every exchange the wrapped handler answers.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	xs   []exchange
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var reqBody []byte
	if r.Body != nil {
		reqBody, _ = io.ReadAll(io.LimitReader(r.Body, 2<<20))
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	rw := &recWriter{ResponseWriter: w}
	rec.next.ServeHTTP(rw, r)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if len(reqBody) > 64<<10 {
		reqBody = nil // an oversize body, refused; nothing to compare
	}
	rec.mu.Lock()
	rec.xs = append(rec.xs, exchange{r.Method, r.URL.Path, mt, reqBody, rw.statusCode(), w.Header().Clone(), rw.body.Bytes()})
	rec.mu.Unlock()
}

func (rec *recorder) exchanges() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.xs)
}

type recWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *recWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len() < 1<<20 {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *recWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// TestOpenAPIDescribesResponses drives a real relay through its
// endpoints, successes and every error status it produces (401, 403,
// 404, 405, 409, 410, 413, 415, 422, 429), and checks each answer
// against openapi.json: the status is documented for the operation, the
// required headers are there (Allow on 405, Retry-After on 429,
// WWW-Authenticate on 401), the media type is documented, and JSON
// bodies validate against their schemas (JSON Schema 2020-12, with
// google/jsonschema-go). Request bodies the server took must validate
// too. The relay answers no 400: malformed bodies are 422
// VALIDATION_ERROR (only net/http itself says 400, to a request that is
// not HTTP).
func TestOpenAPIDescribesResponses(t *testing.T) {
	doc := loadAPIDoc(t)
	h := newHarness(t, func(c *httpapi.Config) { c.FailedAuthRate = 1000 })
	rec := &recorder{next: h.srv.Config.Handler}
	h.srv.Config.Handler = rec
	ctx := ctxT(t)
	h.startWorker(t)

	hooks := make(chan webhookCall, 16)
	hookURL := webhookSink(t, hooks)

	live, liveAgent := h.agent("doc-live", false)
	test, _ := h.agent("doc-test", true)
	src, srcToken := h.source("email")
	agentKey := h.keys[live]
	owner := h.ownerToken
	pub, _, err := client.GenerateKeyPair(client.HPKEX25519)
	if err != nil {
		t.Fatal(err)
	}
	pk := client.ExportPublicKey(pub)
	js := "application/json"
	call := func(method, path, token, ct, body string) (int, []byte) {
		st, b, _ := h.call(method, path, token, ct, []byte(body))
		return st, b
	}
	id := func(b []byte) string { // of a request or policy, or the agent or source of a new one
		var v struct {
			ID     string              `json:"id"`
			Agent  struct{ ID string } `json:"agent"`
			Source struct{ ID string } `json:"source"`
		}
		json.Unmarshal(b, &v)
		return v.ID + v.Agent.ID + v.Source.ID
	}
	create := func(path, token, body string) string { // a POST that must answer 201; the new id
		st, b := call("POST", path, token, js, body)
		if st != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, st, b)
		}
		return id(b)
	}

	// The agent's requests: create, read, wait, events, consume, cancel.
	st, b := call("POST", "/v1/otp/request", agentKey, js, fmt.Sprintf(`{"reason":"Sign up at Acme","public_key":%q,"expected_sender":"Acme <no-reply@acme.example>","filter":{"sources":["email"],"sender_pattern":"*@acme.example"},"ttl":600,"webhook_url":%q}`, pk, hookURL))
	if st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	reqID := id(b)
	call("POST", "/v1/otp/request", agentKey, js, fmt.Sprintf(`{"reason":"null where the document allows it","public_key":%q,"filter":null,"expected_sender":null,"webhook_url":null}`, pk))
	call("GET", "/v1/otp/"+reqID, agentKey, "", "")
	call("GET", "/v1/otp/"+reqID+"?wait=1", agentKey, "", "")
	call("GET", "/v1/otp/"+reqID+"?wait=-1", agentKey, "", "")
	call("GET", "/v1/otp/otp_missing", agentKey, "", "")
	call("POST", "/v1/otp/"+reqID+"/consume", agentKey, "", "") // 409: not ready
	call("GET", "/v1/owner/requests?status=pending_approval", owner, "", "")
	call("GET", "/v1/owner/requests?status=nope", owner, "", "")
	call("GET", "/v1/owner/requests/"+reqID, owner, "", "")
	call("POST", "/v1/owner/requests/"+reqID+"/approve", owner, js, `{}`)
	call("POST", "/v1/owner/requests/"+reqID+"/approve", owner, js, `{}`) // 409
	if _, err := src.Send(ctx, client.Message{Source: "email", Sender: "Acme <no-reply@acme.example>", Subject: "Your code", Text: "Your Acme code is 482913."}); err != nil {
		t.Fatal(err)
	}
	if r, err := live.WaitForOTP(ctx, reqID, 20*time.Second); err != nil || r.Status != client.StatusOTPReceived {
		t.Fatalf("wait: %+v %v", r, err)
	}
	call("GET", "/v1/otp/"+reqID+"/events", agentKey, "", "") // a finished request: the stream says so and ends
	call("GET", "/v1/otp/"+reqID, agentKey, "", "")
	call("POST", "/v1/otp/"+reqID+"/consume", agentKey, "", "")
	call("POST", "/v1/otp/"+reqID+"/consume", agentKey, "", "") // 410
	call("DELETE", "/v1/otp/"+reqID, agentKey, "", "")          // 409: final

	denyID := create("/v1/otp/request", agentKey, fmt.Sprintf(`{"reason":"To be denied","public_key":%q}`, pk))
	call("POST", "/v1/owner/requests/"+denyID+"/deny", owner, js, `{"reason":"not now"}`)
	call("POST", "/v1/otp/"+denyID+"/consume", agentKey, "", "") // 403
	cancelID := create("/v1/otp/request", agentKey, fmt.Sprintf(`{"reason":"To be cancelled","public_key":%q}`, pk))
	call("DELETE", "/v1/otp/"+cancelID, agentKey, "", "")
	call("POST", "/v1/owner/requests/"+cancelID+"/deny", owner, "", "")
	// A test key's request, and its test message.
	tr, err := test.RequestOTP(ctx, client.RequestOptions{Reason: "CI check", PublicKey: pk})
	if err != nil {
		t.Fatal(err)
	}
	call("POST", "/v1/test/messages", h.keys[test], js, `{"sender":"ci@example.com","text":"code 123456"}`)
	call("POST", "/v1/test/messages", agentKey, js, `{"sender":"ci@example.com","text":"code 123456"}`) // 403: a live key
	call("GET", "/v1/otp/"+tr.ID, h.keys[test], "", "")

	// Bad input: 401, 413, 415, 422, 405.
	call("GET", "/v1/otp/"+reqID, "", "", "")
	call("GET", "/v1/otp/"+reqID, "ak_live_wrong", "", "")
	call("GET", "/v1/owner/agents", agentKey, "", "")
	call("POST", "/v1/otp/request", agentKey, "text/plain", `reason=x`)
	call("POST", "/v1/otp/request", agentKey, js, `{"reason":`)
	call("POST", "/v1/otp/request", agentKey, js, `{"reason":"x","public_key":"nope","ttl":999999}`)
	call("POST", "/v1/otp/request", agentKey, js, `{"reason":"`+strings.Repeat("x", 70<<10)+`"}`)
	call("POST", "/v1/messages", srcToken, js, `{"text":"`+strings.Repeat("x", 2<<20)+`"}`)
	call("PUT", "/v1/otp/request", agentKey, js, `{}`)
	call("PATCH", "/v1/otp/"+reqID, agentKey, "", "")
	call("PATCH", "/v1/owner/agents", owner, "", "")
	call("POST", "/healthz", "", "", "")

	// The owner's API.
	call("GET", "/v1/owner/agents", owner, "", "")
	made := create("/v1/owner/agents", owner, `{"name":"doc-made","test":false}`)
	call("POST", "/v1/owner/agents", owner, js, `{"name":""}`)
	call("POST", "/v1/owner/agents/"+made+"/rotate", owner, js, `{"grace_seconds":60}`)
	call("GET", "/v1/owner/agents/"+made+"/webhook", owner, "", "")
	call("PUT", "/v1/owner/agents/"+made+"/webhook", owner, js, `{"url":"https://hooks.example.com/agentotp"}`)
	call("PUT", "/v1/owner/agents/"+made+"/webhook", owner, js, `{"url":null}`)
	call("POST", "/v1/owner/agents/"+made+"/webhook/secret", owner, js, `{}`)
	call("DELETE", "/v1/owner/agents/"+made, owner, "", "")
	call("POST", "/v1/owner/agents/"+made+"/rotate", owner, js, `{}`) // 409 or 404: revoked
	call("DELETE", "/v1/owner/agents/agt_missing", owner, "", "")
	call("GET", "/v1/owner/sources", owner, "", "")
	phone := create("/v1/owner/sources", owner, `{"name":"doc-phone","kind":"sms"}`)
	call("POST", "/v1/owner/sources", owner, js, `{"name":"x","kind":"fax"}`)
	call("GET", "/v1/owner/sources/"+phone, owner, "", "")
	call("DELETE", "/v1/owner/sources/"+phone+"/imap", owner, "", "")
	call("DELETE", "/v1/owner/sources/"+phone, owner, "", "")
	call("GET", "/v1/owner/policies", owner, "", "")
	pol := create("/v1/owner/policies", owner, fmt.Sprintf(`{"name":"doc policy","action":"auto_approve","enabled":true,"max_per_hour":null,"conditions":{"agent_id":%q,"sources":["email"],"sender_pattern":"*@acme.example","hours":"09:00-17:00"}}`, liveAgent.Agent.ID))
	call("POST", "/v1/owner/policies", owner, js, `{"name":"bad","action":"maybe"}`)
	call("GET", "/v1/owner/policies/"+pol, owner, "", "")
	call("PUT", "/v1/owner/policies/"+pol, owner, js, `{"name":"doc policy","action":"deny","enabled":false,"max_per_hour":5,"conditions":{}}`)
	call("PUT", "/v1/owner/policies/"+pol, owner, js, `{"name":"doc policy","action":"ask","max_per_hour":null}`)
	call("DELETE", "/v1/owner/policies/"+pol, owner, "", "")
	call("GET", "/v1/owner/policies/"+pol, owner, "", "")
	call("GET", "/v1/owner/settings", owner, "", "")
	call("PUT", "/v1/owner/settings", owner, js, `{"time_zone":"Europe/Berlin"}`)
	call("PUT", "/v1/owner/settings", owner, js, `{"time_zone":"Mars/Olympus"}`)
	call("GET", "/v1/owner/telegram", owner, "", "")
	call("POST", "/v1/owner/telegram/link-code", owner, js, `{}`)
	call("DELETE", "/v1/owner/telegram", owner, "", "")
	call("GET", "/v1/owner/audit?limit=5", owner, "", "")
	call("GET", "/v1/owner/audit?limit=0", owner, "", "")
	call("GET", "/v1/owner/audit/verify", owner, "", "")
	call("GET", "/v1/owner/audit/export?format=ndjson", owner, "", "")
	call("GET", "/v1/owner/audit/export?format=csv", owner, "", "")
	call("GET", "/v1/owner/webhooks", owner, "", "")
	call("PUT", "/v1/owner/password", owner, js, `{"password":"correct horse battery staple"}`)
	call("PUT", "/v1/owner/password", owner, js, `{"password":"short"}`)
	call("POST", "/v1/owner/login-links", owner, js, `{}`)
	call("GET", "/v1/capture/requests", srcToken, "", "")
	call("POST", "/v1/capture/deliveries", srcToken, js, `{}`)
	call("POST", "/v1/messages", srcToken, js, `{"source":"email","sender":"x@example.com","text":"hello"}`)
	call("POST", "/v1/messages", srcToken, js, `{"source":"pigeon"}`)
	call("GET", "/healthz", "", "", "")
	call("GET", "/readyz", "", "", "")
	call("GET", "/openapi.json", "", "", "")

	// The delivery of the first request's webhook.
	var delivery webhookCall
	select {
	case delivery = <-hooks:
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook delivery")
	}
	st, b = call("GET", "/v1/owner/webhooks?request_id="+reqID, owner, "", "")
	var dl struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if json.Unmarshal(b, &dl); st != 200 || len(dl.Data) == 0 {
		t.Fatalf("deliveries: %d %s", st, b)
	}
	call("GET", "/v1/owner/webhooks/"+dl.Data[0].ID, owner, "", "")
	call("POST", "/v1/owner/webhooks/"+dl.Data[0].ID+"/retry", owner, "", "")
	call("GET", "/v1/owner/webhooks/evt_missing", owner, "", "")
	call("PUT", "/v1/owner/sources/src_missing/imap", owner, js, `{"host":"127.0.0.1"}`)
	_, b = call("POST", "/v1/owner/sources", owner, js, `{"name":"doc-mail","kind":"email"}`)
	call("PUT", "/v1/owner/sources/"+id(b)+"/imap", owner, js, `{"host":"","username":"u","password":"p"}`)
	call("POST", "/v1/ingest/sms-gate", "", js, `{"event":"sms:received"}`)
	call("GET", "/metrics", "", "", "")

	// 429: an agent over its rate.
	limited := newHarness(t, func(c *httpapi.Config) { c.AgentRate, c.AgentBurst = 1, 1 })
	lrec := &recorder{next: limited.srv.Config.Handler}
	limited.srv.Config.Handler = lrec
	la, _ := limited.agent("doc-limited", false)
	for range 3 {
		limited.call("GET", "/v1/otp/otp_x", limited.keys[la], "", nil)
	}

	// 400: net/http's own answer to a request that is not valid HTTP,
	// which no handler sees.
	bad := rawExchange(t, h.srv.Listener.Addr().String(), "GET /v1/otp/%zz HTTP/1.1\r\nHost: x\r\n\r\n")

	seen := map[int]bool{}
	hit := map[string]bool{}
	all := append(append(rec.exchanges(), lrec.exchanges()...), bad)
	for _, x := range all {
		seen[x.status] = true
		if tmpl, _ := doc.pathItem(x.path); tmpl != "" {
			hit[strings.ToLower(x.method)+" "+tmpl] = true
		}
		for _, bad := range doc.check(x) {
			t.Errorf("%s %s → %d: %s", x.method, x.path, x.status, bad)
		}
	}
	var missed []string
	for _, p := range doc.paths {
		for _, m := range []string{"get", "post", "put", "delete"} {
			if _, ok := p.item[m]; ok && !hit[m+" "+p.template] {
				missed = append(missed, strings.ToUpper(m)+" "+p.template)
			}
		}
	}
	t.Logf("checked %d exchanges; operations the scenario does not call: %v", len(all), missed)
	for _, want := range []int{200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429} {
		if !seen[want] {
			t.Errorf("the scenario produced no %d; the check covers less than it says", want)
		}
	}

	// The webhook: its body and headers as the document's webhooks say.
	whs, ok := doc.raw["webhooks"].(map[string]any)
	if !ok || len(whs) == 0 {
		t.Fatal("openapi.json declares no webhooks")
	}
	for name, wv := range whs {
		op := doc.ref(wv.(map[string]any))["post"].(map[string]any)
		for _, pv := range op["parameters"].([]any) {
			p := doc.ref(pv.(map[string]any))
			if req, _ := p["required"].(bool); req && p["in"] == "header" && delivery.header.Get(p["name"].(string)) == "" {
				t.Errorf("webhook %s: the delivery lacks the header %s", name, p["name"])
			}
		}
		media := doc.ref(op["requestBody"].(map[string]any))["content"].(map[string]any)["application/json"].(map[string]any)
		if err := doc.validateJSON(media, delivery.body); err != nil {
			t.Errorf("webhook %s: the delivery %s does not match: %v", name, delivery.body, err)
		}
	}
}

type webhookCall struct {
	header http.Header
	body   []byte
}

// webhookSink is a loopback receiver that hands each delivery to ch.
func webhookSink(t *testing.T, ch chan<- webhookCall) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case ch <- webhookCall{r.Header.Clone(), b}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String() + "/hook"
}

// rawExchange sends raw bytes to addr and reads the answer, for requests
// that an HTTP client would not send.
func rawExchange(t *testing.T, addr, raw string) exchange {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	line := strings.SplitN(raw, " ", 3)
	return exchange{method: line[0], path: line[1], status: resp.StatusCode, header: resp.Header, body: body}
}
