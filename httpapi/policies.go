package httpapi

import (
	"net/http"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
)

// policyInput is the body of POST and PUT /v1/owner/policies: the policy
// object without its read-only members. PUT replaces the whole policy;
// position 0 or absent keeps its place there (appends on POST), and
// enabled defaults to true.
type policyInput struct {
	Name       string                     `json:"name"`
	Position   int                        `json:"position"`
	Conditions *agentotp.PolicyConditions `json:"conditions"`
	Action     string                     `json:"action"`
	MaxPerHour *int                       `json:"max_per_hour"`
	Enabled    *bool                      `json:"enabled"`
}

func (in *policyInput) policy() agentotp.Policy {
	p := agentotp.Policy{Name: in.Name, Position: in.Position, Action: in.Action, MaxPerHour: in.MaxPerHour, Enabled: true}
	if in.Conditions != nil {
		p.Conditions = *in.Conditions
	}
	if in.Enabled != nil {
		p.Enabled = *in.Enabled
	}
	return p
}

// policyView is the policy object (docs/api.md, "Policies and settings").
func policyView(p *agentotp.Policy) agentotp.Policy {
	v := *p
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	return v
}

func (s *Server) ownerListPolicies(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	ps, err := s.svc.ListPolicies(r.Context(), p.OwnerID)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	out := listJSON[agentotp.Policy]{Data: make([]agentotp.Policy, 0, len(ps))}
	for _, pol := range ps {
		out.Data = append(out.Data, policyView(pol))
	}
	writeJSON(w, s.log, http.StatusOK, out)
}

func (s *Server) ownerCreatePolicy(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var in policyInput
	if err := decodeJSON(w, r, &in, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	pol, err := s.svc.CreatePolicy(r.Context(), p.OwnerID, in.policy())
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusCreated, policyView(pol))
}

func (s *Server) ownerGetPolicy(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	pol, err := s.svc.GetPolicy(r.Context(), p.OwnerID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, policyView(pol))
}

func (s *Server) ownerUpdatePolicy(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var in policyInput
	if err := decodeJSON(w, r, &in, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	pol, err := s.svc.UpdatePolicy(r.Context(), p.OwnerID, r.PathValue("id"), in.policy())
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, policyView(pol))
}

func (s *Server) ownerDeletePolicy(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	id := r.PathValue("id")
	pol, err := s.svc.GetPolicy(r.Context(), p.OwnerID, id)
	if err == nil {
		err = s.svc.DeletePolicy(r.Context(), p.OwnerID, id)
	}
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, policyView(pol))
}

// settingsJSON is the owner's settings object.
type settingsJSON struct {
	TimeZone  string     `json:"time_zone"`
	UpdatedAt *time.Time `json:"updated_at"`
}

func settingsView(st *agentotp.OwnerSettings) settingsJSON {
	tz := st.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	return settingsJSON{TimeZone: tz, UpdatedAt: timePtr(st.UpdatedAt)}
}

func (s *Server) ownerGetSettings(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	st, err := s.svc.OwnerSettings(r.Context(), p.OwnerID)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, settingsView(st))
}

func (s *Server) ownerPutSettings(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var in struct {
		TimeZone *string `json:"time_zone"`
	}
	if err := decodeJSON(w, r, &in, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	if in.TimeZone == nil {
		s.writeError(w, r, agentotp.FieldErr("time_zone", `is required (an IANA name such as "Europe/Berlin", or "UTC")`), 0)
		return
	}
	st, err := s.svc.SetTimeZone(r.Context(), p.OwnerID, *in.TimeZone)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, settingsView(st))
}

// telegramLinkJSON is the state of the owner's Telegram link.
type telegramLinkJSON struct {
	Linked   bool       `json:"linked"`
	ChatID   *int64     `json:"chat_id,omitempty"`
	Username *string    `json:"username,omitempty"`
	LinkedAt *time.Time `json:"linked_at,omitempty"`
}

func (s *Server) ownerTelegramLinkCode(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct{}
	if err := decodeJSON(w, r, &body, true); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	if s.cfg.TelegramKnown && s.metrics.TelegramState() == "" {
		s.writeError(w, r, agentotp.Errorf(agentotp.EConflict,
			"no Telegram bot runs on this relay, so no one would read /link: start it with `agentotp serve --telegram-token TOKEN` (or AGENTOTP_TELEGRAM_TOKEN), then ask for a link code"), 0)
		return
	}
	c, err := s.svc.NewTelegramLinkCode(r.Context(), p.OwnerID)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, s.log, http.StatusCreated, struct {
		Code      string    `json:"code"`
		ExpiresAt time.Time `json:"expires_at"`
		Command   string    `json:"command"`
	}{c.Code, c.ExpiresAt.UTC(), "/link " + c.Code})
}

func (s *Server) ownerGetTelegram(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	l, err := s.svc.TelegramLink(r.Context(), p.OwnerID)
	if agentotp.ErrorCode(err) == agentotp.ENotFound {
		writeJSON(w, s.log, http.StatusOK, telegramLinkJSON{})
		return
	}
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, telegramLinkJSON{Linked: true, ChatID: &l.ChatID, Username: strPtr(l.Username), LinkedAt: timePtr(l.LinkedAt)})
}

func (s *Server) ownerDeleteTelegram(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	if err := s.svc.UnlinkTelegram(r.Context(), p.OwnerID, "owner api"); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, telegramLinkJSON{})
}
