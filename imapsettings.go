package agentotp

import (
	"net"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// IMAPSettings is what the owner sets for a mailbox that a source reads:
// the relay's connector (`sources imap`) and edge capture (`capture --imap`)
// check them with the same Normalize.
type IMAPSettings struct {
	Host     string
	Port     int    // 0: 993 for tls, 143 otherwise
	TLSMode  string // "": tls
	Username string
	// Password is the app password. "" keeps the stored one; it is
	// required the first time.
	Password     string
	Mailbox      string        // "": INBOX
	PollInterval time.Duration // 0: one minute
	MarkAsRead   bool
}

// Normalize fills in the defaults and checks every field; first says
// that no password is stored yet, so one is required. The error never
// repeats the password.
func (in *IMAPSettings) Normalize(first bool) error {
	var v ValidationErrors
	in.Host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(in.Host), "["), "]"))
	if in.TLSMode == "" {
		in.TLSMode = IMAPTLS
	}
	switch in.TLSMode {
	case IMAPTLS, IMAPStartTLS, IMAPPlain:
	default:
		v.Add("tls_mode", `must be "tls", "starttls" or "plain"`)
	}
	if !validHost(in.Host) {
		v.Add("host", "must be a host name or an IP address of at most %d characters", MaxIMAPHostLen)
	} else if in.TLSMode == IMAPPlain && !LoopbackHost(in.Host) {
		v.Add("tls_mode", `"plain" sends the password in the clear and is allowed only to a loopback host (localhost, 127.0.0.1, ::1)`)
	}
	if in.Port == 0 {
		in.Port = 143
		if in.TLSMode == IMAPTLS {
			in.Port = 993
		}
	}
	if in.Port < 1 || in.Port > 65535 {
		v.Add("port", "must be between 1 and 65535")
	}
	if n := len(in.Username); n == 0 || n > MaxIMAPUsernameLen || !printable(in.Username) {
		v.Add("username", "must be 1–%d printable characters", MaxIMAPUsernameLen)
	}
	switch n := len(in.Password); {
	case n == 0 && first:
		v.Add("password", "is required")
	case n > MaxIMAPPasswordLen || (n > 0 && !printable(in.Password)):
		v.Add("password", "must be at most %d printable characters", MaxIMAPPasswordLen)
	}
	if in.Mailbox == "" {
		in.Mailbox = DefaultIMAPMailbox
	}
	if len(in.Mailbox) > MaxIMAPMailboxLen || !printable(in.Mailbox) {
		v.Add("mailbox", "must be at most %d printable characters", MaxIMAPMailboxLen)
	}
	if in.PollInterval == 0 {
		in.PollInterval = DefaultIMAPPollInterval
	}
	if in.PollInterval < MinIMAPPollInterval || in.PollInterval > MaxIMAPPollInterval {
		v.Add("poll_interval_seconds", "must be between %d and %d", int(MinIMAPPollInterval.Seconds()), int(MaxIMAPPollInterval.Seconds()))
	}
	return v.Err()
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// validHost accepts an IP address or a DNS name.
func validHost(h string) bool {
	if h == "" || len(h) > MaxIMAPHostLen {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
