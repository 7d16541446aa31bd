package relay

import (
	"errors"
	"strings"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/extract"
)

// errNoCodeForRequest says that a message holds no code for one request: in
// that request's extraction context the extractor found none, or found an
// origin-bound code for another site. feedMessage then tries the next request.
var errNoCodeForRequest = errors.New("relay: the message holds no code for this request")

// codeExtractor extracts the code of one message for the live requests its
// filter matches, once per distinct extraction context (not once per
// request): requests that wait for the same sender, source and domain share
// one extraction.
type codeExtractor struct {
	msg   extract.Message
	done  map[extract.Context]extract.Result
	found bool // some context yielded a code
}

func newCodeExtractor(msg extract.Message) *codeExtractor {
	return &codeExtractor{msg: msg, done: make(map[extract.Context]extract.Result, 2)}
}

// run extracts in ctx, reusing an earlier extraction in the same context.
func (e *codeExtractor) run(ctx extract.Context) (extract.Result, error) {
	if res, ok := e.done[ctx]; ok {
		return res, nil
	}
	res, err := extract.ExtractWith(e.msg, ctx)
	if err != nil {
		return res, err
	}
	e.done[ctx] = res
	e.found = e.found || res.Code != ""
	return res, nil
}

// forRequest returns the code of the message for r, a request whose filter
// matched it, or errNoCodeForRequest.
func (e *codeExtractor) forRequest(r *agentotp.Request) (extract.Result, error) {
	res, err := e.run(requestContext(r))
	if err != nil {
		return res, err
	}
	if res.Code == "" {
		return res, errNoCodeForRequest
	}
	return res, nil
}

// requestContext is what request r tells the extractor about a message its
// filter matched. A sender pattern that matched means the request waits for
// exactly this sender; a filter naming one source gives the source kind; the
// domain of an e-mail sender pattern ("*@acme.com"), or an expected sender
// written as a domain ("acme.com"), is the site its code must be bound to.
// A request with no sender pattern gives no sender context: any sender may
// feed it, so a bare number from anyone is still not a code.
func requestContext(r *agentotp.Request) extract.Context {
	var c extract.Context
	c.SenderMatched = r.Filter.SenderPattern != ""
	if len(r.Filter.Sources) == 1 {
		c.Source = string(r.Filter.Sources[0])
	}
	c.Domain = extract.PatternDomain(r.Filter.SenderPattern)
	if c.Domain == "" {
		c.Domain = extract.PatternDomain(strings.TrimSpace(r.ExpectedSender))
	}
	return c
}
