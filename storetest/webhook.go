package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/agentotp/agentotp"
)

// testWebhooks is the outbox: queued in the transaction of each status
// change, claimed head-of-line per request, retried, given up, pruned; and the
// agents' webhook settings.
func testWebhooks(t *testing.T, e *env) {
	// Claim runs first: it expects the outbox to hold its rows alone.
	t.Run("Claim", func(t *testing.T) { testWebhookClaim(t, e) })
	t.Run("Enqueue", func(t *testing.T) { testWebhookEnqueue(t, e) })
	t.Run("AgentDefault", func(t *testing.T) { testWebhookAgentDefault(t, e) })
	t.Run("FailRetryPrune", func(t *testing.T) { testWebhookFailRetryPrune(t, e) })
	t.Run("Gone", func(t *testing.T) { testWebhookGone(t, e) })
	t.Run("Secret", func(t *testing.T) { testWebhookSecret(t, e) })
}

// statusEntry is a request audit entry that records the status reached, as
// the relay writes them.
func statusEntry(r *agentotp.Request, action string, st agentotp.Status, when time.Time) agentotp.AuditEntry {
	ae := entry(r.OwnerID, action, when)
	ae.RequestID, ae.AgentID = r.ID, r.AgentID
	ae.Details = map[string]string{"status": string(st)}
	return ae
}

// deliveries lists the owner's deliveries of one request, oldest first.
func (e *env) deliveries(ownerID, requestID string) []*agentotp.WebhookDelivery {
	e.t.Helper()
	ds, err := e.s.ListWebhooks(e.ctx, agentotp.WebhookQuery{OwnerID: ownerID, RequestID: requestID})
	e.must(err, "ListWebhooks")
	for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
		ds[i], ds[j] = ds[j], ds[i]
	}
	return ds
}

func statuses(ds []*agentotp.WebhookDelivery) []agentotp.Status {
	out := make([]agentotp.Status, len(ds))
	for i, d := range ds {
		out[i] = d.Status
	}
	return out
}

func sameStatuses(got []*agentotp.WebhookDelivery, want ...agentotp.Status) bool {
	s := statuses(got)
	if len(s) != len(want) {
		return false
	}
	for i := range s {
		if s[i] != want[i] {
			return false
		}
	}
	return true
}

