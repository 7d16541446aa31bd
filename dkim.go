package agentotp

import "strings"

// DKIM results.
const (
	DKIMPass      = "pass"      // at least one signature verified
	DKIMFail      = "fail"      // signatures were present and none verified
	DKIMTempError = "temperror" // a key could not be fetched (DNS trouble)
	DKIMNone      = "none"      // the message carries no DKIM signature
)

// DKIMResult is what DKIM verification said about an email received in MX
// mode. It is kept in the message metadata, so that the agent and the
// owner can see how far the sender was authenticated.
type DKIMResult struct {
	// Result is DKIMPass, DKIMFail, DKIMTempError or DKIMNone.
	Result string `json:"result"`
	// Domains lists the signing domains (d=) whose signature verified.
	Domains []string `json:"domains,omitempty"`
	// Aligned reports whether one of Domains vouches for the domain of the
	// From address: the same domain or a parent of it (DMARC's relaxed
	// alignment).
	Aligned bool `json:"aligned"`
}

// DKIMVouches reports whether a verified signature of one of domains
// vouches for the domain of the sender address: that domain is one of
// them, or a subdomain of one of them. Comparison ignores case and a
// trailing dot.
func DKIMVouches(sender string, domains []string) bool {
	addr := SenderAddress(sender)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return false
	}
	from := normDomain(addr[at+1:])
	if from == "" {
		return false
	}
	for _, d := range domains {
		d = normDomain(d)
		if d == "" || !strings.Contains(d, ".") {
			continue // a bare TLD never vouches for anything
		}
		if from == d || strings.HasSuffix(from, "."+d) {
			return true
		}
	}
	return false
}

func normDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// senderVouched reports whether the message's sender may be matched
// against a sender pattern: always, unless the message came in where DKIM
// is required (MX mode), and then only when DKIM vouches for the From
// domain.
func (msg *Message) senderVouched() bool {
	if !msg.RequireDKIM {
		return true
	}
	return msg.DKIM != nil && msg.DKIM.Result == DKIMPass && DKIMVouches(msg.Sender, msg.DKIM.Domains)
}
