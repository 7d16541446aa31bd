package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
	"github.com/agentotp/agentotp/ratelimit"
	"github.com/agentotp/agentotp/relay"
)

// Passkeys on the dashboard. The pages work without JavaScript for
// everything else; passkeys need it (the browser's WebAuthn API), so each
// ceremony is two small JSON calls made by static/passkey.js: begin
// (options for navigator.credentials) and finish (the browser's answer).
// Both are form posts carrying the CSRF token, like every other form.

// maxPasskeyResponse bounds the browser's answer to a ceremony.
const maxPasskeyResponse = 32 << 10

// writeJSONResult answers a passkey call.
func writeJSONResult(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// passkeyError answers a failed passkey call with a message for the page.
func (s *Server) passkeyError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusUnprocessableEntity
	switch agentotp.ErrorCode(err) {
	case agentotp.EInternal, "":
		s.log.ErrorContext(r.Context(), "dashboard: passkey", "err", err)
		status = http.StatusInternalServerError
	case agentotp.EAuthentication:
		status = http.StatusUnauthorized
	case agentotp.ERateLimit:
		status = http.StatusTooManyRequests
	case agentotp.EConflict, agentotp.EOTPExpired, agentotp.EOTPCancelled, agentotp.EOTPApprovalDenied, agentotp.EOTPAlreadyConsumed:
		status = http.StatusConflict
	case agentotp.EOTPNotFound, agentotp.ENotFound:
		status = http.StatusNotFound
	case agentotp.EServiceUnavailable:
		status = http.StatusServiceUnavailable
	}
	writeJSONResult(w, status, map[string]string{"error": userMessage(err)})
}

// passkeyView is the Passkeys page.
type passkeyView struct {
	Keys  []*agentotp.SigningKey
	RPID  string
	Ready bool // passkeys can be made at this relay's public URL
}

func (s *Server) passkeysPage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showPasskeys(w, r, sess, http.StatusOK, "")
}

func (s *Server) showPasskeys(w http.ResponseWriter, r *http.Request, sess *session, status int, errMsg string) {
	ks, err := s.svc.ListSigningKeys(r.Context(), sess.OwnerID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := &passkeyView{}
	for _, k := range ks {
		if k.Active() {
			v.Keys = append(v.Keys, k)
		}
	}
	if rpID, _, err := s.svc.PasskeyRelyingParty(); err == nil {
		v.RPID, v.Ready = rpID, true
	}
	s.render(w, r, status, "passkeys", &page{Title: "Passkeys and signing keys", Nav: "passkeys", CSRF: sess.csrf, Flash: flash(r), Error: errMsg, Data: v})
}

func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request, sess *session) {
	p, err := s.svc.BeginPasskeyRegistration(r.Context(), sess.OwnerID)
	if err != nil {
		s.passkeyError(w, r, err)
		return
	}
	writeJSONResult(w, http.StatusOK, p)
}

func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request, sess *session) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		name = "passkey"
	}
	k, err := s.svc.FinishPasskeyRegistration(r.Context(), sess.OwnerID, r.PostFormValue("ceremony"), name, []byte(r.PostFormValue("response")))
	if err != nil {
		s.passkeyError(w, r, err)
		return
	}
	writeJSONResult(w, http.StatusOK, map[string]string{"id": k.ID, "next": "/passkeys?done=passkey_added"})
}

