package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/agentotp/agentotp"
)

func (s *Server) policyRoutes(mux *http.ServeMux) {
	mux.Handle("GET /policies", s.authed(s.policiesPage))
	mux.Handle("GET /policies/new", s.authed(s.newPolicyPage))
	mux.Handle("POST /policies", s.authed(s.createPolicy))
	mux.Handle("GET /policies/{id}", s.authed(s.editPolicyPage))
	mux.Handle("POST /policies/{id}", s.authed(s.updatePolicy))
	mux.Handle("POST /policies/{id}/move", s.authed(s.movePolicy))
	mux.Handle("POST /policies/{id}/delete", s.authed(s.deletePolicy))
	mux.Handle("POST /settings/time-zone", s.authed(s.setTimeZone))
}

// policyRow is a policy with its conditions in plain words.
type policyRow struct {
	*agentotp.Policy
	When  string
	First bool
	Last  bool
}

type policiesView struct {
	Policies []policyRow
	TimeZone string
}

// describePolicy renders a policy's conditions in plain words.
func describePolicy(p *agentotp.Policy, agents map[string]*agentotp.Agent) string {
	c := p.Conditions
	var parts []string
	if c.AgentID != "" {
		name := c.AgentID
		if a, ok := agents[c.AgentID]; ok {
			name = a.Name
		}
		parts = append(parts, "agent "+name)
	} else {
		parts = append(parts, "any agent")
	}
	if len(c.Sources) > 0 {
		parts = append(parts, "only "+strings.Join(agentotp.ChannelNames(c.Sources), " or "))
	}
	if c.SenderPattern != "" {
		parts = append(parts, "sender pattern within "+c.SenderPattern)
	}
	if c.ReasonPattern != "" {
		parts = append(parts, "reason matching /"+c.ReasonPattern+"/")
	}
	if c.Hours != "" {
		parts = append(parts, "between "+c.Hours)
	}
	return strings.Join(parts, ", ")
}

func (s *Server) policiesPage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showPolicies(w, r, sess, http.StatusOK, "")
}

