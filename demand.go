package agentotp

import "time"

// EmailDemand is what a set of live requests wants of email: whether any
// of them can still be fed by one, and from when a message must date to
// match. The relay's IMAP connectors and edge capture's IMAP reader both
// start reading a mailbox only while it says Want.
type EmailDemand struct {
	// Want: some live request can still be fed by an email.
	Want bool
	// Since is the earliest time a message must have arrived at to match
	// one of them: the least lower bound (creation time or
	// filter.received_after) of those requests.
	Since time.Time
	// Latest is the creation time of the newest of them.
	Latest time.Time
}

// Add counts one request that wants email, created at created, whose
// filter takes messages received after receivedAfter (zero: no bound).
func (d *EmailDemand) Add(created, receivedAfter time.Time) {
	lb := created
	if receivedAfter.After(lb) {
		lb = receivedAfter
	}
	if !d.Want || lb.Before(d.Since) {
		d.Since = lb
	}
	if created.After(d.Latest) {
		d.Latest = created
	}
	d.Want = true
}
