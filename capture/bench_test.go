package capture_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/agentotp/agentotp/capture"
	"github.com/agentotp/agentotp/client"
	"github.com/agentotp/agentotp/relay"
)

// BenchmarkDelivery compares the cost of getting one code to a waiting
// request in-process (POST /v1/messages: the relay extracts and seals)
// with edge capture (list live requests, extract and seal at the edge,
// POST the ciphertext). Making and approving the request is not timed.
//
//	go test ./capture -run '^$' -bench Delivery -benchtime 200x
func BenchmarkDelivery(b *testing.B) {
	for _, mode := range []string{"in-process", "edge"} {
		b.Run(mode, func(b *testing.B) {
			e := newRelayB(b)
			ctx := context.Background()
			token := e.source("sms")
			agent := e.agent()
			src := client.NewSourceClient(token, client.WithBaseURL(e.url))
			c := capture.New(capture.Config{Server: e.url, Token: token})
			pub, _, _ := client.GenerateKeyPair(client.HPKEX25519)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				r, err := agent.RequestOTP(ctx, client.RequestOptions{Reason: "bench", PublicKey: client.ExportPublicKey(pub), Filter: &client.Filter{Sources: []string{"sms"}}})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.svc.Decide(ctx, e.ownerID, r.ID, relay.Decision{Approve: true}); err != nil {
					b.Fatal(err)
				}
				text := fmt.Sprintf("Your ACME code is %06d", i%1000000)
				b.StartTimer()
				matched := false
				if mode == "edge" {
					res, err := c.Capture(ctx, capture.Message{Source: "sms", Sender: "ACME", Text: text})
					if err != nil {
						b.Fatal(err)
					}
					matched = res.Matched
				} else {
					res, err := src.Send(ctx, client.Message{Source: "sms", Sender: "ACME", Text: text})
					if err != nil {
						b.Fatal(err)
					}
					matched = res.Matched
				}
				if !matched {
					b.Fatal("not matched")
				}
			}
		})
	}
}
