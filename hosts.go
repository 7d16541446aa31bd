package agentotp

import (
	"net"
	"net/url"
	"strings"
)

// LoopbackHost reports whether host names this machine: "localhost" or a
// loopback IP address. It looks nothing up; a connection that must stay on
// the machine checks again, at dial time, the address it reaches.
func LoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackAddr reports whether a host:port address (or a bare host) is on
// this machine, as LoopbackHost decides.
func LoopbackAddr(addr string) bool {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return LoopbackHost(addr)
}

// ValidateWebhookURL checks a webhook URL given in field: absolute http or
// https, no credentials, at most MaxWebhookURLLen bytes. Whether its host
// may be reached is decided at connect time by the webhook worker's
// address guard.
func ValidateWebhookURL(field, raw string) error {
	if len(raw) > MaxWebhookURLLen {
		return FieldErr(field, "at most %d characters allowed", MaxWebhookURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return FieldErr(field, "must be an absolute http or https URL without credentials")
	}
	return nil
}
