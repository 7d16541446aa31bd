package agentotp

import (
	"context"
	"errors"
	"time"
)

// The kinds of a Change.
const (
	ChangeRequest    = "request"    // a request was created or changed
	ChangeEnrollment = "enrollment" // an enrollment was created or changed
)

// Change is a change that one relay committed to a store that several
// relays share, as the others hear of it. It names what changed, never
// what it holds: the relay that hears it reads the row again.
type Change struct {
	Kind    string    // ChangeRequest or ChangeEnrollment
	OwnerID string    // the owner of the request or enrollment
	ID      string    // the request's or enrollment's id
	Action  string    // the audit action that recorded the change ("" when none)
	Actor   string    // that entry's actor
	At      time.Time // that entry's time
	Origin  string    // the Instance of the store handle that committed it
}

// Cluster is implemented by a store that several relay processes share
// (package postgres). The relay uses it to hear of the others' changes, to
// run once what must run once, and to hold limits for the whole cluster.
// A store that one process owns alone (package sqlite) does not implement
// it, and the relay then runs everything itself.
type Cluster interface {
	// Instance names this store handle: the Origin of the changes it
	// commits and the holder of the leases it takes. It is unique for the
	// life of the process.
	Instance() string

	// Listen calls fn, one call at a time, for every change committed
	// through another store handle of the same database, until ctx ends;
	// it then returns ctx's error. Each time it has (re)connected, before
	// any change it then hears of, it calls resync, so that the caller
	// re-reads what it may have missed while it was not listening.
	Listen(ctx context.Context, resync func(context.Context), fn func(context.Context, Change)) error

	// Lease takes the named lease for ttl, or renews it if this instance
	// holds it already, and reports whether this instance holds it now.
	// A lease whose holder stopped renewing passes to the next caller once
	// ttl has run out.
	Lease(ctx context.Context, name string, ttl time.Duration) (bool, error)
	// ReleaseLease gives up the named lease if this instance holds it.
	ReleaseLease(ctx context.Context, name string) error

	// Allow counts one call of key against a budget of perMinute calls a
	// minute with bursts of up to burst, kept for the whole cluster, and
	// reports whether the call is within it and, when it is not, in how
	// many seconds one more would be.
	Allow(ctx context.Context, key string, perMinute, burst int) (ok bool, retryAfter int, err error)

	// Exclusive runs fn while holding the cluster-wide lock name, so that
	// no other relay runs an fn of the same name at the same time.
	Exclusive(ctx context.Context, name string, fn func(context.Context) error) error
}

// MaxLiveRequestsPerAgent bounds an agent's requests that are waiting
// (pending approval, approved, or holding a code, and not expired). The
// relay refuses a request beyond it; a store shared by several relays
// also checks it in the transaction that stores the request, so that the
// bound holds for the whole cluster.
const MaxLiveRequestsPerAgent = 20

// ErrLiveCap is returned by the CreateRequest of a store shared by several
// relays when the agent has MaxLiveRequestsPerAgent live requests already;
// nothing is written.
var ErrLiveCap = errors.New("the agent has too many live requests")
