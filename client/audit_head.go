package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// AuditHead is the head of an audit chain to export and keep elsewhere,
// "SEQ:HASH"; empty when the log is empty.
func (r *AuditReport) AuditHead() string {
	if r.Head == "" {
		return ""
	}
	return fmt.Sprintf("%d:%s", r.HeadSeq, r.Head)
}

// VerifyAuditHead asks the relay to verify the owner's audit chain and
// that it still holds head ("SEQ:HASH", an earlier AuditHead): a log cut
// short or rewritten since then fails the report.
func (o *OwnerClient) VerifyAuditHead(ctx context.Context, head string) (*AuditReport, error) {
	var rep AuditReport
	if err := o.c.do(ctx, http.MethodGet, "/v1/owner/audit/verify?head="+url.QueryEscape(head), nil, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}