func (s *Server) passkeyRemove(w http.ResponseWriter, r *http.Request, sess *session) {
	if err := s.svc.RevokeSigningKey(r.Context(), sess.OwnerID, r.PathValue("id")); err != nil {
		if agentotp.ErrorCode(err) == agentotp.ENotFound {
			s.showPasskeys(w, r, sess, http.StatusNotFound, "There is no such key among yours.")
			return
		}
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/passkeys?done=passkey_removed", http.StatusSeeOther)
}

// passkeyLoginBegin starts a log-in with a passkey. Like the password
// form it needs the log-in page's CSRF token and is refused while the
// client's address is locked out; a failed passkey counts as a failed
// log-in.
func (s *Server) passkeyLoginBegin(w http.ResponseWriter, r *http.Request) {
	if !s.loginForm(w, r) {
		return
	}
	p, err := s.svc.BeginPasskeyLogin(r.Context())
	if err != nil {
		s.passkeyError(w, r, err)
		return
	}
	writeJSONResult(w, http.StatusOK, p)
}

func (s *Server) passkeyLoginFinish(w http.ResponseWriter, r *http.Request) {
	if !s.loginForm(w, r) {
		return
	}
	ns, err := s.svc.FinishPasskeyLogin(r.Context(), r.PostFormValue("ceremony"), []byte(r.PostFormValue("response")), s.cfg.SessionTTL)
	if err != nil {
		if isAuthError(err) {
			d := s.limits.addrLock.Fail(ratelimit.ClientIP(r), time.Now()) // a failed passkey is a failed log-in
			s.log.WarnContext(r.Context(), "dashboard: failed passkey log-in", "ip", ratelimit.ClientIP(r), "locked_seconds", int(d.Seconds()))
		}
		s.passkeyError(w, r, err)
		return
	}
	s.setSessionCookie(w, r, ns.Token)
	s.setCookie(w, r, loginCookie, "", -1, http.SameSiteStrictMode)
	writeJSONResult(w, http.StatusOK, map[string]string{"next": safeNext(r.PostFormValue("next"))})
}

// loginForm reads a log-in page's form and applies the log-in checks;
// false means it has answered.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxPasskeyResponse)
	if err := r.ParseForm(); err != nil {
		writeJSONResult(w, http.StatusBadRequest, map[string]string{"error": "The form could not be read."})
		return false
	}
	if !checkCSRF(r, s.cookie(r, loginCookie)) {
		writeJSONResult(w, http.StatusForbidden, map[string]string{"error": "The page expired. Reload it and try again."})
		return false
	}
	if locked, retry := s.limits.addrLock.Locked(ratelimit.ClientIP(r), time.Now()); locked {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		writeJSONResult(w, http.StatusTooManyRequests, map[string]string{"error": "Too many failed log-ins from your address; wait " + strconv.Itoa(retry) + " seconds. A one-time log-in link still works."})
		return false
	}
	return true
}

func (s *Server) passkeyDecideBegin(w http.ResponseWriter, r *http.Request, sess *session) {
	p, err := s.svc.BeginPasskeyDecision(r.Context(), sess.OwnerID, r.PathValue("id"), r.PostFormValue("decision") != approval.Deny)
	if err != nil {
		s.passkeyError(w, r, err)
		return
	}
	writeJSONResult(w, http.StatusOK, p)
}

func (s *Server) passkeyDecideFinish(w http.ResponseWriter, r *http.Request, sess *session) {
	approve := r.PostFormValue("decision") != approval.Deny
	d := relay.Decision{Approve: approve, Reason: strings.TrimSpace(r.PostFormValue("reason")), Via: relay.ViaDashboard, Session: sess.Session.ID}
	req, err := s.svc.FinishPasskeyDecision(r.Context(), sess.OwnerID, r.PostFormValue("ceremony"), []byte(r.PostFormValue("response")), d)
	if err != nil {
		s.passkeyError(w, r, err)
		return
	}
	done := "denied"
	if approve {
		done = "approved_signed"
	}
	writeJSONResult(w, http.StatusOK, map[string]string{"next": "/r/" + url.PathEscape(req.ID) + "?done=" + done})
}

// passkeyLabel says how a decision was signed, for the request page.
func passkeyLabel(method string) string {
	switch method {
	case approval.MethodWebAuthn:
		return "signed with your passkey"
	case approval.MethodEd25519:
		return "signed with your signing key"
	case approval.MethodNone:
		return "not signed by you: strict edges will not seal a code for it"
	}
	return ""
}
