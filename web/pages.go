package web

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/relay"
)

// flashes are the fixed messages a redirect after a change may ask for
// (?done=…); nothing of the query is shown as such.
var flashes = map[string]string{
	"approved":        "Approved. The relay now waits for the message and hands the sealed code to the agent.",
	"denied":          "Denied. The agent was told.",
	"agent_revoked":   "The agent was revoked; its keys stop working now.",
	"source_revoked":  "The source was revoked; its token stops working now.",
	"policy_saved":    "The policy was saved.",
	"policy_deleted":  "The policy was deleted.",
	"policy_moved":    "The order of the policies was changed.",
	"approved_signed": "Approved and signed with your passkey: edges that check your signature will seal the code for this request only.",
	"passkey_added":   "The passkey was added. Renew your edges' trust files (agentotp owner trust) so they accept its signatures.",
	"passkey_removed": "The key was removed: decisions it signs are refused from now on.",
}

func flash(r *http.Request) string { return flashes[r.URL.Query().Get("done")] }

// reqItem is a request with its agent's name, for lists.
type reqItem struct {
	R         *agentotp.Request
	Agent     string
	AgentTest bool
	DecidedBy decider
}

// agentNames maps the owner's agent ids to agents.
func (s *Server) agentMap(ctx context.Context, ownerID string) (map[string]*agentotp.Agent, []*agentotp.Agent, error) {
	as, err := s.svc.ListAgents(ctx, ownerID)
	if err != nil {
		return nil, nil, err
	}
	m := make(map[string]*agentotp.Agent, len(as))
	for _, a := range as {
		m[a.ID] = a
	}
	return m, as, nil
}

func items(rs []*agentotp.Request, agents map[string]*agentotp.Agent, policies map[string]string) []reqItem {
	out := make([]reqItem, 0, len(rs))
	for _, r := range rs {
		it := reqItem{R: r, Agent: r.AgentID, DecidedBy: decidedBy(r.DecidedBy, policies)}
		if a, ok := agents[r.AgentID]; ok {
			it.Agent, it.AgentTest = a.Name, a.Test
		}
		out = append(out, it)
	}
	return out
}

// pendingView is the pending page: what waits for the owner, and what is
// under way.
type pendingView struct {
	Pending []reqItem
	Active  []reqItem
}

