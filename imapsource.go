package agentotp

import (
	"context"
	"net"
	"strconv"
	"time"
)

// TLS modes of an IMAP connection.
const (
	// IMAPTLS is implicit TLS from the first byte (port 993).
	IMAPTLS = "tls"
	// IMAPStartTLS upgrades a plain connection with STARTTLS before login
	// (port 143); a server that does not offer it is refused.
	IMAPStartTLS = "starttls"
	// IMAPPlain sends everything, the password too, in the clear. It is
	// allowed only to a loopback address (a Dovecot on the same machine).
	IMAPPlain = "plain"
)

// States of an IMAP connector, as its status reports them.
const (
	// IMAPStateStopped: no live request of the owner wants email, so the
	// connector is not connected.
	IMAPStateStopped = "stopped"
	// IMAPStateConnecting: dialing, logging in, selecting the mailbox.
	IMAPStateConnecting = "connecting"
	// IMAPStateConnected: logged in, reading new mail.
	IMAPStateConnected = "connected"
	// IMAPStateIdle: waiting in IMAP IDLE for the server to announce mail.
	IMAPStateIdle = "idle"
	// IMAPStatePolling: the server has no IDLE; the connector polls.
	IMAPStatePolling = "polling"
	// IMAPStateError: the last attempt failed; the connector retries with
	// backoff. LastError says why.
	IMAPStateError = "error"
)

// Limits and defaults of IMAP settings.
const (
	DefaultIMAPMailbox      = "INBOX"
	DefaultIMAPPollInterval = 60 * time.Second
	MinIMAPPollInterval     = 5 * time.Second
	MaxIMAPPollInterval     = time.Hour
	MaxIMAPHostLen          = 253
	MaxIMAPUsernameLen      = 320
	MaxIMAPPasswordLen      = 1024
	MaxIMAPMailboxLen       = 200
	MaxIMAPErrorLen         = 500
	// MaxIMAPSourcesPerOwner bounds the mailboxes one owner's connectors
	// read at once.
	MaxIMAPSourcesPerOwner = 10
)

// Audit actions of a source's IMAP settings.
const (
	AuditSourceIMAPSet     = "source.imap_set"
	AuditSourceIMAPCleared = "source.imap_cleared"
)

// IMAPPasswordPurpose is the secretbox purpose of a source's sealed IMAP
// password, so that the ciphertext opens only for that source.
func IMAPPasswordPurpose(sourceID string) string { return "imap-password:" + sourceID }

// IMAPSource is the IMAP mailbox an email source reads, with the state of
// its connector. The password is kept only sealed (secretbox).
type IMAPSource struct {
	SourceID string
	OwnerID  string
	Host     string
	Port     int
	TLSMode  string // IMAPTLS, IMAPStartTLS or IMAPPlain
	Username string
	// PasswordSealed is the app password sealed with the relay's secret
	// box under IMAPPasswordPurpose(SourceID).
	PasswordSealed []byte
	Mailbox        string
	PollInterval   time.Duration
	// MarkAsRead makes the connector set \Seen on the mail it read; without
	// it the connector never changes the mailbox.
	MarkAsRead bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Version increases with every change of the settings; a connector
	// writes its cursor and status only while the version it started with
	// is current.
	Version int64

	// UIDValidity and LastUID are the connector's cursor: the mailbox's
	// UIDVALIDITY and the highest UID it has handled. The store resets them
	// when the settings name another mailbox.
	UIDValidity uint32
	LastUID     uint32

	Status IMAPStatus
}

// Addr returns host:port.
func (s *IMAPSource) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// IMAPStatus is what the owner sees of a connector.
type IMAPStatus struct {
	State           string // an IMAPState… value; "" before the first run
	LastError       string // never holds the password
	LastErrorAt     time.Time
	LastConnectedAt time.Time
	// LastMessageAt is when the connector last handed a message to the
	// relay.
	LastMessageAt time.Time
	UpdatedAt     time.Time
}

// IMAPStore keeps the IMAP settings of email sources and their
// connectors' cursors and status.
type IMAPStore interface {
	// PutIMAPSource stores s as the IMAP settings of its source, replacing
	// earlier ones, and sets s.Version, s.CreatedAt and the cursor to what
	// is stored. When the host, port, username or mailbox change the
	// cursor and status are reset; otherwise they are kept. The source must
	// exist and belong to s.OwnerID (ErrNotFound).
	PutIMAPSource(ctx context.Context, s *IMAPSource, audit ...AuditEntry) error
	// GetIMAPSource returns the IMAP settings of a source of the owner.
	GetIMAPSource(ctx context.Context, ownerID, sourceID string) (*IMAPSource, error)
	// ListIMAPSources returns the owner's IMAP settings, by source id.
	ListIMAPSources(ctx context.Context, ownerID string) ([]*IMAPSource, error)
	// ListActiveIMAPSources returns the IMAP settings of every owner's
	// sources that are not revoked, by source id.
	ListActiveIMAPSources(ctx context.Context) ([]*IMAPSource, error)
	// DeleteIMAPSource removes the IMAP settings of a source of the owner.
	DeleteIMAPSource(ctx context.Context, ownerID, sourceID string, audit ...AuditEntry) error
	// SaveIMAPCursor stores the connector's cursor if the settings still
	// have version; otherwise it returns ErrConflict (ErrNotFound when
	// they were deleted) and writes nothing.
	SaveIMAPCursor(ctx context.Context, sourceID string, version int64, uidValidity, lastUID uint32) error
	// SetIMAPStatus stores the connector's status under the same condition
	// as SaveIMAPCursor.
	SetIMAPStatus(ctx context.Context, sourceID string, version int64, st IMAPStatus) error
}
