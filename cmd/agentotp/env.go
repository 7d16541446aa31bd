package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Environment variables. A flag reads one only when its help says so,
// "(env AGENTOTP_X)" (or a flag annotation says which): what the help
// documents is exactly what is read. No other AGENTOTP_ variable changes
// a flag, so a stray AGENTOTP_SOURCE=sms in a shell cannot narrow a
// request's filter.

// envAnnotation names, on a flag, the environment variable that sets it
// when the help text does not (a capture's --token is a source token,
// not the owner's).
const envAnnotation = "agentotp_env"

// envAliases are the names the integration guide and the dashboard use
// for the same settings; they are read wherever the first is, after it.
var envAliases = map[string]string{
	"AGENTOTP_URL":     "AGENT_OTP_BASE_URL",
	"AGENTOTP_API_KEY": "AGENT_OTP_API_KEY",
}

// envInHelp finds "(env NAME" and "NAME or NAME" in a flag's help.
var envInHelp = regexp.MustCompile(`\(env ((?:AGENTOTP|AGENT_OTP)_[A-Z0-9_]+(?: or (?:AGENTOTP|AGENT_OTP)_[A-Z0-9_]+)*)`)

// flagEnvs returns the environment variables that set f, first wins.
func flagEnvs(f *pflag.Flag) []string {
	var names []string
	if v := f.Annotations[envAnnotation]; len(v) > 0 {
		names = append(names, v...)
	} else if m := envInHelp.FindStringSubmatch(f.Usage); m != nil {
		names = strings.Split(m[1], " or ")
	}
	out := make([]string, 0, len(names)+1)
	for _, n := range names {
		out = append(out, n)
		if alias, ok := envAliases[n]; ok && !contains(names, alias) {
			out = append(out, alias)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// documentAliases adds the alias names to the help of the flags that read
// AGENTOTP_URL or AGENTOTP_API_KEY, so the help lists every name read.
func documentAliases(c *cobra.Command) {
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if len(f.Annotations[envAnnotation]) > 0 {
			return
		}
		m := envInHelp.FindStringSubmatchIndex(f.Usage)
		if m == nil {
			return
		}
		names := strings.Split(f.Usage[m[2]:m[3]], " or ")
		var add []string
		for _, n := range names {
			if alias, ok := envAliases[n]; ok && !contains(names, alias) {
				add = append(add, alias)
			}
		}
		if len(add) > 0 {
			f.Usage = f.Usage[:m[3]] + " or " + strings.Join(add, " or ") + f.Usage[m[3]:]
		}
	})
}

// bindEnv sets every flag not given on the command line from the first
// of its documented environment variables that is set.
func bindEnv(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		for _, name := range flagEnvs(f) {
			v, ok := os.LookupEnv(name)
			if !ok || v == "" {
				continue
			}
			if err := cmd.Flags().Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
			return
		}
	})
	return errors.Join(errs...)
}

// relayURL completes a relay address into a base URL: no scheme means
// http, a trailing slash is dropped. Anything but http(s) is refused.
func relayURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("the relay URL is empty")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q: the relay is reached over http or https, not %s", s, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q names no host", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func httpStatusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "status"
}