func (s *Server) loadPending(ctx context.Context, ownerID string) (*pendingView, error) {
	agents, _, err := s.agentMap(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	now := s.svc.Now()
	list := func(st agentotp.Status, limit int) ([]*agentotp.Request, error) {
		rs, _, err := s.svc.ListRequests(ctx, agentotp.RequestQuery{OwnerID: ownerID, Status: st, Limit: limit})
		if err != nil {
			return nil, err
		}
		// Not yet swept: the sweeper ends them within seconds.
		return slices.DeleteFunc(rs, func(r *agentotp.Request) bool { return r.ExpiredAt(now) }), nil
	}
	pending, err := list(agentotp.StatusPending, 100)
	if err != nil {
		return nil, err
	}
	approved, err := list(agentotp.StatusApproved, 50)
	if err != nil {
		return nil, err
	}
	received, err := list(agentotp.StatusReceived, 50)
	if err != nil {
		return nil, err
	}
	active := append(approved, received...)
	slices.SortFunc(active, func(a, b *agentotp.Request) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return &pendingView{Pending: items(pending, agents, nil), Active: items(active, agents, nil)}, nil
}

func (s *Server) pendingPage(w http.ResponseWriter, r *http.Request, sess *session) {
	v, err := s.loadPending(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "pending", &page{Title: "Pending requests", Nav: "pending", CSRF: sess.csrf, Live: true, Refresh: true, Flash: flash(r), Data: v})
}

// requestView is one request with everything an approver needs to judge
// it.
type requestView struct {
	R          *agentotp.Request
	Agent      *agentotp.Agent
	Filter     string
	Kinds      string   // message kinds the filter allows
	Sources    []string // the owner's capture sources that can feed it
	Pending    bool
	Trail      []auditRow
	DecidedBy  decider
	DenyReason string // the form's reason, kept after an error
	// Signed says how the decision was signed, in words ("" undecided).
	Signed string
	// Passkeys reports that the owner has a passkey to sign with.
	Passkeys bool
}

func (s *Server) loadRequest(ctx context.Context, ownerID, id string) (*requestView, error) {
	req, err := s.svc.OwnerRequest(ctx, ownerID, id)
	if err != nil {
		return nil, err
	}
	v := &requestView{R: req, Filter: req.Filter.Describe(), Pending: req.Status == agentotp.StatusPending}
	agents, _, err := s.agentMap(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	v.Agent = agents[req.AgentID]
	if a, err := s.svc.Approval(ctx, req); err != nil {
		return nil, err
	} else if a != nil {
		v.Signed = passkeyLabel(a.Method)
	}
	if v.Pending {
		ks, err := s.svc.ListSigningKeys(ctx, ownerID)
		if err != nil {
			return nil, err
		}
		v.Passkeys = slices.ContainsFunc(ks, func(k *agentotp.SigningKey) bool { return k.Active() && k.Method == approval.MethodWebAuthn })
	}
	if len(req.Filter.Sources) == 0 {
		v.Kinds = "SMS or email"
	} else {
		v.Kinds = strings.ToUpper(strings.Join(agentotp.ChannelNames(req.Filter.Sources), " or "))
		v.Kinds = strings.ReplaceAll(v.Kinds, "EMAIL", "email")
	}
	srcs, err := s.svc.ListSources(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	for _, src := range srcs {
		if !src.Active() {
			continue
		}
		if len(req.Filter.Sources) == 0 || slices.ContainsFunc(req.Filter.Sources, src.Allows) {
			v.Sources = append(v.Sources, fmt.Sprintf("%s (%s)", src.Name, src.Kind))
		}
	}
	trail, err := s.svc.ListAudit(ctx, agentotp.AuditQuery{OwnerID: ownerID, RequestID: req.ID})
	if err != nil {
		return nil, err
	}
	policies, err := s.policyNames(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	v.DecidedBy = decidedBy(req.DecidedBy, policies)
	n := names{agents: agents, sources: srcs, policies: policies}
	for _, e := range trail {
		v.Trail = append(v.Trail, n.row(e))
	}
	return v, nil
}

func (s *Server) requestPage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showRequest(w, r, sess, http.StatusOK, "", "")
}

func (s *Server) showRequest(w http.ResponseWriter, r *http.Request, sess *session, status int, errMsg, denyReason string) {
	v, err := s.loadRequest(r.Context(), sess.OwnerID, r.PathValue("id"))
	if err != nil {
		if agentotp.ErrorCode(err) == agentotp.EOTPNotFound {
			s.render(w, r, http.StatusNotFound, "error", &page{Title: "Not found", Nav: "pending", CSRF: sess.csrf,
				Data: errorView{"Request not found", "There is no request with this id among yours."}})
			return
		}
		s.serverError(w, r, err)
		return
	}
	v.DenyReason = denyReason
	s.render(w, r, status, "request", &page{Title: "Request from " + agentName(v), Nav: "pending", CSRF: sess.csrf, Live: true,
		Flash: flash(r), Error: errMsg, Data: v})
}

func agentName(v *requestView) string {
	if v.Agent != nil {
		return v.Agent.Name
	}
	return v.R.AgentID
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request, sess *session) {
	s.decide(w, r, sess, true, "")
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request, sess *session) {
	s.decide(w, r, sess, false, strings.TrimSpace(r.PostFormValue("reason")))
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request, sess *session, approve bool, reason string) {
	id := r.PathValue("id")
	_, err := s.svc.Decide(r.Context(), sess.Session.OwnerID, id, relay.Decision{Approve: approve, Reason: reason, Via: relay.ViaDashboard, Session: sess.Session.ID})
	if err != nil {
		switch agentotp.ErrorCode(err) {
		case agentotp.EOTPNotFound:
			s.showRequest(w, r, sess, http.StatusNotFound, "", "")
		case agentotp.EInternal:
			s.serverError(w, r, err)
		case agentotp.EValidation:
			s.showRequest(w, r, sess, http.StatusUnprocessableEntity, userMessage(err), reason)
		default: // decided already, expired, cancelled
			s.showRequest(w, r, sess, http.StatusConflict, "This request can no longer be decided: "+userMessage(err), "")
		}
		return
	}
	done := "denied"
	if approve {
		done = "approved"
	}
	http.Redirect(w, r, "/r/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
}

// historyView is a page of past requests.
type historyView struct {
	Items    []reqItem
	Agents   []*agentotp.Agent
	Statuses []agentotp.Status
	Status   string
	AgentID  string
	Next     string // URL of the next page, "" at the end
}

func (s *Server) historyPage(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	v := &historyView{Statuses: agentotp.Statuses, Status: q.Get("status"), AgentID: q.Get("agent")}
	agents, list, err := s.agentMap(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v.Agents = list
	rs, next, err := s.svc.ListRequests(r.Context(), agentotp.RequestQuery{
		OwnerID: sess.OwnerID, Status: agentotp.Status(v.Status), AgentID: v.AgentID, Limit: 50, Cursor: q.Get("cursor"),
	})
	if err != nil {
		if agentotp.ErrorCode(err) == agentotp.EValidation {
			s.render(w, r, http.StatusUnprocessableEntity, "history", &page{Title: "History", Nav: "history", CSRF: sess.csrf, Error: userMessage(err), Data: v})
			return
		}
		s.serverError(w, r, err)
		return
	}
	policies, err := s.policyNames(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v.Items = items(rs, agents, policies)
	if next != "" {
		nq := url.Values{"cursor": {next}}
		if v.Status != "" {
			nq.Set("status", v.Status)
		}
		if v.AgentID != "" {
			nq.Set("agent", v.AgentID)
		}
		v.Next = "/history?" + nq.Encode()
	}
	s.render(w, r, http.StatusOK, "history", &page{Title: "History", Nav: "history", CSRF: sess.csrf, Data: v})
}

type agentsView struct {
	Agents []*agentotp.Agent
	Name   string
	Test   bool
}

func (s *Server) agentsPage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showAgents(w, r, sess, http.StatusOK, "", agentsView{})
}

func (s *Server) showAgents(w http.ResponseWriter, r *http.Request, sess *session, status int, errMsg string, v agentsView) {
	_, list, err := s.agentMap(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v.Agents = list
	s.render(w, r, status, "agents", &page{Title: "Agents", Nav: "agents", CSRF: sess.csrf, Flash: flash(r), Error: errMsg, Data: v})
}

// secretView shows a key or token once.
type secretView struct {
	Heading string
	What    string
	Secrets []secretItem
	// BaseURL, on an agent's page, is the relay's URL for
	// AGENT_OTP_BASE_URL.
	BaseURL string
	Back    string
}

type secretItem struct {
	Label, Value, Hint string
}

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request, sess *session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	test := r.PostFormValue("test") != ""
	n, err := s.svc.CreateAgent(r.Context(), sess.OwnerID, name, test)
	if err != nil {
		if agentotp.ErrorCode(err) == agentotp.EValidation {
			s.showAgents(w, r, sess, http.StatusUnprocessableEntity, userMessage(err), agentsView{Name: name, Test: test})
			return
		}
		s.serverError(w, r, err)
		return
	}
	s.showAgentSecrets(w, r, sess, http.StatusCreated, "Agent “"+n.Agent.Name+"” created", n)
}

func (s *Server) showAgentSecrets(w http.ResponseWriter, r *http.Request, sess *session, status int, heading string, n *relay.NewAgent) {
	kind := "live"
	if n.Agent.Test {
		kind = "test: its requests are approved at once and never see real messages"
	}
	s.render(w, r, status, "secret", &page{Title: heading, Nav: "agents", CSRF: sess.csrf, Data: secretView{
		Heading: heading,
		What:    "Agent " + n.Agent.ID + " (" + kind + "). Copy the key into the agent's configuration now: it is shown only this once, and the relay keeps only its hash.",
		Secrets: []secretItem{
			{"API key", n.APIKey, "AGENT_OTP_API_KEY in the agent's environment"},
			{"Webhook signing secret", n.WebhookSecret, "AGENT_OTP_WEBHOOK_SECRET: verifies the relay's webhooks (Standard Webhooks)"},
		},
		BaseURL: s.baseURL(r),
		Back:    "/agents",
	}})
}

// baseURL is the relay's URL as an agent reaches it: the configured
// public URL, else the address this page was asked at.
func (s *Server) baseURL(r *http.Request) string {
	if u := strings.TrimRight(s.cfg.PublicURL, "/"); u != "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) rotateAgent(w http.ResponseWriter, r *http.Request, sess *session) {
	grace, err := strconv.Atoi(r.PostFormValue("grace"))
	if err != nil {
		grace = -1 // refused by the relay with its own message
	}
	n, err := s.svc.RotateAgent(r.Context(), sess.OwnerID, r.PathValue("id"), time.Duration(grace)*time.Second)
	if err != nil {
		s.agentError(w, r, sess, err)
		return
	}
	s.showAgentSecrets(w, r, sess, http.StatusOK, "New key for “"+n.Agent.Name+"”", n)
}

func (s *Server) revokeAgent(w http.ResponseWriter, r *http.Request, sess *session) {
	if _, err := s.svc.RevokeAgent(r.Context(), sess.OwnerID, r.PathValue("id")); err != nil {
		s.agentError(w, r, sess, err)
		return
	}
	http.Redirect(w, r, "/agents?done=agent_revoked", http.StatusSeeOther)
}

func (s *Server) agentError(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	switch agentotp.ErrorCode(err) {
	case agentotp.ENotFound:
		s.showAgents(w, r, sess, http.StatusNotFound, "No such agent.", agentsView{})
	case agentotp.EValidation, agentotp.EConflict:
		s.showAgents(w, r, sess, http.StatusUnprocessableEntity, userMessage(err), agentsView{})
	default:
		s.serverError(w, r, err)
	}
}

type sourceRow struct {
	*agentotp.Source
	Connector string
}

type sourcesView struct {
	Sources       []sourceRow
	ShowConnector bool
	Name, Kind    string
}

func (s *Server) sourcesPage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showSources(w, r, sess, http.StatusOK, "", sourcesView{Kind: agentotp.SourceKindSMS})
}

func (s *Server) showSources(w http.ResponseWriter, r *http.Request, sess *session, status int, errMsg string, v sourcesView) {
	srcs, err := s.svc.ListSources(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v.ShowConnector = s.cfg.SourceStatus != nil
	for _, src := range srcs {
		row := sourceRow{Source: src}
		if v.ShowConnector {
			if st, ok := s.cfg.SourceStatus(r.Context(), src); ok {
				row.Connector = st
			}
		}
		v.Sources = append(v.Sources, row)
	}
	s.render(w, r, status, "sources", &page{Title: "Sources", Nav: "sources", CSRF: sess.csrf, Flash: flash(r), Error: errMsg, Data: v})
}

func (s *Server) createSource(w http.ResponseWriter, r *http.Request, sess *session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	kind := r.PostFormValue("kind")
	n, err := s.svc.CreateSource(r.Context(), sess.OwnerID, name, kind)
	if err != nil {
		if agentotp.ErrorCode(err) == agentotp.EValidation {
			s.showSources(w, r, sess, http.StatusUnprocessableEntity, userMessage(err), sourcesView{Name: name, Kind: kind})
			return
		}
		s.serverError(w, r, err)
		return
	}
	heading := "Source “" + n.Source.Name + "” created"
	s.render(w, r, http.StatusCreated, "secret", &page{Title: heading, Nav: "sources", CSRF: sess.csrf, Data: secretView{
		Heading: heading,
		What:    "Source " + n.Source.ID + " (" + n.Source.Kind + "). Give this token to the phone gateway, mail forwarder or `agentotp ingest`: it is shown only this once.",
		Secrets: []secretItem{{"Source token", n.Token, "Authorization: Bearer … on POST /v1/messages"}},
		Back:    "/sources",
	}})
}

func (s *Server) revokeSource(w http.ResponseWriter, r *http.Request, sess *session) {
	if _, err := s.svc.RevokeSource(r.Context(), sess.OwnerID, r.PathValue("id")); err != nil {
		switch agentotp.ErrorCode(err) {
		case agentotp.ENotFound:
			s.showSources(w, r, sess, http.StatusNotFound, "No such source.", sourcesView{})
		default:
			s.serverError(w, r, err)
		}
		return
	}
	http.Redirect(w, r, "/sources?done=source_revoked", http.StatusSeeOther)
}

// auditPageSize is the number of entries on one audit page.
const auditPageSize = 100

// names turns ids into the names an owner gave them.
type names struct {
	agents   map[string]*agentotp.Agent
	sources  []*agentotp.Source
	policies map[string]string // id -> name
}

func (n names) agent(id string) string {
	if a, ok := n.agents[id]; ok {
		return a.Name
	}
	return id
}

func (n names) source(id string) string {
	for _, s := range n.sources {
		if s.ID == id {
			return s.Name
		}
	}
	return id
}

// actor names who acted: "owner", "agent signup-bot", "source phone".
func (n names) actor(a string) string {
	switch {
	case strings.HasPrefix(a, "agent:"):
		return "agent " + n.agent(strings.TrimPrefix(a, "agent:"))
	case strings.HasPrefix(a, "source:"):
		return "source " + n.source(strings.TrimPrefix(a, "source:"))
	case strings.HasPrefix(a, "policy:"), a == agentotp.DecidedByTestKey:
		return decidedBy(a, n.policies).Words
	}
	return a
}

// auditRow is an audit entry as the pages show it.
type auditRow struct {
	agentotp.AuditEntry
	Who     string
	Subject string // the agent's or source's name, for entries about one
}

func (n names) row(e agentotp.AuditEntry) auditRow {
	if _, ok := e.Details["statement"]; ok {
		// A decision's statement and signature are long base64; the page
		// shows their hash and how it was signed (the export keeps all).
		d := maps.Clone(e.Details)
		delete(d, "statement")
		delete(d, "signature")
		e.Details = d
	}
	r := auditRow{AuditEntry: e, Who: n.actor(e.Actor)}
	switch {
	case e.RequestID != "":
	case e.AgentID != "":
		r.Subject = "agent " + n.agent(e.AgentID)
	case e.SourceID != "":
		r.Subject = "source " + n.source(e.SourceID)
	}
	return r
}

type auditView struct {
	Entries   []auditRow
	Report    *relay.AuditReport
	Actions   []string
	Action    string
	RequestID string
	Page      int
	PrevURL   string
	NextURL   string
	ExportURL string // without format
	Total     int
}

func auditQuery(r *http.Request, ownerID string) agentotp.AuditQuery {
	q := r.URL.Query()
	return agentotp.AuditQuery{OwnerID: ownerID, Action: q.Get("action"), RequestID: strings.TrimSpace(q.Get("request_id"))}
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, sess *session) {
	aq := auditQuery(r, sess.OwnerID)
	es, err := s.svc.ListAudit(r.Context(), aq)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	rep, err := s.svc.VerifyAudit(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	slices.Reverse(es) // newest first
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pageNo = max(1, pageNo)
	v := &auditView{Report: rep, Action: aq.Action, RequestID: aq.RequestID, Page: pageNo, Total: len(es)}
	for a := range actionLabels {
		v.Actions = append(v.Actions, a)
	}
	slices.Sort(v.Actions)
	filter := url.Values{}
	if aq.Action != "" {
		filter.Set("action", aq.Action)
	}
	if aq.RequestID != "" {
		filter.Set("request_id", aq.RequestID)
	}
	pageURL := func(n int) string {
		q := url.Values{}
		for k, vs := range filter {
			q[k] = vs
		}
		q.Set("page", strconv.Itoa(n))
		return "/audit?" + q.Encode()
	}
	agents, _, err := s.agentMap(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	srcs, err := s.svc.ListSources(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	policies, err := s.policyNames(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	n := names{agents: agents, sources: srcs, policies: policies}
	start := (pageNo - 1) * auditPageSize
	if start < len(es) {
		for _, e := range es[start:min(len(es), start+auditPageSize)] {
			v.Entries = append(v.Entries, n.row(e))
		}
	}
	if pageNo > 1 {
		v.PrevURL = pageURL(pageNo - 1)
	}
	if start+auditPageSize < len(es) {
		v.NextURL = pageURL(pageNo + 1)
	}
	v.ExportURL = "/audit/export?" + filter.Encode()
	if len(filter) > 0 {
		v.ExportURL += "&"
	}
	s.render(w, r, http.StatusOK, "audit", &page{Title: "Audit log", Nav: "audit", CSRF: sess.csrf, Data: v})
}

// auditExport downloads the (filtered) audit log as JSON Lines or CSV, in
// the owner API's format, so that `agentotp audit verify`-style tools can
// check the chain.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, sess *session) {
	format := r.URL.Query().Get("format")
	if format != "jsonl" && format != "csv" {
		s.renderError(w, r, http.StatusUnprocessableEntity, "Unknown format", "Export as jsonl or csv.")
		return
	}
	es, err := s.svc.ListAudit(r.Context(), auditQuery(r, sess.OwnerID))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if format == "jsonl" {
		w.Header().Set("Content-Type", "application/jsonl")
		w.Header().Set("Content-Disposition", `attachment; filename="agentotp-audit.jsonl"`)
		_ = agentotp.WriteAuditJSONL(w, es)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="agentotp-audit.csv"`)
	_ = agentotp.WriteAuditCSV(w, es)
}
