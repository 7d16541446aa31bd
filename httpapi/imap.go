package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
)

// imapRoutes registers the owner's endpoints for a source's IMAP mailbox.
func (s *Server) imapRoutes(owner func(authedHandler) http.Handler) {
	s.mux.Handle("GET /v1/owner/sources/{id}", owner(s.ownerGetSource))
	s.mux.Handle("PUT /v1/owner/sources/{id}/imap", owner(s.ownerPutSourceIMAP))
	s.mux.Handle("DELETE /v1/owner/sources/{id}/imap", owner(s.ownerDeleteSourceIMAP))
}

// imapJSON is a source's IMAP settings and connector status. It never
// holds the password.
type imapJSON struct {
	Host                string         `json:"host"`
	Port                int            `json:"port"`
	TLSMode             string         `json:"tls_mode"`
	Username            string         `json:"username"`
	Mailbox             string         `json:"mailbox"`
	PollIntervalSeconds int            `json:"poll_interval_seconds"`
	MarkAsRead          bool           `json:"mark_as_read"`
	PasswordSet         bool           `json:"password_set"`
	UpdatedAt           time.Time      `json:"updated_at"`
	Status              imapStatusJSON `json:"status"`
}

// imapStatusJSON is what the connector last reported.
type imapStatusJSON struct {
	State           string     `json:"state"`
	LastError       *string    `json:"last_error"`
	LastErrorAt     *time.Time `json:"last_error_at"`
	LastConnectedAt *time.Time `json:"last_connected_at"`
	LastMessageAt   *time.Time `json:"last_message_at"`
	UIDValidity     uint32     `json:"uid_validity"`
	LastUID         uint32     `json:"last_uid"`
	UpdatedAt       *time.Time `json:"updated_at"`
}

func imapView(src *agentotp.IMAPSource) *imapJSON {
	state := src.Status.State
	if state == "" {
		state = agentotp.IMAPStateStopped // not started yet
	}
	return &imapJSON{
		Host: src.Host, Port: src.Port, TLSMode: src.TLSMode, Username: src.Username, Mailbox: src.Mailbox,
		PollIntervalSeconds: int(src.PollInterval / time.Second), MarkAsRead: src.MarkAsRead,
		PasswordSet: len(src.PasswordSealed) > 0, UpdatedAt: src.UpdatedAt.UTC(),
		Status: imapStatusJSON{
			State: state, LastError: strPtr(src.Status.LastError), LastErrorAt: timePtr(src.Status.LastErrorAt),
			LastConnectedAt: timePtr(src.Status.LastConnectedAt), LastMessageAt: timePtr(src.Status.LastMessageAt),
			UIDValidity: src.UIDValidity, LastUID: src.LastUID, UpdatedAt: timePtr(src.Status.UpdatedAt),
		},
	}
}

// sourceViews renders the owner's sources with their IMAP settings.
func (s *Server) sourceViews(ctx context.Context, ownerID string, ss []*agentotp.Source) ([]sourceJSON, error) {
	imaps, err := s.svc.ListSourceIMAP(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	out := make([]sourceJSON, 0, len(ss))
	for _, src := range ss {
		v := sourceView(src)
		if im := imaps[src.ID]; im != nil {
			v.IMAP = imapView(im)
		}
		out = append(out, v)
	}
	return out, nil
}

// sourceWithIMAP renders one source with its IMAP settings, if any.
func (s *Server) sourceWithIMAP(ctx context.Context, ownerID, id string) (*sourceJSON, error) {
	src, err := s.svc.OwnerSource(ctx, ownerID, id)
	if err != nil {
		return nil, err
	}
	vs, err := s.sourceViews(ctx, ownerID, []*agentotp.Source{src})
	if err != nil {
		return nil, err
	}
	return &vs[0], nil
}

func (s *Server) ownerGetSource(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	v, err := s.sourceWithIMAP(r.Context(), p.OwnerID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, v)
}

func (s *Server) ownerPutSourceIMAP(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	var body struct {
		Host                string `json:"host"`
		Port                int    `json:"port"`
		TLSMode             string `json:"tls_mode"`
		Username            string `json:"username"`
		Password            string `json:"password"`
		Mailbox             string `json:"mailbox"`
		PollIntervalSeconds int    `json:"poll_interval_seconds"`
		MarkAsRead          bool   `json:"mark_as_read"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	if body.PollIntervalSeconds < 0 || body.PollIntervalSeconds > int(agentotp.MaxIMAPPollInterval/time.Second) {
		s.writeError(w, r, agentotp.FieldErr("poll_interval_seconds", "must be between %d and %d", int(agentotp.MinIMAPPollInterval.Seconds()), int(agentotp.MaxIMAPPollInterval.Seconds())), 0)
		return
	}
	id := r.PathValue("id")
	_, err := s.svc.SetSourceIMAP(r.Context(), p.OwnerID, id, agentotp.IMAPSettings{
		Host: body.Host, Port: body.Port, TLSMode: body.TLSMode, Username: body.Username, Password: body.Password,
		Mailbox: body.Mailbox, PollInterval: time.Duration(body.PollIntervalSeconds) * time.Second, MarkAsRead: body.MarkAsRead,
	})
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	v, err := s.sourceWithIMAP(r.Context(), p.OwnerID, id)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, v)
}

func (s *Server) ownerDeleteSourceIMAP(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	id := r.PathValue("id")
	if err := s.svc.ClearSourceIMAP(r.Context(), p.OwnerID, id); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	v, err := s.sourceWithIMAP(r.Context(), p.OwnerID, id)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, v)
}