func testWebhookEnqueue(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	const url = "https://agent.example/hooks/otp"

	// A request without any webhook URL queues nothing.
	quiet := newRequest(a, at(0))
	e.createRequest(quiet)
	if ds := e.deliveries(o.ID, quiet.ID); len(ds) != 0 {
		t.Fatalf("a request without webhook URL queued %d deliveries", len(ds))
	}

	r := newRequest(a, at(time.Second))
	r.WebhookURL = url
	ce := statusEntry(r, agentotp.AuditRequestCreated, agentotp.StatusPending, at(time.Second))
	e.must(e.s.CreateRequest(e.ctx, r, ce), "CreateRequest")
	ds := e.deliveries(o.ID, r.ID)
	if !sameStatuses(ds, agentotp.StatusPending) {
		t.Fatalf("after create: %v", statuses(ds))
	}
	d := ds[0]
	if d.ID != ce.ID || d.URL != url || d.State != agentotp.DeliveryPending || d.AgentID != a.ID ||
		d.OwnerID != o.ID || !d.OccurredAt.Equal(at(time.Second).Truncate(time.Microsecond)) || d.Attempts != 0 {
		t.Errorf("queued delivery: %s", show(d))
	}

	// A message held while pending changes no status: nothing queued.
	prev := r.Version
	held := *r
	e.must(held.Match([]byte("sealed"), nil, metadata(at(2*time.Second)), at(2*time.Second)), "Match")
	e.update(&held, prev, statusEntry(&held, agentotp.AuditMessageHeld, agentotp.StatusPending, at(2*time.Second)))
	if ds := e.deliveries(o.ID, r.ID); len(ds) != 1 {
		t.Fatalf("a held message queued a delivery: %v", statuses(ds))
	}

	// Approval releases the held code: one delivery, otp_received.
	prev = held.Version
	e.must(held.Approve(agentotp.DecidedByOwner, at(3*time.Second)), "Approve")
	e.update(&held, prev, statusEntry(&held, agentotp.AuditRequestApproved, held.Status, at(3*time.Second)))
	prev = held.Version
	if _, _, err := held.Consume(at(4 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// An update whose audit names no status still reports the change.
	e.update(&held, prev)
	ds = e.deliveries(o.ID, r.ID)
	if !sameStatuses(ds, agentotp.StatusPending, agentotp.StatusReceived, agentotp.StatusConsumed) {
		t.Fatalf("after approve and consume: %v", statuses(ds))
	}
	if ds[2].ID == "" || ds[2].ID == ds[1].ID || !ds[2].OccurredAt.Equal(at(4*time.Second)) {
		t.Errorf("delivery without audit status: %s", show(ds[2]))
	}

	// A lost race queues nothing.
	stale := held
	stale.Status = agentotp.StatusCancelled
	err := e.s.UpdateRequest(e.ctx, &stale, prev)
	wantErr(t, err, agentotp.ErrConflict, "UpdateRequest with a stale version")
	if ds := e.deliveries(o.ID, r.ID); len(ds) != 3 {
		t.Fatalf("a refused update queued a delivery: %v", statuses(ds))
	}

	// A test key's request passes three statuses in one create: three
	// deliveries, in order, each with its entry's id.
	ta, _ := e.agent(o.ID, true, at(0))
	tr := newRequest(ta, at(5*time.Second))
	tr.WebhookURL = url
	c1 := statusEntry(tr, agentotp.AuditRequestCreated, agentotp.StatusPending, at(5*time.Second))
	e.must(tr.Approve(agentotp.DecidedByTestKey, at(5*time.Second)), "Approve")
	c2 := statusEntry(tr, agentotp.AuditRequestApproved, agentotp.StatusApproved, at(5*time.Second))
	e.must(tr.Match([]byte("sealed"), nil, metadata(at(5*time.Second)), at(5*time.Second)), "Match")
	c3 := statusEntry(tr, agentotp.AuditOTPReceived, agentotp.StatusReceived, at(5*time.Second))
	e.must(e.s.CreateRequest(e.ctx, tr, c1, c2, c3), "CreateRequest")
	ds = e.deliveries(o.ID, tr.ID)
	if !sameStatuses(ds, agentotp.StatusPending, agentotp.StatusApproved, agentotp.StatusReceived) ||
		ds[0].ID != c1.ID || ds[1].ID != c2.ID || ds[2].ID != c3.ID || !(ds[0].Seq < ds[1].Seq && ds[1].Seq < ds[2].Seq) {
		t.Fatalf("test key deliveries: %s", show(ds))
	}

	// Another owner sees none of them.
	other, _ := e.owner("Mallory", at(0))
	if ds := e.deliveries(other.ID, tr.ID); len(ds) != 0 {
		t.Errorf("another owner lists %d deliveries", len(ds))
	}
	if _, err := e.s.GetWebhook(e.ctx, other.ID, c1.ID); err == nil {
		t.Errorf("another owner reads a delivery")
	}
	got, err := e.s.GetWebhook(e.ctx, o.ID, c1.ID)
	e.must(err, "GetWebhook")
	if got.RequestID != tr.ID || got.Status != agentotp.StatusPending {
		t.Errorf("GetWebhook: %s", show(got))
	}
}

func testWebhookAgentDefault(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	const def = "https://agent.example/default"

	ae := entry(o.ID, agentotp.AuditAgentWebhookChanged, at(time.Second))
	ae.AgentID = a.ID
	err := e.s.SetAgentWebhookURL(e.ctx, other.ID, a.ID, "https://evil.example/", ae)
	wantErr(t, err, agentotp.ErrNotFound, "SetAgentWebhookURL of another owner's agent")
	e.must(e.s.SetAgentWebhookURL(e.ctx, o.ID, a.ID, def, ae), "SetAgentWebhookURL")
	got, err := e.s.GetAgent(e.ctx, o.ID, a.ID)
	e.must(err, "GetAgent")
	if got.WebhookURL != def || got.WebhookSecret != a.WebhookSecret {
		t.Fatalf("agent after SetAgentWebhookURL: url %q, secret kept %v", got.WebhookURL, got.WebhookSecret == a.WebhookSecret)
	}

	// A request without its own URL goes to the agent's; one with its own
	// URL to that one.
	r1 := newRequest(a, at(2*time.Second))
	e.createRequest(r1)
	r2 := newRequest(a, at(2*time.Second))
	r2.WebhookURL = "https://agent.example/own"
	e.createRequest(r2)
	if ds := e.deliveries(o.ID, r1.ID); len(ds) != 1 || ds[0].URL != def {
		t.Errorf("agent default: %s", show(ds))
	}
	if ds := e.deliveries(o.ID, r2.ID); len(ds) != 1 || ds[0].URL != r2.WebhookURL {
		t.Errorf("request's own URL: %s", show(ds))
	}

	// Cleared: nothing more is queued.
	e.must(e.s.SetAgentWebhookURL(e.ctx, o.ID, a.ID, ""), "SetAgentWebhookURL")
	r3 := newRequest(a, at(3*time.Second))
	e.createRequest(r3)
	if ds := e.deliveries(o.ID, r3.ID); len(ds) != 0 {
		t.Errorf("cleared default still queued: %s", show(ds))
	}
	// The audit entry was appended.
	es, err := e.s.ListAudit(e.ctx, agentotp.AuditQuery{OwnerID: o.ID, Action: agentotp.AuditAgentWebhookChanged})
	e.must(err, "ListAudit")
	if len(es) != 1 {
		t.Errorf("%d webhook_changed audit entries; want 1", len(es))
	}
}

// queue creates a pending request of a with url and returns its delivery.
func (e *env) queue(a *agentotp.Agent, url string, when time.Time) *agentotp.WebhookDelivery {
	e.t.Helper()
	r := newRequest(a, when)
	r.WebhookURL = url
	e.createRequest(r)
	ds := e.deliveries(a.OwnerID, r.ID)
	if len(ds) != 1 {
		e.t.Fatalf("queued %d deliveries; want 1", len(ds))
	}
	return ds[0]
}

// claimIDs returns the ids of ds that are among mine (all of them when
// mine is empty).
func claimIDs(ds []*agentotp.WebhookDelivery, mine ...*agentotp.WebhookDelivery) map[string]bool {
	m := map[string]bool{}
	for _, d := range ds {
		m[d.ID] = true
	}
	if len(mine) == 0 {
		return m
	}
	out := map[string]bool{}
	for _, d := range mine {
		if m[d.ID] {
			out[d.ID] = true
		}
	}
	return out
}

func testWebhookClaim(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	const u1, u2 = "https://one.example/hook", "https://two.example/hook"
	a1 := e.queue(a, u1, at(0))
	a2 := e.queue(a, u1, at(time.Second))
	b1 := e.queue(a, u2, at(2*time.Second))

	now := time.Now()
	lease := now.Add(time.Minute)
	got, err := e.s.ClaimWebhooks(e.ctx, now, lease, 10)
	e.must(err, "ClaimWebhooks")
	ids := claimIDs(got)
	if len(got) != 3 || !ids[a1.ID] || !ids[a2.ID] || !ids[b1.ID] {
		t.Fatalf("first claim: %s; want the head of each request (order is per request, not per URL)", show(got))
	}
	for _, d := range got {
		if !d.NextAttemptAt.Equal(lease.UTC().Truncate(time.Microsecond)) {
			t.Errorf("claimed delivery's NextAttemptAt %v; want the lease %v", d.NextAttemptAt, lease)
		}
	}
	// Leased: a second claim returns nothing, not even the one behind a1.
	got, err = e.s.ClaimWebhooks(e.ctx, now, lease, 10)
	e.must(err, "ClaimWebhooks")
	if len(got) != 0 {
		t.Fatalf("second claim while leased: %s", show(got))
	}
	// After the lease they come back (a dead worker's claims are retried).
	got, err = e.s.ClaimWebhooks(e.ctx, lease, lease.Add(time.Minute), 1)
	e.must(err, "ClaimWebhooks")
	if len(got) != 1 || got[0].ID != a1.ID {
		t.Fatalf("claim after the lease, limit 1: %s; want %s", show(got), a1.ID)
	}

	// a1 delivered: a2 becomes the head of u1.
	d := got[0]
	d.State, d.Attempts, d.LastAttemptAt, d.LastStatusCode, d.DeliveredAt = agentotp.DeliveryDelivered, 1, lease, 204, lease
	e.must(e.s.SaveWebhookAttempt(e.ctx, d), "SaveWebhookAttempt")
	later := lease.Add(2 * time.Minute)
	got, err = e.s.ClaimWebhooks(e.ctx, later, later.Add(time.Minute), 10)
	e.must(err, "ClaimWebhooks")
	ids = claimIDs(got)
	if len(got) != 2 || !ids[a2.ID] || !ids[b1.ID] {
		t.Fatalf("claim after a1 was delivered: %s", show(got))
	}
	saved, err := e.s.GetWebhook(e.ctx, o.ID, a1.ID)
	e.must(err, "GetWebhook")
	if saved.State != agentotp.DeliveryDelivered || saved.Attempts != 1 || saved.LastStatusCode != 204 || saved.DeliveredAt.IsZero() {
		t.Errorf("saved attempt: %s", show(saved))
	}

	// A retry scheduled in the future is not due before then.
	for _, d := range got {
		d.Attempts, d.LastAttemptAt, d.LastStatusCode, d.LastError = 1, later, 503, "HTTP 503"
		d.NextAttemptAt = later.Add(time.Hour)
		e.must(e.s.SaveWebhookAttempt(e.ctx, d), "SaveWebhookAttempt")
	}
	got, err = e.s.ClaimWebhooks(e.ctx, later.Add(30*time.Minute), later.Add(31*time.Minute), 10)
	e.must(err, "ClaimWebhooks")
	if len(got) != 0 {
		t.Errorf("claimed before the retry time: %s", show(got))
	}

	unknown := *a1
	unknown.ID = newID("whk")
	wantErr(t, e.s.SaveWebhookAttempt(e.ctx, &unknown), agentotp.ErrNotFound, "SaveWebhookAttempt of an unknown delivery")
}

func testWebhookFailRetryPrune(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	const gone, kept = "https://gone.example/hook", "https://kept.example/hook"
	g1 := e.queue(a, gone, at(0))
	g2 := e.queue(a, gone, at(time.Second))
	k1 := e.queue(a, kept, at(time.Second))

	now := time.Now()
	n, err := e.s.WebhookGone(e.ctx, a.ID, gone, "HTTP 410 Gone", now)
	e.must(err, "WebhookGone")
	if n != 2 {
		t.Errorf("WebhookGone failed %d; want 2", n)
	}
	for _, id := range []string{g1.ID, g2.ID} {
		d, err := e.s.GetWebhook(e.ctx, o.ID, id)
		e.must(err, "GetWebhook")
		if d.State != agentotp.DeliveryFailed || d.LastError != "HTTP 410 Gone" {
			t.Errorf("after 410: %s", show(d))
		}
	}
	failed, err := e.s.ListWebhooks(e.ctx, agentotp.WebhookQuery{OwnerID: o.ID, State: agentotp.DeliveryFailed})
	e.must(err, "ListWebhooks")
	if len(failed) != 2 || failed[0].ID != g2.ID {
		t.Errorf("failed deliveries, newest first: %s", show(failed))
	}

	// Retry: only a failed delivery, only the owner's.
	wantErr(t, e.s.RetryWebhook(e.ctx, o.ID, k1.ID, now), agentotp.ErrConflict, "RetryWebhook of a pending delivery")
	wantErr(t, e.s.RetryWebhook(e.ctx, other.ID, g1.ID, now), agentotp.ErrNotFound, "RetryWebhook of another owner's delivery")
	e.must(e.s.RetryWebhook(e.ctx, o.ID, g1.ID, now), "RetryWebhook")
	// Other subtests' deliveries share the store: look at these only.
	got, err := e.s.ClaimWebhooks(e.ctx, now, now.Add(time.Minute), 100)
	e.must(err, "ClaimWebhooks")
	ids := claimIDs(got, g1, g2, k1)
	if len(ids) != 2 || !ids[g1.ID] || !ids[k1.ID] {
		t.Errorf("claim after retry: %v", ids)
	}

	// Prune deletes finished rows only, changed before the cut.
	pruned, err := e.s.PruneWebhooks(e.ctx, time.Now().Add(time.Hour))
	e.must(err, "PruneWebhooks")
	if pruned < 1 {
		t.Errorf("PruneWebhooks deleted %d; want at least g2", pruned)
	}
	if _, err := e.s.GetWebhook(e.ctx, o.ID, g2.ID); err == nil {
		t.Errorf("pruned delivery still there")
	}
	for _, id := range []string{g1.ID, k1.ID} {
		if _, err := e.s.GetWebhook(e.ctx, o.ID, id); err != nil {
			t.Errorf("pending delivery %s pruned: %v", id, err)
		}
	}
}

// testWebhookGone: a 410 Gone stops a URL for the agent that got it. Its
// pending deliveries there fail; later ones are recorded failed and never
// due, whether they come from a request's own URL or the agent's default;
// another agent's deliveries to the same URL go on; setting the agent's
// webhook URL again resumes them.
func testWebhookGone(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	b, _ := e.agent(o.ID, false, at(0))
	const url = "https://gone-for-a.example/hook"
	a1 := e.queue(a, url, at(0))
	b1 := e.queue(b, url, at(0))

	now := time.Now()
	n, err := e.s.WebhookGone(e.ctx, a.ID, url, "HTTP 410 Gone", now)
	e.must(err, "WebhookGone")
	if n != 1 {
		t.Errorf("WebhookGone failed %d pending deliveries; want 1 (agent a's)", n)
	}
	state := func(id string) *agentotp.WebhookDelivery {
		d, err := e.s.GetWebhook(e.ctx, o.ID, id)
		e.must(err, "GetWebhook")
		return d
	}
	if d := state(a1.ID); d.State != agentotp.DeliveryFailed {
		t.Errorf("agent a's pending delivery after the 410: %s", show(d))
	}
	if d := state(b1.ID); d.State != agentotp.DeliveryPending {
		t.Errorf("agent b's delivery to the same URL after a's 410: %s", show(d))
	}

	// Later deliveries of a to the URL: recorded, failed, never attempted.
	unsent := func(d *agentotp.WebhookDelivery) bool {
		return d.State == agentotp.DeliveryFailed && d.Attempts == 0 && strings.Contains(d.LastError, "410")
	}
	r := newRequest(a, at(time.Second))
	r.WebhookURL = url
	e.createRequest(r)
	if ds := e.deliveries(o.ID, r.ID); len(ds) != 1 || !unsent(ds[0]) {
		t.Errorf("a's new request to the gone URL: %s", show(ds))
	}
	e.must(e.s.SetAgentWebhookURL(e.ctx, o.ID, b.ID, url), "SetAgentWebhookURL")
	rb := newRequest(b, at(time.Second))
	e.createRequest(rb)
	if ds := e.deliveries(o.ID, rb.ID); len(ds) != 1 || ds[0].State != agentotp.DeliveryPending {
		t.Errorf("b's request to its default URL, the one gone for a: %s", show(ds))
	}
	got, err := e.s.ClaimWebhooks(e.ctx, now.Add(time.Minute), now.Add(2*time.Minute), 100)
	e.must(err, "ClaimWebhooks")
	for _, d := range got {
		if d.AgentID == a.ID {
			t.Errorf("claimed a delivery of a after the 410: %s", show(d))
		}
	}

	// The agent's default URL, once gone, stays off for every request.
	e.must(e.s.SetAgentWebhookURL(e.ctx, o.ID, a.ID, url), "SetAgentWebhookURL")
	rd := newRequest(a, at(2*time.Second))
	e.createRequest(rd)
	if ds := e.deliveries(o.ID, rd.ID); len(ds) != 1 || ds[0].State != agentotp.DeliveryPending {
		t.Fatalf("setting the URL again did not resume it: %s", show(ds))
	}
	if _, err := e.s.WebhookGone(e.ctx, a.ID, url, "HTTP 410 Gone", now); err != nil {
		t.Fatal(err)
	}
	rd2 := newRequest(a, at(3*time.Second))
	e.createRequest(rd2)
	if ds := e.deliveries(o.ID, rd2.ID); len(ds) != 1 || !unsent(ds[0]) {
		t.Errorf("a's default URL after its 410: %s", show(ds))
	}
	// Setting it again (even to "") resumes both uses of the URL.
	e.must(e.s.SetAgentWebhookURL(e.ctx, o.ID, a.ID, ""), "SetAgentWebhookURL")
	r2 := newRequest(a, at(4*time.Second))
	r2.WebhookURL = url
	e.createRequest(r2)
	if ds := e.deliveries(o.ID, r2.ID); len(ds) != 1 || ds[0].State != agentotp.DeliveryPending {
		t.Errorf("a's request after the owner set the URL again: %s", show(ds))
	}
}

func testWebhookSecret(t *testing.T, e *env) {
	o, _ := e.owner("Ada", at(0))
	other, _ := e.owner("Mallory", at(0))
	a, _ := e.agent(o.ID, false, at(0))
	secret := newToken(agentotp.PrefixWebhook)
	ae := entry(o.ID, agentotp.AuditAgentWebhookSecretRotated, at(time.Second))
	ae.AgentID = a.ID
	wantErr(t, e.s.RotateWebhookSecret(e.ctx, other.ID, a.ID, secret, ae), agentotp.ErrNotFound, "RotateWebhookSecret of another owner's agent")
	wantErr(t, e.s.RotateWebhookSecret(e.ctx, o.ID, newID("agt"), secret), agentotp.ErrNotFound, "RotateWebhookSecret of an unknown agent")
	e.must(e.s.RotateWebhookSecret(e.ctx, o.ID, a.ID, secret, ae), "RotateWebhookSecret")
	got, err := e.s.GetAgent(e.ctx, o.ID, a.ID)
	e.must(err, "GetAgent")
	if got.WebhookSecret != secret || got.KeyPrefix != a.KeyPrefix {
		t.Errorf("after RotateWebhookSecret: secret updated %v, key prefix %q", got.WebhookSecret == secret, got.KeyPrefix)
	}
	list, err := e.s.ListAgents(e.ctx, o.ID)
	e.must(err, "ListAgents")
	if len(list) != 1 || list[0].WebhookSecret != secret {
		t.Errorf("ListAgents does not return the rotated secret")
	}
}
