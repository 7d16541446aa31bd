package web

import (
	"net/http"
	"net/url"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/relay"
)

// enrollRoutes serves the owner's side of agents' self-enrollment: the
// page the agent's verification_uri points to, and its decisions.
func (s *Server) enrollRoutes(mux *http.ServeMux) {
	mux.Handle("GET /enroll", s.authed(s.enrollPage))
	mux.Handle("POST /enroll/{id}/approve", s.authed(s.approveEnrollment))
	mux.Handle("POST /enroll/{id}/deny", s.authed(s.denyEnrollment))
}

// enrollFlashes are the fixed messages after a decision (?done=…).
var enrollFlashes = map[string]string{
	"approved": "Approved. The agent receives its key at its next poll, once; the new agent is on the Agents page from then on.",
	"denied":   "Denied. The agent is told at its next poll, and gets no key.",
}

// enrollRecent is a decided or ended enrollment, in words.
type enrollRecent struct {
	*relay.OwnerEnrollment
	Outcome string
}

// enrollView is the enrollment page.
type enrollView struct {
	Pending []*relay.OwnerEnrollment
	Recent  []enrollRecent
	Code    string                 // the code typed or in the link
	Match   *relay.OwnerEnrollment // the live enrollment with that code
}

// enrollOutcome says how an enrollment stands, in words.
func enrollOutcome(st agentotp.EnrollmentStatus) string {
	switch st {
	case agentotp.EnrollmentPending:
		return "Waiting for you"
	case agentotp.EnrollmentApproved:
		return "Approved; the agent has not collected its key yet"
	case agentotp.EnrollmentIssued:
		return "Key issued"
	case agentotp.EnrollmentDenied:
		return "Denied"
	case agentotp.EnrollmentExpired:
		return "Expired (no key)"
	}
	return string(st)
}

func (s *Server) enrollPage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.showEnrollments(w, r, sess, http.StatusOK, "")
}

func (s *Server) showEnrollments(w http.ResponseWriter, r *http.Request, sess *session, status int, errMsg string) {
	ctx := r.Context()
	es, err := s.svc.ListEnrollments(ctx, sess.OwnerID, "", 50)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	v := &enrollView{Code: r.URL.Query().Get("code")}
	for _, e := range es {
		if e.Status == agentotp.EnrollmentPending {
			v.Pending = append(v.Pending, e)
		} else if len(v.Recent) < 20 {
			v.Recent = append(v.Recent, enrollRecent{e, enrollOutcome(e.Status)})
		}
	}
	if v.Code != "" && errMsg == "" {
		m, err := s.svc.FindEnrollment(ctx, sess.OwnerID, v.Code)
		switch {
		case err == nil && m.Status == agentotp.EnrollmentPending:
			v.Match = m
			// A code known only from the link (after a restart) shows on
			// its card too.
			for _, p := range v.Pending {
				if p.ID == m.ID && p.UserCode == "" {
					p.UserCode = m.UserCode
				}
			}
		case err == nil:
			errMsg = "The enrollment with this code is no longer waiting: " + enrollOutcome(m.Status) + "."
		case agentotp.ErrorCode(err) == agentotp.EValidation || agentotp.ErrorCode(err) == agentotp.ENotFound:
			errMsg = "No waiting enrollment has the code " + v.Code + ". Check what the agent shows; a code works for 10 minutes."
			status = http.StatusNotFound
		default:
			s.serverError(w, r, err)
			return
		}
	}
	flash := enrollFlashes[r.URL.Query().Get("done")]
	s.render(w, r, status, "enroll", &page{Title: "Enrollments", Nav: "enroll", CSRF: sess.csrf, Refresh: true, Flash: flash, Error: errMsg, Data: v})
}

func (s *Server) approveEnrollment(w http.ResponseWriter, r *http.Request, sess *session) {
	s.decideEnrollment(w, r, sess, true)
}

func (s *Server) denyEnrollment(w http.ResponseWriter, r *http.Request, sess *session) {
	s.decideEnrollment(w, r, sess, false)
}

func (s *Server) decideEnrollment(w http.ResponseWriter, r *http.Request, sess *session, approve bool) {
	_, err := s.svc.DecideEnrollment(r.Context(), sess.OwnerID, r.PathValue("id"),
		relay.EnrollDecision{Approve: approve, Via: relay.ViaDashboard, Session: sess.Session.ID})
	if err != nil {
		switch agentotp.ErrorCode(err) {
		case agentotp.ENotFound:
			s.showEnrollments(w, r, sess, http.StatusNotFound, "There is no such enrollment among yours.")
		case agentotp.EInternal:
			s.serverError(w, r, err)
		default:
			s.showEnrollments(w, r, sess, http.StatusConflict, "This enrollment can no longer be decided: "+userMessage(err))
		}
		return
	}
	done := "denied"
	if approve {
		done = "approved"
	}
	http.Redirect(w, r, "/enroll?done="+url.QueryEscape(done), http.StatusSeeOther)
}
