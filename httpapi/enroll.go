package httpapi

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/ratelimit"
	"github.com/agentotp/agentotp/relay"
)

// Limits of the enrollment endpoints, per client address and minute (with
// bursts): the defaults of Config.EnrollRate and EnrollBurst, and the
// token endpoint's. Enrolling takes no credential, so these and the
// owner's cap on live enrollments (relay.MaxLiveEnrollments) are what
// bound it.
const (
	enrollRate, enrollBurst = 10, 5
	tokenRate, tokenBurst   = 120, 60
)

// enrollRoutes registers agents' self-enrollment (RFC 8628 style): the
// agent's two endpoints, which take no credential, and the owner's.
func (s *Server) enrollRoutes(owner func(authedHandler) http.Handler) {
	enrollRL := ratelimit.New(s.cfg.EnrollRate, s.cfg.EnrollBurst)
	tokenRL := ratelimit.New(tokenRate, tokenBurst)
	limited := func(rl *ratelimit.Limiter, h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if ok, retry := rl.Allow(ratelimit.ClientIP(r), time.Now()); !ok {
				s.writeError(w, r, &agentotp.Error{Code: agentotp.ERateLimit, Message: "too many enrollment calls from this address; retry later", RetryAfter: retry}, 0)
				return
			}
			h(w, r)
		}
	}
	s.mux.HandleFunc("POST /v1/agents/enroll", limited(enrollRL, s.enroll))
	s.mux.HandleFunc("POST /v1/agents/enroll/token", limited(tokenRL, s.enrollToken))
	s.mux.Handle("GET /v1/owner/enrollments", owner(s.ownerListEnrollments))
	s.mux.Handle("POST /v1/owner/enrollments/{id}/approve", owner(s.ownerApproveEnrollment))
	s.mux.Handle("POST /v1/owner/enrollments/{id}/deny", owner(s.ownerDenyEnrollment))
}

// enrollJSON is the device authorization response (RFC 8628 §3.2).
type enrollJSON struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

// seconds rounds d up to whole seconds, at least 1.
func seconds(d time.Duration) int { return max(1, int((d+time.Second-1)/time.Second)) }

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Test        bool   `json:"test"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	ne, err := s.svc.StartEnrollment(r.Context(), relay.EnrollInput{
		Name: body.Name, Description: body.Description, Test: body.Test, ClientAddr: addr, UserAgent: r.UserAgent(),
	})
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, enrollJSON{
		DeviceCode: ne.DeviceCode, UserCode: ne.UserCode,
		VerificationURI: ne.VerificationURI, VerificationURIComplete: ne.VerificationURIComplete,
		ExpiresIn: seconds(ne.ExpiresIn), Interval: seconds(ne.Interval),
	})
}

// enrollToken is the agent's poll (RFC 8628 §3.4): 200 with the new
// agent's key once, else 400 with the RFC's error code.
func (s *Server) enrollToken(w http.ResponseWriter, r *http.Request) {
	ip := ratelimit.ClientIP(r)
	// Only failures count (a wrong device code, below), as for every
	// credential: a valid device code is never refused for another
	// client's failures.
	var wait time.Duration
	if ws := r.URL.Query().Get("wait"); ws != "" {
		n, err := strconv.Atoi(ws)
		limit := int(s.cfg.MaxWait.Seconds())
		if err != nil || n < 1 || n > limit {
			s.writeError(w, r, agentotp.FieldErr("wait", "must be an integer between 1 and %d", limit), 0)
			return
		}
		wait = time.Duration(n) * time.Second
	}
	var body struct {
		DeviceCode string `json:"device_code"`
	}
	if err := decodeJSON(w, r, &body, false); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	if wait > 0 {
		release, ok := s.waits.Acquire("enroll:" + ip)
		if !ok {
			s.writeError(w, r, &agentotp.Error{Code: agentotp.ERateLimit, RetryAfter: waitRetryAfter,
				Message: "too many long-polls open from this address; retry later"}, 0)
			return
		}
		defer release()
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + 10*time.Second))
	}
	key, err := s.svc.PollEnrollment(r.Context(), body.DeviceCode, wait)
	if err != nil {
		if agentotp.ErrorCode(err) == agentotp.EInvalidGrant {
			// A wrong device code counts as a failed authentication.
			if ok, retry := s.failRL.Allow(ip, time.Now()); !ok {
				s.writeError(w, r, tooManyFailures(retry), 0)
				return
			}
		}
		s.writeEnrollError(w, r, err)
		return
	}
	writeJSON(w, s.log, http.StatusOK, newAgentJSON{Agent: agentView(key.Agent), APIKey: key.APIKey, WebhookSecret: key.WebhookSecret})
}

// deviceErrors are the token endpoint's RFC 8628 / RFC 6749 errors.
var deviceErrors = map[string]bool{
	agentotp.EAuthorizationPending: true, agentotp.ESlowDown: true, agentotp.EAccessDenied: true,
	agentotp.EExpiredToken: true, agentotp.EInvalidGrant: true,
}

// writeEnrollError answers a device-flow error as RFC 6749 §5.2 has it (400
// with an "error" member) inside the problem document every other error
// has; any other error as usual.
func (s *Server) writeEnrollError(w http.ResponseWriter, r *http.Request, err error) {
	var e *agentotp.Error
	if !errors.As(err, &e) || !deviceErrors[e.Code] {
		s.writeError(w, r, err, 0)
		return
	}
	doc := struct {
		problem
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}{
		problem: problem{Type: "about:blank", Title: http.StatusText(http.StatusBadRequest), Status: http.StatusBadRequest,
			Detail: e.Message, Message: e.Message, Code: e.Code, Instance: r.URL.Path, RetryAfter: e.RetryAfter},
		Error: e.Code, ErrorDescription: e.Message,
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	if err := json.NewEncoder(w).Encode(doc); err != nil {
		s.log.DebugContext(r.Context(), "write problem", "err", err)
	}
}

// enrollmentJSON is an enrollment as the owner sees it.
type enrollmentJSON struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Description   string     `json:"description"`
	Test          bool       `json:"test"`
	Status        string     `json:"status"`
	UserCode      *string    `json:"user_code"`
	ClientAddress string     `json:"client_address"`
	UserAgent     string     `json:"user_agent"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	DecidedAt     *time.Time `json:"decided_at"`
	DecidedBy     *string    `json:"decided_by"`
	IssuedAt      *time.Time `json:"issued_at"`
	AgentID       *string    `json:"agent_id"`
}

