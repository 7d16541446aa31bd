package smtp

import (
	"bytes"
	"context"
	"slices"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/agentotp/agentotp"
)

// maxDKIMSignatures bounds the signatures verified per message.
const maxDKIMSignatures = 5

// verifyDKIM checks the DKIM signatures of raw and says whether one that
// verified vouches for the domain of from.
func verifyDKIM(ctx context.Context, raw []byte, from string, lookupTXT func(ctx context.Context, name string) ([]string, error)) *agentotp.DKIMResult {
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return lookupTXT(ctx, name) },
		MaxVerifications: maxDKIMSignatures,
	})
	res := &agentotp.DKIMResult{Result: agentotp.DKIMNone}
	if err != nil {
		res.Result = agentotp.DKIMFail
		return res
	}
	temp := false
	for _, v := range vs {
		switch {
		case v.Err == nil:
			d := strings.ToLower(v.Domain)
			if !slices.Contains(res.Domains, d) {
				res.Domains = append(res.Domains, d)
			}
		case dkim.IsTempFail(v.Err):
			temp = true
		}
	}
	switch {
	case len(res.Domains) > 0:
		res.Result = agentotp.DKIMPass
		res.Aligned = agentotp.DKIMVouches(from, res.Domains)
	case temp:
		res.Result = agentotp.DKIMTempError
	case len(vs) > 0:
		res.Result = agentotp.DKIMFail
	}
	return res
}
