package agentotp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Audit actions of the dashboard's log-in machinery.
const (
	AuditOwnerPasswordSet = "owner.password_set"
	AuditLoginLinkCreated = "owner.login_link_created"
	AuditOwnerLoggedIn    = "owner.logged_in"
	AuditOwnerLoggedOut   = "owner.logged_out"
)

// Log-in methods of a dashboard session.
const (
	LoginPassword = "password"
	LoginLink     = "link"
)

// Password length bounds, in characters. The upper bound keeps a hash
// request from being a denial of service.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 1024
)

// ValidatePassword checks a new owner password's length and encoding.
func ValidatePassword(password string) error {
	n := utf8.RuneCountInString(password)
	if !utf8.ValidString(password) || n < MinPasswordLen || n > MaxPasswordLen {
		return FieldErr("password", "must be %d–%d characters of UTF-8", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// PasswordParams are the argon2id cost parameters of a password hash.
type PasswordParams struct {
	Time    uint32 // passes over memory
	Memory  uint32 // KiB
	Threads uint8
	KeyLen  uint32 // bytes of output
}

// DefaultPasswordParams are the parameters of new hashes: RFC 9106's
// second recommended option (t=3, 64 MiB), with two lanes.
var DefaultPasswordParams = PasswordParams{Time: 3, Memory: 64 * 1024, Threads: 2, KeyLen: 32}

// Bounds that a stored hash's parameters must respect before it is
// verified, so that a corrupted row cannot ask for gigabytes.
const (
	maxPasswordTime   = 10
	maxPasswordMemory = 256 * 1024 // KiB
	maxPasswordKeyLen = 64
	passwordSaltLen   = 16
)

// HashPassword returns the argon2id hash of password in the PHC string
// form: $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>, base64 without
// padding, with a fresh random salt.
func HashPassword(password string, p PasswordParams) string {
	salt := make([]byte, passwordSaltLen)
	rand.Read(salt) // never fails
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// errBadHash reports a stored hash that is not a usable argon2id PHC string.
var errBadHash = errors.New("not an argon2id password hash")

// parsePasswordHash splits a PHC argon2id string into its parts.
func parsePasswordHash(encoded string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errBadHash
	}
	var m, t, threads uint64
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, errBadHash
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			threads = n
		default:
			return p, nil, nil, errBadHash
		}
	}
	if m == 0 || m > maxPasswordMemory || t == 0 || t > maxPasswordTime || threads == 0 || threads > 255 {
		return p, nil, nil, fmt.Errorf("%w: parameters out of bounds", errBadHash)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxPasswordKeyLen {
		return p, nil, nil, errBadHash
	}
	p = PasswordParams{Time: uint32(t), Memory: uint32(m), Threads: uint8(threads), KeyLen: uint32(len(key))}
	return p, salt, key, nil
}

// VerifyPassword reports whether password matches the PHC argon2id hash
// encoded, comparing in constant time. An unusable hash is an error.
func VerifyPassword(encoded, password string) (bool, error) {
	p, salt, want, err := parsePasswordHash(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > 4*MaxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// OwnerPassword is an owner's dashboard password, kept only as an argon2id
// hash.
type OwnerPassword struct {
	OwnerID   string
	Hash      string // PHC string of HashPassword
	UpdatedAt time.Time
}

// Session is a logged-in dashboard session. The browser holds a random
// token in a cookie; the store keeps only its SHA-256 Hash (HashToken),
// like every other bearer secret.
type Session struct {
	// ID names the session in the audit log and on screen; it is not a
	// secret and cannot be used to log in.
	ID        string
	Hash      []byte
	OwnerID   string
	Method    string // LoginPassword or LoginLink
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ValidAt reports whether the session has not expired at now.
func (s *Session) ValidAt(now time.Time) bool { return now.Before(s.ExpiresAt) }

// LoginLinkToken is a one-time log-in link's secret. Like sessions, only
// its hash is stored; it works once, before ExpiresAt.
type LoginLinkToken struct {
	Hash      []byte
	OwnerID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
}

// Usable reports whether the link is unused and unexpired at now.
func (l *LoginLinkToken) Usable(now time.Time) bool {
	return l.UsedAt.IsZero() && now.Before(l.ExpiresAt)
}

// DashboardStore keeps the dashboard's owner passwords, sessions and
// one-time log-in links. Methods that change state append the given audit
// entries in the same transaction, as in Store.
type DashboardStore interface {
	// SetOwnerPassword stores (or replaces) the owner's password hash and
	// ends every session of the owner.
	SetOwnerPassword(ctx context.Context, pw *OwnerPassword, audit ...AuditEntry) error
	// GetOwnerPassword returns the owner's password hash, or ErrNotFound
	// when none was set.
	GetOwnerPassword(ctx context.Context, ownerID string) (*OwnerPassword, error)

	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s *Session, audit ...AuditEntry) error
	// GetSession returns the session whose token hashes to hash, expired
	// or not; callers check ValidAt.
	GetSession(ctx context.Context, hash []byte) (*Session, error)
	// DeleteSession removes one session (log-out); ErrNotFound when it is
	// gone already.
	DeleteSession(ctx context.Context, hash []byte, audit ...AuditEntry) error
	// DeleteExpired removes the sessions and log-in links that ended
	// before now (links also once used) and returns how many rows went.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)

	// CreateLoginLink stores a new one-time log-in link.
	CreateLoginLink(ctx context.Context, l *LoginLinkToken, audit ...AuditEntry) error
	// GetLoginLink returns the link whose token hashes to hash.
	GetLoginLink(ctx context.Context, hash []byte) (*LoginLinkToken, error)
	// UseLoginLink marks the link used at s.CreatedAt and stores session s
	// in one transaction, if the link belongs to s.OwnerID and is still
	// usable then; otherwise it returns ErrNotFound and changes nothing.
	// Of concurrent calls for one link at most one succeeds.
	UseLoginLink(ctx context.Context, hash []byte, s *Session, audit ...AuditEntry) error
}
