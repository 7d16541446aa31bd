package relay

import (
	"testing"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/extract"
)

func TestRequestContext(t *testing.T) {
	for _, tc := range []struct {
		pattern, expected string
		sources           []string
		want              extract.Context
	}{
		{"", "", nil, extract.Context{}},
		{"", "Acme", []string{"sms"}, extract.Context{Source: "sms"}},
		{"", "acme.com", nil, extract.Context{Domain: "acme.com"}},
		{"ACME*", "Acme", []string{"sms"}, extract.Context{SenderMatched: true, Source: "sms"}},
		{"*@acme.com", "", []string{"email"}, extract.Context{SenderMatched: true, Source: "email", Domain: "acme.com"}},
		{"*@*.Acme.com", "", []string{"sms", "email"}, extract.Context{SenderMatched: true, Domain: "acme.com"}},
		{"noreply@mail.acme.co.uk", "other.org", nil, extract.Context{SenderMatched: true, Domain: "mail.acme.co.uk"}},
		{"*@*", "shop.example", nil, extract.Context{SenderMatched: true, Domain: "shop.example"}},
		{"+1415*", "", nil, extract.Context{SenderMatched: true}},
	} {
		r := &agentotp.Request{ExpectedSender: tc.expected, Filter: agentotp.Filter{SenderPattern: tc.pattern, Sources: agentotp.Channels(tc.sources)}}
		if got := requestContext(r); got != tc.want {
			t.Errorf("pattern %q expected %q sources %v: %+v, want %+v", tc.pattern, tc.expected, tc.sources, got, tc.want)
		}
	}
}

// TestCodeExtractorOncePerContext: requests with the same context share one
// extraction; a request without a sender pattern gets no help from context.
func TestCodeExtractorOncePerContext(t *testing.T) {
	e := newCodeExtractor(extract.Message{Source: "sms", Sender: "ACME", Text: "482193"})
	named := &agentotp.Request{Filter: agentotp.Filter{SenderPattern: "ACME*", Sources: []agentotp.Channel{"sms"}}}
	again := &agentotp.Request{Filter: agentotp.Filter{SenderPattern: "AC*", Sources: []agentotp.Channel{"sms"}}}
	anyone := &agentotp.Request{}
	for _, r := range []*agentotp.Request{named, again} {
		res, err := e.forRequest(r)
		if err != nil || res.Code != "482193" {
			t.Fatalf("named sender: %+v %v", res, err)
		}
	}
	if _, err := e.forRequest(anyone); err != errNoCodeForRequest {
		t.Fatalf("no sender pattern: %v, want errNoCodeForRequest", err)
	}
	if len(e.done) != 2 || !e.found {
		t.Fatalf("%d extractions (found %v), want 2", len(e.done), e.found)
	}
}
