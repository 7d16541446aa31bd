package relay

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/agentotp/agentotp"
	"github.com/agentotp/agentotp/approval"
)

// Passkeys: the owner registers passkeys on the dashboard, signs in with
// them, and signs decisions with them. A decision's passkey assertion is
// over a challenge derived from the decision's statement
// (approval.PasskeyChallenge), so the relay, an edge and an agent can all
// check that the owner's authenticator, not the relay, approved.

// Limits of passkey ceremonies.
const (
	passkeyCeremonyTTL   = 5 * time.Minute
	maxPasskeyCeremonies = 256
	maxPasskeys          = 20
)

// Kinds of passkey ceremony.
const (
	ceremonyRegister = "register"
	ceremonyLogin    = "login"
	ceremonyDecide   = "decide"
)

var errPasskey = agentotp.Errorf(agentotp.EAuthentication, "the passkey could not be verified")

// ceremony is one begun WebAuthn ceremony, waiting for the browser's
// answer. It is used once.
type ceremony struct {
	kind      string
	ownerID   string // empty for a log-in, where the passkey names the owner
	session   webauthn.SessionData
	requestID string
	approve   bool
	statement []byte
	expires   time.Time
}

// ceremonies holds begun ceremonies in memory: a browser's answer must
// reach the relay that began the ceremony, within passkeyCeremonyTTL.
type ceremonies struct {
	mu sync.Mutex
	m  map[string]*ceremony
}

func (c *ceremonies) put(cer *ceremony, now time.Time) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*ceremony{}
	}
	for id, old := range c.m {
		if !now.Before(old.expires) {
			delete(c.m, id)
		}
	}
	if len(c.m) >= maxPasskeyCeremonies {
		// Log-in prompts are begun without a credential: the oldest makes
		// room, so a flood of them cannot lock the owner out, only make an
		// unfinished prompt start again. The owner's own prompts
		// (registration, decisions) are never evicted.
		oldest := ""
		for id, old := range c.m {
			if old.kind == ceremonyLogin && (oldest == "" || old.expires.Before(c.m[oldest].expires)) {
				oldest = id
			}
		}
		if oldest == "" {
			return "", agentotp.Errorf(agentotp.ERateLimit, "too many passkey prompts are open; try again in a few minutes")
		}
		delete(c.m, oldest)
	}
	id := rand.Text()
	c.m[id] = cer
	return id, nil
}

// take removes and returns a live ceremony of kind.
func (c *ceremonies) take(id, kind string, now time.Time) (*ceremony, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cer, ok := c.m[id]
	if !ok {
		return nil, false
	}
	delete(c.m, id)
	if cer.kind != kind || !now.Before(cer.expires) {
		return nil, false
	}
	return cer, true
}

// PasskeyRelyingParty is the relying party passkeys are made for: the
// host of the relay's public URL and its origin.
func (s *Service) PasskeyRelyingParty() (rpID string, origins []string, err error) {
	u, err := url.Parse(s.publicURL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", nil, agentotp.Errorf(agentotp.EServiceUnavailable, "passkeys need the relay's public URL (serve --public-url)")
	}
	return u.Hostname(), []string{u.Scheme + "://" + u.Host}, nil
}

func (s *Service) relyingParty() (*webauthn.WebAuthn, error) {
	rpID, origins, err := s.PasskeyRelyingParty()
	if err != nil {
		return nil, err
	}
	rp, err := webauthn.New(&webauthn.Config{RPID: rpID, RPDisplayName: "agentotp", RPOrigins: origins})
	if err != nil {
		return nil, agentotp.Errorf(agentotp.EServiceUnavailable, "passkeys cannot be used at %s: %v", s.publicURL, err)
	}
	return rp, nil
}

// passkeyOwner is an owner as a WebAuthn user, with its active passkeys.
type passkeyOwner struct {
	id    string
	creds []webauthn.Credential
}

func (o *passkeyOwner) WebAuthnID() []byte                         { return []byte(o.id) }
func (o *passkeyOwner) WebAuthnName() string                       { return "owner" }
func (o *passkeyOwner) WebAuthnDisplayName() string                { return "agentotp owner" }
func (o *passkeyOwner) WebAuthnCredentials() []webauthn.Credential { return o.creds }

