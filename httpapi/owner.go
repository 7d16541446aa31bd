package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/relay"
)

func queryInt(r *http.Request, name string, def, min, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, agentotp.FieldErr(name, "must be an integer between %d and %d", min, max)
	}
	return n, nil
}

type listJSON[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func (s *Server) ownerListRequests(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	limit, err := queryInt(r, "limit", 50, 1, 100)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	q := r.URL.Query()
	rs, next, err := s.svc.ListRequests(r.Context(), agentotp.RequestQuery{
		OwnerID: p.OwnerID, AgentID: q.Get("agent_id"), Status: agentotp.Status(q.Get("status")),
		Limit: limit, Cursor: q.Get("cursor"),
	})
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	out := listJSON[ownerRequestJSON]{Data: make([]ownerRequestJSON, 0, len(rs)), NextCursor: strPtr(next)}
	for _, req := range rs {
		out.Data = append(out.Data, s.ownerRequestView(r.Context(), req))
	}
	writeJSON(w, s.log, http.StatusOK, out)
}

func (s *Server) ownerGetRequest(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	req, err := s.svc.OwnerRequest(r.Context(), p.OwnerID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, s.ownerRequestView(r.Context(), req))
}

func (s *Server) ownerApprove(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct {
		Approval *approval.Signed `json:"approval"`
	}
	if err := decodeJSON(w, r, &body, true); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	req, err := s.svc.Decide(r.Context(), p.OwnerID, r.PathValue("id"), relay.Decision{Approve: true, Signed: body.Approval})
	if err != nil {
		s.writeError(w, r, err, conflictIfFinal(err))
		return
	}
	writeJSON(w, s.log, http.StatusOK, s.ownerRequestView(r.Context(), req))
}

func (s *Server) ownerDeny(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body decisionBody
	if err := decodeJSON(w, r, &body, true); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	req, err := s.svc.Decide(r.Context(), p.OwnerID, r.PathValue("id"), relay.Decision{Reason: body.Reason, Signed: body.Approval})
	if err != nil {
		s.writeError(w, r, err, conflictIfFinal(err))
		return
	}
	writeJSON(w, s.log, http.StatusOK, s.ownerRequestView(r.Context(), req))
}

func (s *Server) ownerCreateAgent(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct {
		Name string `json:"name"`
		Test bool   `json:"test"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	n, err := s.svc.CreateAgent(r.Context(), p.OwnerID, body.Name, body.Test)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusCreated, newAgentView(n))
}

func (s *Server) ownerListAgents(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	as, err := s.svc.ListAgents(r.Context(), p.OwnerID)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	out := listJSON[agentJSON]{Data: make([]agentJSON, 0, len(as))}
	for _, a := range as {
		out.Data = append(out.Data, agentView(a))
	}
	writeJSON(w, s.log, http.StatusOK, out)
}

func (s *Server) ownerRotateAgent(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct {
		GracePeriodSeconds int `json:"grace_period_seconds"`
	}
	if err := decodeJSON(w, r, &body, true); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	if body.GracePeriodSeconds < 0 || body.GracePeriodSeconds > int(relay.MaxRotateGrace/time.Second) {
		s.writeError(w, r, agentotp.FieldErr("grace_period_seconds", "must be between 0 and %d", int(relay.MaxRotateGrace.Seconds())), 0)
		return
	}
	n, err := s.svc.RotateAgent(r.Context(), p.OwnerID, r.PathValue("id"), time.Duration(body.GracePeriodSeconds)*time.Second)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, newAgentView(n))
}

func (s *Server) ownerRevokeAgent(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	a, err := s.svc.RevokeAgent(r.Context(), p.OwnerID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, agentView(a))
}

func (s *Server) ownerCreateSource(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	n, err := s.svc.CreateSource(r.Context(), p.OwnerID, body.Name, body.Kind)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusCreated, struct {
		Source sourceJSON `json:"source"`
		Token  string     `json:"token"`
	}{sourceView(n.Source), n.Token})
}

func (s *Server) ownerListSources(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	ss, err := s.svc.ListSources(r.Context(), p.OwnerID)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	views, err := s.sourceViews(r.Context(), p.OwnerID, ss) // with IMAP status (imap.go)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, listJSON[sourceJSON]{Data: views})
}

func (s *Server) ownerRevokeSource(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	src, err := s.svc.RevokeSource(r.Context(), p.OwnerID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, sourceView(src))
}

func (s *Server) auditQuery(r *http.Request, p *relay.Principal) (agentotp.AuditQuery, error) {
	q := agentotp.AuditQuery{OwnerID: p.OwnerID, RequestID: r.URL.Query().Get("request_id"), Action: r.URL.Query().Get("action")}
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		return q, err
	}
	q.AfterSeq = int64(after)
	return q, nil
}

func (s *Server) ownerAudit(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	q, err := s.auditQuery(r, p)
	if err == nil {
		q.Limit, err = queryInt(r, "limit", 100, 1, 1000)
	}
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	es, err := s.svc.ListAudit(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	if es == nil {
		es = []agentotp.AuditEntry{}
	}
	out := listJSON[agentotp.AuditEntry]{Data: es}
	if len(es) == q.Limit {
		next := strconv.FormatInt(es[len(es)-1].Seq, 10)
		out.NextCursor = &next
	}
	writeJSON(w, s.log, http.StatusOK, out)
}

func (s *Server) ownerAuditExport(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "jsonl"
	}
	if format != "jsonl" && format != "csv" {
		s.writeError(w, r, agentotp.FieldErr("format", `must be "jsonl" or "csv"`), 0)
		return
	}
	q, err := s.auditQuery(r, p)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	es, err := s.svc.ListAudit(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err, 0)
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

func (s *Server) ownerAuditVerify(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var head *agentotp.AuditHead
	if v := r.URL.Query().Get("head"); v != "" {
		h, err := agentotp.ParseAuditHead(v)
		if err != nil {
			s.writeError(w, r, err, 0)
			return
		}
		head = &h
	}
	rep, err := s.svc.VerifyAuditHead(r.Context(), p.OwnerID, head)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, rep)
}