func (s *Server) showPolicies(w http.ResponseWriter, r *http.Request, sess *session, status int, errMsg string) {
	ps, err := s.svc.ListPolicies(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	agents, _, err := s.agentMap(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	st, err := s.svc.OwnerSettings(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := &policiesView{TimeZone: st.TimeZone}
	for i, p := range ps {
		v.Policies = append(v.Policies, policyRow{Policy: p, When: describePolicy(p, agents), First: i == 0, Last: i == len(ps)-1})
	}
	s.render(w, r, status, "policies", &page{Title: "Policies", Nav: "policies", CSRF: sess.csrf, Flash: flash(r), Error: errMsg, Data: v})
}

// policyForm is the create/edit form.
type policyForm struct {
	ID         string // "" for a new policy
	Name       string
	Action     string
	AgentID    string
	SMS, Email bool
	Sender     string
	Reason     string
	Hours      string
	MaxPerHour string
	Position   string
	Enabled    bool
	Agents     []*agentotp.Agent
	Fields     map[string]string // field errors by form field
}

func formOf(p *agentotp.Policy) policyForm {
	f := policyForm{ID: p.ID, Name: p.Name, Action: p.Action, AgentID: p.Conditions.AgentID,
		SMS:    slices.Contains(p.Conditions.Sources, agentotp.ChannelSMS),
		Email:  slices.Contains(p.Conditions.Sources, agentotp.ChannelEmail),
		Sender: p.Conditions.SenderPattern, Reason: p.Conditions.ReasonPattern, Hours: p.Conditions.Hours,
		Position: strconv.Itoa(p.Position), Enabled: p.Enabled}
	if p.MaxPerHour != nil {
		f.MaxPerHour = strconv.Itoa(*p.MaxPerHour)
	}
	return f
}

// parsePolicyForm reads the form into a policy; a field that is not even
// a number is reported at once.
func parsePolicyForm(r *http.Request) (policyForm, agentotp.Policy, map[string]string) {
	f := policyForm{
		ID:      r.PathValue("id"),
		Name:    strings.TrimSpace(r.PostFormValue("name")),
		Action:  r.PostFormValue("action"),
		AgentID: r.PostFormValue("agent_id"),
		SMS:     r.PostFormValue("sms") != "", Email: r.PostFormValue("email") != "",
		Sender: strings.TrimSpace(r.PostFormValue("sender_pattern")), Reason: r.PostFormValue("reason_pattern"),
		Hours: strings.TrimSpace(r.PostFormValue("hours")), MaxPerHour: strings.TrimSpace(r.PostFormValue("max_per_hour")),
		Position: strings.TrimSpace(r.PostFormValue("position")), Enabled: r.PostFormValue("enabled") != "",
	}
	p := agentotp.Policy{Name: f.Name, Action: f.Action, Enabled: f.Enabled,
		Conditions: agentotp.PolicyConditions{AgentID: f.AgentID, SenderPattern: f.Sender, ReasonPattern: f.Reason, Hours: f.Hours}}
	if f.SMS {
		p.Conditions.Sources = append(p.Conditions.Sources, agentotp.ChannelSMS)
	}
	if f.Email {
		p.Conditions.Sources = append(p.Conditions.Sources, agentotp.ChannelEmail)
	}
	bad := map[string]string{}
	if f.MaxPerHour != "" {
		n, err := strconv.Atoi(f.MaxPerHour)
		if err != nil {
			bad["max_per_hour"] = "must be a whole number"
		} else {
			p.MaxPerHour = &n
		}
	}
	if f.Position != "" {
		n, err := strconv.Atoi(f.Position)
		if err != nil {
			bad["position"] = "must be a whole number"
		} else {
			p.Position = n
		}
	}
	return f, p, bad
}

// formField maps the relay's field names to the form's.
func formField(field string) string {
	f := strings.TrimPrefix(field, "conditions.")
	if i := strings.IndexByte(f, '['); i >= 0 {
		f = f[:i]
	}
	return f
}

func (s *Server) showPolicyForm(w http.ResponseWriter, r *http.Request, sess *session, status int, f policyForm, errMsg string) {
	_, list, err := s.agentMap(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	f.Agents = list
	title := "New policy"
	if f.ID != "" {
		title = "Edit policy"
	}
	s.render(w, r, status, "policy", &page{Title: title, Nav: "policies", CSRF: sess.csrf, Error: errMsg, Data: f})
}

func (s *Server) newPolicyPage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showPolicyForm(w, r, sess, http.StatusOK, policyForm{Action: agentotp.PolicyAsk, Enabled: true}, "")
}

func (s *Server) editPolicyPage(w http.ResponseWriter, r *http.Request, sess *session) {
	p, err := s.svc.GetPolicy(r.Context(), sess.OwnerID, r.PathValue("id"))
	if err != nil {
		s.policyError(w, r, sess, err, policyForm{})
		return
	}
	s.showPolicyForm(w, r, sess, http.StatusOK, formOf(p), "")
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request, sess *session) {
	f, p, bad := parsePolicyForm(r)
	f.ID = ""
	if len(bad) > 0 {
		f.Fields = bad
		s.showPolicyForm(w, r, sess, http.StatusUnprocessableEntity, f, "Please correct the marked fields.")
		return
	}
	if _, err := s.svc.CreatePolicy(r.Context(), sess.OwnerID, p); err != nil {
		s.policyError(w, r, sess, err, f)
		return
	}
	http.Redirect(w, r, "/policies?done=policy_saved", http.StatusSeeOther)
}

func (s *Server) updatePolicy(w http.ResponseWriter, r *http.Request, sess *session) {
	f, p, bad := parsePolicyForm(r)
	if len(bad) > 0 {
		f.Fields = bad
		s.showPolicyForm(w, r, sess, http.StatusUnprocessableEntity, f, "Please correct the marked fields.")
		return
	}
	if _, err := s.svc.UpdatePolicy(r.Context(), sess.OwnerID, f.ID, p); err != nil {
		s.policyError(w, r, sess, err, f)
		return
	}
	http.Redirect(w, r, "/policies?done=policy_saved", http.StatusSeeOther)
}

// movePolicy moves a policy one place up or down.
func (s *Server) movePolicy(w http.ResponseWriter, r *http.Request, sess *session) {
	p, err := s.svc.GetPolicy(r.Context(), sess.OwnerID, r.PathValue("id"))
	if err != nil {
		s.policyError(w, r, sess, err, policyForm{})
		return
	}
	switch r.PostFormValue("direction") {
	case "up":
		if p.Position > 1 {
			p.Position--
		}
	case "down":
		p.Position++ // beyond the end stays at the end
	default:
		s.showPolicies(w, r, sess, http.StatusUnprocessableEntity, "Move up or down.")
		return
	}
	if _, err := s.svc.UpdatePolicy(r.Context(), sess.OwnerID, p.ID, *p); err != nil {
		s.policyError(w, r, sess, err, policyForm{})
		return
	}
	http.Redirect(w, r, "/policies?done=policy_moved", http.StatusSeeOther)
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request, sess *session) {
	if err := s.svc.DeletePolicy(r.Context(), sess.OwnerID, r.PathValue("id")); err != nil {
		s.policyError(w, r, sess, err, policyForm{})
		return
	}
	http.Redirect(w, r, "/policies?done=policy_deleted", http.StatusSeeOther)
}

func (s *Server) setTimeZone(w http.ResponseWriter, r *http.Request, sess *session) {
	if _, err := s.svc.SetTimeZone(r.Context(), sess.OwnerID, strings.TrimSpace(r.PostFormValue("time_zone"))); err != nil {
		s.policyError(w, r, sess, err, policyForm{})
		return
	}
	http.Redirect(w, r, "/policies?done=policy_saved", http.StatusSeeOther)
}

// policyError shows a refused change: on the form when there is one, with
// the relay's field errors next to their fields.
func (s *Server) policyError(w http.ResponseWriter, r *http.Request, sess *session, err error, f policyForm) {
	var e *agentotp.Error
	switch agentotp.ErrorCode(err) {
	case agentotp.ENotFound:
		s.showPolicies(w, r, sess, http.StatusNotFound, "No such policy.")
	case agentotp.EValidation, agentotp.EConflict:
		if f.Name == "" && f.Action == "" {
			s.showPolicies(w, r, sess, http.StatusUnprocessableEntity, userMessage(err))
			return
		}
		f.Fields = map[string]string{}
		if errors.As(err, &e) {
			for _, fe := range e.Fields {
				f.Fields[formField(fe.Field)] = fe.Message
			}
		}
		msg := "Please correct the marked fields."
		if len(f.Fields) == 0 {
			msg = userMessage(err)
		}
		s.showPolicyForm(w, r, sess, http.StatusUnprocessableEntity, f, msg)
	default:
		s.serverError(w, r, fmt.Errorf("policy: %w", err))
	}
}