func (s *Service) passkeyOwner(ctx context.Context, ownerID string) (*passkeyOwner, []*agentotp.SigningKey, error) {
	ks, err := s.store.ListSigningKeys(ctx, ownerID)
	if err != nil {
		return nil, nil, fmt.Errorf("passkeys of %s: %w", ownerID, err)
	}
	o := &passkeyOwner{id: ownerID}
	var active []*agentotp.SigningKey
	for _, k := range ks {
		if k.Method != approval.MethodWebAuthn || !k.Active() {
			continue
		}
		var c webauthn.Credential
		if err := json.Unmarshal(k.Credential, &c); err != nil {
			return nil, nil, fmt.Errorf("passkey %s: stored credential: %w", k.ID, err)
		}
		o.creds = append(o.creds, c)
		active = append(active, k)
	}
	return o, active, nil
}

// PasskeyPrompt is a begun ceremony: its id, to send back with the
// browser's answer, and the options for navigator.credentials.create or
// .get (JSON, as the browser's parse…OptionsFromJSON takes them).
type PasskeyPrompt struct {
	Ceremony string          `json:"ceremony"`
	Options  json.RawMessage `json:"options"`
}

func (s *Service) prompt(cer *ceremony, options any) (*PasskeyPrompt, error) {
	b, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("passkey options: %w", err)
	}
	cer.expires = s.Now().Add(passkeyCeremonyTTL)
	id, err := s.passkeys.put(cer, s.Now())
	if err != nil {
		return nil, err
	}
	return &PasskeyPrompt{Ceremony: id, Options: b}, nil
}

// BeginPasskeyRegistration starts adding a passkey for the owner: a
// discoverable credential with user verification, never one the owner has
// already.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, ownerID string) (*PasskeyPrompt, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	o, active, err := s.passkeyOwner(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	if len(active) >= maxPasskeys {
		return nil, agentotp.Errorf(agentotp.EConflict, "an owner has at most %d passkeys; remove one first", maxPasskeys)
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(o.creds))
	for _, c := range o.creds {
		exclude = append(exclude, c.Descriptor())
	}
	creation, session, err := rp.BeginRegistration(o,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	return s.prompt(&ceremony{kind: ceremonyRegister, ownerID: ownerID, session: *session}, creation.Response)
}

// FinishPasskeyRegistration checks the browser's answer to a registration
// and keeps the passkey (audited as a signing key added).
func (s *Service) FinishPasskeyRegistration(ctx context.Context, ownerID, ceremonyID, name string, response []byte) (*agentotp.SigningKey, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	cer, ok := s.passkeys.take(ceremonyID, ceremonyRegister, s.Now())
	if !ok || cer.ownerID != ownerID {
		return nil, agentotp.Errorf(agentotp.EValidation, "this passkey prompt is unknown or expired; start again")
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, agentotp.FieldErr("response", "is not a WebAuthn registration: %v", err)
	}
	o, _, err := s.passkeyOwner(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	cred, err := rp.CreateCredential(o, cer.session, parsed)
	if err != nil {
		s.log.WarnContext(ctx, "passkey registration refused", "owner_id", ownerID, "err", err)
		return nil, agentotp.FieldErr("response", "the passkey registration does not verify")
	}
	record, err := json.Marshal(cred)
	if err != nil {
		return nil, fmt.Errorf("passkey credential: %w", err)
	}
	now := s.Now()
	k := &agentotp.SigningKey{ID: agentotp.NewID("sgk_"), OwnerID: ownerID, Method: approval.MethodWebAuthn,
		KeyID: approval.PasskeyKeyID(cred.ID), PublicKey: cred.PublicKey, Credential: record, Name: name, CreatedAt: now}
	e := s.audit(ownerID, agentotp.ActorOwner, agentotp.AuditSigningKeyAdded, now)
	e.Details = map[string]string{"signing_key_id": k.ID, "key_id": k.KeyID, "name": name, "method": approval.MethodWebAuthn, "via": ViaDashboard}
	if err := s.store.CreateSigningKey(ctx, k, e); err != nil {
		if errors.Is(err, agentotp.ErrConflict) {
			return nil, agentotp.Errorf(agentotp.EConflict, "this passkey is registered already")
		}
		return nil, fmt.Errorf("add passkey: %w", err)
	}
	s.log.InfoContext(ctx, "passkey added", "owner_id", ownerID, "signing_key_id", k.ID)
	return k, nil
}

// BeginPasskeyLogin starts a dashboard log-in with a passkey: the
// authenticator picks the owner's discoverable credential.
func (s *Service) BeginPasskeyLogin(ctx context.Context) (*PasskeyPrompt, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	assertion, session, err := rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey log-in: %w", err)
	}
	return s.prompt(&ceremony{kind: ceremonyLogin, session: *session}, assertion.Response)
}

