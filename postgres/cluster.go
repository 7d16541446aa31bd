package postgres

import "github.com/agentotp/agentotp"

// The Store is the store that several relays share: besides the records,
// it carries their changes to each other (Listen, listen.go), shares out
// work that must run on one relay at a time (Lease, lease.go; Exclusive,
// exclusive.go) and holds the rate limits of the whole cluster (Allow,
// ratelimit.go), all on the database and its clock.
var _ agentotp.Cluster = (*Store)(nil)
