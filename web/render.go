package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/agentotp/agentotp"
)

// pageNames are the templates with a "content" block, each rendered in the
// layout.
var pageNames = []string{"login", "link", "error", "pending", "request", "history", "agents", "secret", "sources", "audit", "policies", "policy", "passkeys", "enroll"}

// page is what every template gets.
type page struct {
	Title string
	Nav   string // the active navigation entry
	CSRF  string
	Bare  bool // no navigation (log-in pages)
	Live  bool // the page listens to /events
	// Refresh reloads the page every 15 s where JavaScript is off.
	Refresh bool
	Flash   string
	Error   string
	Data    any

	CSS, JS, Icon string
	PasskeyJS     string
}

func (s *Server) parseTemplates() error {
	base, err := template.New("").Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return fmt.Errorf("web: templates: %w", err)
	}
	s.pages = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(templateFS, "templates/"+name+".html")
		}
		if err != nil {
			return fmt.Errorf("web: template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// render writes a page with status. Pages are never cached: they show
// secrets once, and state that changes.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	p.CSS, p.JS, p.Icon = s.asset("app.css"), s.asset("app.js"), s.asset("icon.svg")
	p.PasskeyJS = s.asset("passkey.js")
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.log.ErrorContext(r.Context(), "dashboard: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderFragment renders a named template of a page alone.
func (s *Server) renderFragment(name, tmpl string, data any) (string, error) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, tmpl, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}

type errorView struct {
	Heading, Message string
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	s.render(w, r, status, "error", &page{Title: heading, Bare: true, Data: errorView{heading, message}})
}

func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "dashboard: internal error", "path", r.URL.Path, "err", err)
	s.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "The relay could not do this; the error was logged. Nothing was changed by this page.")
}

var templateFuncs = template.FuncMap{
	"utc":          fmtUTC,
	"short":        func(t time.Time) string { return t.UTC().Format("Jan 2 15:04 UTC") },
	"policyAction": policyActionLabel,
	"iso":          func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago":          func(t time.Time) string { return ago(time.Now(), t) },
	"left":         func(t time.Time) string { return left(time.Now(), t) },
	"statusLabel":  statusLabel,
	"statusClass":  statusClass,
	"actionLabel":  actionLabel,
	"isZero":       func(t time.Time) bool { return t.IsZero() },
	"join":         strings.Join,
}

func fmtUTC(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago is a rough "3 min ago".
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// left is the time until t, as app.js also writes it: "4:05 left".
func left(now, t time.Time) string {
	d := t.Sub(now)
	if d <= 0 {
		return "expired"
	}
	secs := int(d.Seconds())
	if secs >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d left", secs/3600, secs/60%60, secs%60)
	}
	return fmt.Sprintf("%d:%02d left", secs/60, secs%60)
}

func statusLabel(s agentotp.Status) string {
	switch s {
	case agentotp.StatusPending:
		return "Waiting for you"
	case agentotp.StatusApproved:
		return "Approved, waiting for the message"
	case agentotp.StatusReceived:
		return "Code ready for the agent"
	case agentotp.StatusConsumed:
		return "Code delivered"
	case agentotp.StatusDenied:
		return "Denied"
	case agentotp.StatusExpired:
		return "Expired"
	case agentotp.StatusCancelled:
		return "Cancelled by the agent"
	}
	return string(s)
}

func statusClass(s agentotp.Status) string {
	switch s {
	case agentotp.StatusPending:
		return "st-pending"
	case agentotp.StatusApproved, agentotp.StatusReceived:
		return "st-approved"
	case agentotp.StatusConsumed:
		return "st-done"
	case agentotp.StatusDenied:
		return "st-denied"
	}
	return "st-ended"
}

// actionLabels name audit actions in plain words.
var actionLabels = map[string]string{
	agentotp.AuditRequestCreated:   "request created",
	agentotp.AuditRequestApproved:  "request approved",
	agentotp.AuditRequestDenied:    "request denied",
	agentotp.AuditMessageHeld:      "message held until approval",
	agentotp.AuditOTPReceived:      "code received",
	agentotp.AuditRequestConsumed:  "code consumed",
	agentotp.AuditRequestCancelled: "request cancelled",
	agentotp.AuditRequestExpired:   "request expired",
	agentotp.AuditAgentCreated:     "agent created",
	agentotp.AuditAgentRotated:     "agent key rotated",
	agentotp.AuditAgentRevoked:     "agent revoked",
	agentotp.AuditSourceCreated:    "source created",
	agentotp.AuditSourceRevoked:    "source revoked",
	agentotp.AuditOwnerCreated:     "owner created",
	agentotp.AuditPolicyChanged:    "policy changed",
	agentotp.AuditSettingsChanged:  "settings changed",
	agentotp.AuditOwnerPasswordSet: "dashboard password set",
	agentotp.AuditLoginLinkCreated: "log-in link created",
	agentotp.AuditOwnerLoggedIn:    "logged in",
	agentotp.AuditOwnerLoggedOut:   "logged out",
	// enroll.go
	agentotp.AuditEnrollmentCreated:  "agent asked to enroll",
	agentotp.AuditEnrollmentApproved: "enrollment approved",
	agentotp.AuditEnrollmentDenied:   "enrollment denied",
	agentotp.AuditEnrollmentExpired:  "enrollment expired",
	agentotp.AuditEnrollmentIssued:   "enrolled agent's key issued",
}

func policyActionLabel(a string) string {
	switch a {
	case agentotp.PolicyAutoApprove:
		return "approve automatically"
	case agentotp.PolicyDeny:
		return "deny"
	case agentotp.PolicyAsk:
		return "ask me"
	}
	return a
}

func actionLabel(a string) string {
	if l, ok := actionLabels[a]; ok {
		return l
	}
	return a
}