// FinishPasskeyLogin checks the browser's answer to a log-in and opens a
// session of ttl for the passkey's owner. Every failure is the same
// AUTHENTICATION_ERROR.
func (s *Service) FinishPasskeyLogin(ctx context.Context, ceremonyID string, response []byte, ttl time.Duration) (*NewSession, error) {
	cer, ok := s.passkeys.take(ceremonyID, ceremonyLogin, s.Now())
	if !ok {
		return nil, errPasskey
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, errPasskey
	}
	var ownerID string
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		o, _, err := s.passkeyOwner(ctx, string(userHandle))
		if err != nil {
			return nil, err
		}
		if len(o.creds) == 0 {
			return nil, errors.New("no passkey of this owner")
		}
		ownerID = o.id
		return o, nil
	}
	if _, _, err := rp.ValidatePasskeyLogin(handler, cer.session, parsed); err != nil || ownerID == "" {
		s.log.WarnContext(ctx, "passkey log-in refused", "err", err)
		return nil, errPasskey
	}
	if _, err := s.store.GetOwner(ctx, ownerID); err != nil {
		return nil, errPasskey
	}
	ns, e := s.newSession(ownerID, agentotp.LoginPasskey, ttl)
	if err := s.store.CreateSession(ctx, ns.Session, e); err != nil {
		return nil, fmt.Errorf("passkey log-in: %w", err)
	}
	s.log.InfoContext(ctx, "owner logged in", "owner_id", ownerID, "session", ns.Session.ID, "method", agentotp.LoginPasskey)
	return ns, nil
}

// BeginPasskeyDecision starts signing a decision on a pending request with
// one of the owner's passkeys: the challenge is derived from the decision's
// statement, which the prompt carries so the page can show it.
func (s *Service) BeginPasskeyDecision(ctx context.Context, ownerID, requestID string, approve bool) (*PasskeyPrompt, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	r, err := s.OwnerRequest(ctx, ownerID, requestID)
	if err != nil {
		return nil, err
	}
	if r.Status != agentotp.StatusPending {
		return nil, agentotp.Errorf(agentotp.EConflict, "the request is %s, not waiting for a decision", r.Status)
	}
	o, _, err := s.passkeyOwner(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	if len(o.creds) == 0 {
		return nil, agentotp.Errorf(agentotp.EConflict, "no passkey is registered; add one on the Passkeys page")
	}
	decision := approval.Deny
	if approve {
		decision = approval.Approve
	}
	stmt := approval.For(r, decision, s.Now()).Canonical()
	assertion, session, err := rp.BeginLogin(o,
		webauthn.WithChallenge(approval.PasskeyChallenge(stmt)),
		webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey decision: %w", err)
	}
	return s.prompt(&ceremony{kind: ceremonyDecide, ownerID: ownerID, session: *session, requestID: requestID, approve: approve, statement: stmt}, assertion.Response)
}

// FinishPasskeyDecision checks the browser's answer and records the
// decision with its passkey-signed statement (Decide checks the
// assertion again, as an edge would).
func (s *Service) FinishPasskeyDecision(ctx context.Context, ownerID, ceremonyID string, response []byte, d Decision) (*agentotp.Request, error) {
	if len(response) > approval.MaxAssertionLen {
		return nil, agentotp.FieldErr("response", "is %d bytes; at most %d", len(response), approval.MaxAssertionLen)
	}
	cer, ok := s.passkeys.take(ceremonyID, ceremonyDecide, s.Now())
	if !ok || cer.ownerID != ownerID || cer.approve != d.Approve {
		return nil, agentotp.Errorf(agentotp.EValidation, "this passkey prompt is unknown or expired; start again")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, agentotp.FieldErr("response", "is not a WebAuthn assertion: %v", err)
	}
	d.Signed = &approval.Signed{Statement: cer.statement, Method: approval.MethodWebAuthn,
		KeyID: approval.PasskeyKeyID(parsed.RawID), Signature: response}
	return s.Decide(ctx, ownerID, cer.requestID, d)
}
