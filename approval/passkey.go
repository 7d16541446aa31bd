package approval

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// MethodWebAuthn is a statement signed by one of the owner's passkeys: the
// signature is the WebAuthn assertion (the browser's PublicKeyCredential
// JSON) over the challenge PasskeyChallenge derives from the statement.
const MethodWebAuthn = "webauthn"

// passkeyContext separates statement challenges from any other WebAuthn
// challenge the relay issues (log-in, registration).
const passkeyContext = "agentotp approval statement v1 passkey\x00"

// MaxAssertionLen bounds a passkey signature (the assertion JSON).
const MaxAssertionLen = 16 << 10

// PasskeyChallenge is the WebAuthn challenge that makes a passkey
// assertion a signature over canonical statement bytes: the SHA-256 of a
// context string and the statement.
func PasskeyChallenge(canonical []byte) []byte {
	h := sha256.New()
	h.Write([]byte(passkeyContext))
	h.Write(canonical)
	return h.Sum(nil)
}

// PasskeyKeyID names a passkey: "webauthn:" and the base64url credential
// id.
func PasskeyKeyID(credentialID []byte) string {
	return "webauthn:" + base64.RawURLEncoding.EncodeToString(credentialID)
}

// passkeyUser is the owner as go-webauthn's relying party sees it, with the
// one pinned credential an assertion must come from.
type passkeyUser struct {
	id   []byte
	cred webauthn.Credential
}

func (u passkeyUser) WebAuthnID() []byte          { return u.id }
func (u passkeyUser) WebAuthnName() string        { return "owner" }
func (u passkeyUser) WebAuthnDisplayName() string { return "owner" }
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential {
	return []webauthn.Credential{u.cred}
}

// parsePasskey reads a pinned passkey credential and checks that its key
// id names it.
func parsePasskey(k *TrustedKey) (webauthn.Credential, error) {
	var c webauthn.Credential
	if err := json.Unmarshal(k.Credential, &c); err != nil {
		return c, fmt.Errorf("passkey credential: %w", err)
	}
	if len(c.ID) == 0 || len(c.PublicKey) == 0 {
		return c, errors.New("passkey credential has no id or public key")
	}
	if PasskeyKeyID(c.ID) != k.KeyID {
		return c, fmt.Errorf("key_id %q does not name its credential", k.KeyID)
	}
	return c, nil
}

// verifyPasskey checks a passkey assertion over canonical statement bytes
// with go-webauthn's relying-party checks: the challenge is the
// statement's, the origin and relying-party id are the pinned ones, the
// user was present and verified, and the credential's key signed it.
func (t *Trust) verifyPasskey(k *TrustedKey, canonical, assertion []byte) error {
	if len(assertion) > MaxAssertionLen {
		return fmt.Errorf("the passkey assertion is %d bytes; at most %d", len(assertion), MaxAssertionLen)
	}
	if t.RPID == "" || len(t.Origins) == 0 {
		return errors.New("the trust file pins no relying party (rp_id, origins) to check passkeys against")
	}
	cred, err := parsePasskey(k)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(assertion)
	if err != nil {
		return fmt.Errorf("the passkey assertion does not parse: %w", err)
	}
	if !bytes.Equal(parsed.RawID, cred.ID) {
		return errors.New("the passkey assertion comes from another credential than its key id names")
	}
	rp, err := webauthn.New(&webauthn.Config{RPID: t.RPID, RPDisplayName: "agentotp", RPOrigins: t.Origins})
	if err != nil {
		return fmt.Errorf("relying party %q: %w", t.RPID, err)
	}
	session := webauthn.SessionData{
		Challenge:            base64.RawURLEncoding.EncodeToString(PasskeyChallenge(canonical)),
		RelyingPartyID:       t.RPID,
		UserID:               []byte(t.OwnerID),
		AllowedCredentialIDs: [][]byte{cred.ID},
		UserVerification:     protocol.VerificationRequired,
	}
	if _, err := rp.ValidateLogin(passkeyUser{id: []byte(t.OwnerID), cred: cred}, session, parsed); err != nil {
		return fmt.Errorf("the passkey assertion does not verify: %w", describeWebAuthnErr(err))
	}
	return nil
}

// describeWebAuthnErr adds go-webauthn's details to its error text.
func describeWebAuthnErr(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return fmt.Errorf("%w: %s", err, pe.Details)
	}
	return err
}