func enrollmentView(e *relay.OwnerEnrollment) enrollmentJSON {
	return enrollmentJSON{
		ID: e.ID, Name: e.Name, Description: e.Description, Test: e.Test, Status: string(e.Status),
		UserCode: strPtr(e.UserCode), ClientAddress: e.ClientAddr, UserAgent: e.UserAgent,
		CreatedAt: e.CreatedAt.UTC(), ExpiresAt: e.ExpiresAt.UTC(), DecidedAt: timePtr(e.DecidedAt),
		DecidedBy: strPtr(e.DecidedBy), IssuedAt: timePtr(e.IssuedAt), AgentID: strPtr(e.AgentID),
	}
}

func (s *Server) ownerListEnrollments(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	limit, err := queryInt(r, "limit", 50, 1, 100)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	es, err := s.svc.ListEnrollments(r.Context(), p.OwnerID, agentotp.EnrollmentStatus(r.URL.Query().Get("status")), limit)
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	out := listJSON[enrollmentJSON]{Data: make([]enrollmentJSON, 0, len(es))}
	for _, e := range es {
		out.Data = append(out.Data, enrollmentView(e))
	}
	writeJSON(w, s.log, http.StatusOK, out)
}

func (s *Server) ownerApproveEnrollment(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	s.ownerDecideEnrollment(w, r, p, true)
}

func (s *Server) ownerDenyEnrollment(w http.ResponseWriter, r *http.Request, p *relay.Principal) {
	s.ownerDecideEnrollment(w, r, p, false)
}

func (s *Server) ownerDecideEnrollment(w http.ResponseWriter, r *http.Request, p *relay.Principal, approve bool) {
	var body struct{}
	if err := decodeJSON(w, r, &body, true); err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	e, err := s.svc.DecideEnrollment(r.Context(), p.OwnerID, r.PathValue("id"), relay.EnrollDecision{Approve: approve})
	if err != nil {
		s.writeError(w, r, err, 0)
		return
	}
	writeJSON(w, s.log, http.StatusOK, enrollmentView(e))
}
