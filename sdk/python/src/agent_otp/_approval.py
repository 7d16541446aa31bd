"""Verifying the owner's signed approval of a request against the owner's
pinned keys (a trust file), with the semantics of the Go SDK's
``client.VerifyApproval`` and package ``approval``. See the repository's
docs/design.md, "Approval statements".

Verification is local computation (no network), so the one synchronous
:func:`verify_approval` serves the sync and the async client alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ._errors import AgentOTPError
from ._keys import PublicKey, import_public_key
from ._models import OTPRequest

#: A statement signed by an owner signing key (``agentotp owner keygen``).
METHOD_ED25519 = "ed25519"
#: A statement signed by one of the owner's passkeys (WebAuthn).
METHOD_WEBAUTHN = "webauthn"
#: A statement no owner key signed (owner token alone, Telegram, a policy).
METHOD_NONE = "none"

_ED25519_CONTEXT = b"agentotp approval statement v1\x00"
_PASSKEY_CONTEXT = b"agentotp approval statement v1 passkey\x00"
#: package approval's MaxStatementLen and MaxAssertionLen.
MAX_STATEMENT_LEN = 8 << 10
MAX_ASSERTION_LEN = 16 << 10

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


class ApprovalVerificationError(AgentOTPError):
    """The request was not shown to be approved by its owner; the message says why."""


class InvalidTrustError(AgentOTPError, ValueError):
    """A trust file could not be read (also a ``ValueError``)."""


@dataclass(frozen=True)
class TrustedKey:
    """One owner public key of a trust file."""

    key_id: str
    method: str
    #: The raw 32-byte Ed25519 key (method ed25519).
    public_key: bytes | None = None
    #: The passkey's credential record, go-webauthn's JSON (method webauthn).
    credential: Mapping[str, Any] | None = None
    name: str = ""


@dataclass(frozen=True)
class Trust:
    """What an agent pins about its owner (``GET /v1/owner/trust``, ``agentotp owner trust``)."""

    owner_id: str
    rp_id: str = ""
    origins: tuple[str, ...] = ()
    keys: tuple[TrustedKey, ...] = field(default_factory=tuple)

    def key(self, key_id: str) -> TrustedKey | None:
        for k in self.keys:
            if k.key_id == key_id:
                return k
        return None


@dataclass(frozen=True)
class ApprovalFilter:
    sources: tuple[str, ...]
    sender_pattern: str
    content_pattern: str
    received_after: str


@dataclass(frozen=True)
class ApprovalStatement:
    """The owner's decision on one request, as its canonical bytes state it."""

    v: int
    request_id: str
    owner_id: str
    agent_id: str
    key_fingerprint: str
    encryption: str
    filter: ApprovalFilter
    include_message: bool
    expires_at: str
    #: ``"approve"`` or ``"deny"``.
    decision: str
    decided_at: str


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidTrustError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidTrustError(f"{what} is not valid base64") from None


def _b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")


def _b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def signing_key_id(raw_public_key: bytes) -> str:
    """``"ed25519:"`` and the base64url SHA-256 of a raw Ed25519 public key (Go's ``approval.KeyID``)."""
    return "ed25519:" + _b64url(hashlib.sha256(raw_public_key).digest())


def parse_trust(data: Union[str, bytes, Mapping[str, Any]]) -> Trust:
    """Read and check a trust file (its JSON text or the parsed object), like
    Go's ``approval.ParseTrust``: an owner id, and every key well formed and
    named by its key id. Raises :class:`InvalidTrustError`."""
    raw: Any = data
    if isinstance(data, (str, bytes)):
        try:
            raw = json.loads(data)
        except ValueError as e:
            raise InvalidTrustError(f"trust file: {e}") from None
    if not isinstance(raw, Mapping):
        raise InvalidTrustError("trust file: not a JSON object")
    owner_id = raw.get("owner_id")
    if not isinstance(owner_id, str) or owner_id == "":
        raise InvalidTrustError("trust file names no owner_id")
    rp_id = raw.get("rp_id") or ""
    origins = raw.get("origins") or []
    if not isinstance(rp_id, str):
        raise InvalidTrustError("trust file: rp_id is not a string")
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise InvalidTrustError("trust file: origins is not a list of strings")
    keys_in = raw.get("keys") or []
    if not isinstance(keys_in, list):
        raise InvalidTrustError("trust file: keys is not a list")
    keys: list[TrustedKey] = []
    for i, k in enumerate(keys_in):
        if not isinstance(k, Mapping):
            raise InvalidTrustError(f"trust file key {i}: not a JSON object")
        key_id, method, name = k.get("key_id"), k.get("method"), k.get("name") or ""
        if not isinstance(key_id, str):
            raise InvalidTrustError(f"trust file key {i}: key_id is not a string")
        if not isinstance(name, str):
            raise InvalidTrustError(f"trust file key {i}: name is not a string")
        if method == METHOD_ED25519:
            pub = _b64(k.get("public_key"), f"trust file key {i}: public_key")
            if len(pub) != 32:
                raise InvalidTrustError(f"trust file key {i}: an Ed25519 key is 32 bytes, not {len(pub)}")
            if signing_key_id(pub) != key_id:
                raise InvalidTrustError(f"trust file key {i}: key_id {key_id!r} does not name its public key")
            keys.append(TrustedKey(key_id, method, public_key=pub, name=name))
        elif method == METHOD_WEBAUTHN:
            c = k.get("credential")
            if not isinstance(c, Mapping):
                raise InvalidTrustError(f"trust file key {i}: passkey credential is not a JSON object")
            cid = _b64(c["id"], f"trust file key {i}: passkey credential id") if c.get("id") else b""
            cpk = _b64(c["publicKey"], f"trust file key {i}: passkey credential publicKey") if c.get("publicKey") else b""
            if not cid or not cpk:
                raise InvalidTrustError(f"trust file key {i}: passkey credential has no id or public key")
            if "webauthn:" + _b64url(cid) != key_id:
                raise InvalidTrustError(f"trust file key {i}: key_id {key_id!r} does not name its credential")
            if rp_id == "" or not origins:
                raise InvalidTrustError(f"trust file key {i} is a passkey, but the file names no rp_id and origins")
            keys.append(TrustedKey(key_id, method, credential=dict(c), name=name))
        else:
            raise InvalidTrustError(f"trust file key {i}: unknown method {method!r}")
    return Trust(owner_id=owner_id, rp_id=rp_id, origins=tuple(origins), keys=tuple(keys))


def _go_string(s: str) -> str:
    """A string as Go's encoding/json writes it with HTML escaping off."""
    return json.dumps(s, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _canonical(s: ApprovalStatement) -> str:
    f = s.filter
    g = _go_string
    return (
        f'{{"v":{s.v},"request_id":{g(s.request_id)},"owner_id":{g(s.owner_id)},"agent_id":{g(s.agent_id)},'
        f'"key_fingerprint":{g(s.key_fingerprint)},"encryption":{g(s.encryption)},'
        f'"filter":{{"sources":[{",".join(g(x) for x in f.sources)}],"sender_pattern":{g(f.sender_pattern)},'
        f'"content_pattern":{g(f.content_pattern)},"received_after":{g(f.received_after)}}},'
        f'"include_message":{"true" if s.include_message else "false"},"expires_at":{g(s.expires_at)},'
        f'"decision":{g(s.decision)},"decided_at":{g(s.decided_at)}}}'
    )


def _refuse(why: str) -> ApprovalVerificationError:
    return ApprovalVerificationError("approval refused: " + why)


def parse_statement(b: bytes) -> ApprovalStatement:
    """Read canonical statement bytes like Go's ``approval.Parse``: bytes that
    are not the canonical encoding of what they hold are refused, so a
    signature covers one meaning. Raises :class:`ApprovalVerificationError`."""
    if len(b) > MAX_STATEMENT_LEN:
        raise _refuse(f"approval: statement is {len(b)} bytes; at most {MAX_STATEMENT_LEN}")
    try:
        text = b.decode("utf-8")
        o = json.loads(text)
    except ValueError as e:
        raise _refuse(f"approval: statement: {e}") from None
    if not isinstance(o, dict) or not isinstance(o.get("filter"), dict):
        raise _refuse("approval: statement: not a statement object")
    f = o["filter"]

    def s(d: Mapping[str, Any], k: str) -> str:
        v = d.get(k)
        return v if isinstance(v, str) else ""

    src = f.get("sources")
    st = ApprovalStatement(
        v=o["v"] if isinstance(o.get("v"), int) and not isinstance(o.get("v"), bool) else -1,
        request_id=s(o, "request_id"),
        owner_id=s(o, "owner_id"),
        agent_id=s(o, "agent_id"),
        key_fingerprint=s(o, "key_fingerprint"),
        encryption=s(o, "encryption"),
        filter=ApprovalFilter(
            sources=tuple(src) if isinstance(src, list) and all(isinstance(x, str) for x in src) else (),
            sender_pattern=s(f, "sender_pattern"),
            content_pattern=s(f, "content_pattern"),
            received_after=s(f, "received_after"),
        ),
        include_message=o.get("include_message") is True,
        expires_at=s(o, "expires_at"),
        decision=s(o, "decision"),
        decided_at=s(o, "decided_at"),
    )
    if st.v != 1:
        raise _refuse(f"approval: statement version {o.get('v')!r}; this SDK reads 1")
    if _canonical(st) != text:
        raise _refuse("approval: statement is not in canonical form")
    if st.decision not in ("approve", "deny"):
        raise _refuse(f"approval: unknown decision {st.decision!r}")
    if not st.filter.sources or list(st.filter.sources) != sorted(st.filter.sources):
        raise _refuse("approval: filter sources must be listed, sorted")
    for t in (st.expires_at, st.decided_at):
        ok = _RFC3339.match(t) is not None
        if ok:
            try:
                datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", t).replace("Z", "+00:00"))
            except ValueError:
                ok = False
        if not ok:
            raise _refuse(f"approval: statement time {t!r} is not RFC 3339")
    return st


def _verify_ed25519(k: TrustedKey, statement: bytes, signature: bytes) -> None:
    assert k.public_key is not None
    try:
        Ed25519PublicKey.from_public_bytes(k.public_key).verify(signature, _ED25519_CONTEXT + statement)
    except InvalidSignature:
        raise ValueError("approval: the signature does not verify") from None


def _verify_passkey(trust: Trust, k: TrustedKey, statement: bytes, assertion: bytes) -> None:
    if len(assertion) > MAX_ASSERTION_LEN:
        raise ValueError(f"the passkey assertion is {len(assertion)} bytes; at most {MAX_ASSERTION_LEN}")
    if not trust.rp_id or not trust.origins:
        raise ValueError("the trust file pins no relying party (rp_id, origins) to check passkeys against")
    cred = k.credential or {}
    cred_id = _b64url(_b64(cred.get("id"), "passkey credential id"))
    try:
        resp = json.loads(assertion.decode("utf-8"))
        inner = resp["response"]
        if not isinstance(resp, dict) or not isinstance(inner, dict) or not isinstance(resp.get("rawId"), str):
            raise ValueError("not a PublicKeyCredential")
        auth_data = _b64url_decode(str(inner["authenticatorData"]))
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        raise ValueError(f"the passkey assertion does not parse: {e}") from None
    if resp["rawId"] != cred_id:
        raise ValueError("the passkey assertion comes from another credential than its key id names")
    # go-webauthn's login checks that py_webauthn leaves to its caller: the
    # user handle, when given, is the owner's; the backup-eligible flag is the
    # one the credential was registered with.
    handle = inner.get("userHandle")
    if isinstance(handle, str) and handle and handle != _b64url(trust.owner_id.encode()):
        raise ValueError("the passkey assertion does not verify: the user handle is not the owner")
    flags = cred.get("flags")
    be = flags.get("backupEligible") if isinstance(flags, Mapping) else None
    if isinstance(be, bool) and len(auth_data) > 32 and bool(auth_data[32] & 0x08) != be:
        raise ValueError("the passkey assertion does not verify: its backup-eligible flag differs from the pinned credential")
    try:
        from webauthn import verify_authentication_response
    except ImportError as e:
        raise ValueError(f"the 'webauthn' package cannot be loaded, so passkey approvals cannot be verified: {e}") from None
    try:
        res = verify_authentication_response(
            credential=resp,
            expected_challenge=hashlib.sha256(_PASSKEY_CONTEXT + statement).digest(),
            expected_rp_id=trust.rp_id,
            expected_origin=list(trust.origins),
            credential_public_key=_b64(cred.get("publicKey"), "passkey credential publicKey"),
            # A pinned trust file keeps no signature counter: like go-webauthn,
            # a counter is not enforced.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except Exception as e:  # noqa: BLE001 - py_webauthn raises several kinds; all are a refusal
        raise ValueError(f"the passkey assertion does not verify: {e}") from None
    if not res.user_verified:
        raise ValueError("the passkey assertion does not verify: the user was not verified")


def _approval_member(a: Any) -> tuple[bytes, str, str, bytes]:
    if not isinstance(a, Mapping):
        raise _refuse("the approval is not a JSON object")
    try:
        statement = _b64(a.get("statement"), "the statement")
        sig = _b64(a["signature"], "the signature") if a.get("signature") else b""
    except InvalidTrustError as e:
        raise _refuse(e.message) from None
    return statement, str(a.get("method", "")), str(a.get("key_id") or a.get("keyId") or ""), sig


def verify_statement(trust: Trust, approval: Mapping[str, Any]) -> ApprovalStatement:
    """Check that ``approval`` (a request's ``approval`` member) is a
    well-formed statement signed by one of ``trust``'s keys, about
    ``trust``'s owner (Go's ``Trust.Verify``), and return the statement. It
    does not look at what the statement says beyond its owner. Raises
    :class:`ApprovalVerificationError`."""
    statement, method, key_id, sig = _approval_member(approval)
    st = parse_statement(statement)
    if method not in (METHOD_ED25519, METHOD_WEBAUTHN):
        raise _refuse(f"signing method {method!r} is not one this checker knows")
    k = trust.key(key_id)
    if k is None or k.method != method:
        raise _refuse(f"signed by key {key_id!r}, which is not one of the owner's pinned keys")
    try:
        if method == METHOD_WEBAUTHN:
            _verify_passkey(trust, k, statement, sig)
        else:
            _verify_ed25519(k, statement, sig)
    except (ValueError, InvalidTrustError) as e:
        raise _refuse(str(e)) from None
    if st.owner_id != trust.owner_id:
        raise _refuse(f"the statement is for owner {st.owner_id!r}, not the pinned owner {trust.owner_id!r}")
    return st


def verify_approval(
    trust: Trust, request: Union[OTPRequest, Mapping[str, Any]], public_key: Union[PublicKey, str]
) -> ApprovalStatement:
    """Check, against the owner's pinned keys, that ``request`` was approved
    by its owner and not only by the relay: its statement is signed by one of
    ``trust``'s keys, approves this request of this owner and agent, and
    names the key the agent made the request with. ``public_key`` is the
    agent's own public key (a :class:`PublicKey` or its exported text): its
    fingerprint and algorithm are computed here, never taken from the relay.

    Returns the statement; raises :class:`ApprovalVerificationError`
    otherwise (an unsigned approval, ``method == "none"``, included).
    ``request`` is an :class:`OTPRequest` (its ``raw`` JSON carries the
    ``approval`` member) or the request object as JSON."""
    raw: Mapping[str, Any] = request.raw if isinstance(request, OTPRequest) else request
    rid = str(raw.get("id", ""))
    a = raw.get("approval")
    if not a:
        raise ApprovalVerificationError(f"agentotp: request {rid} carries no approval (status {raw.get('status')})")
    try:
        st = verify_statement(trust, a)
    except ApprovalVerificationError as e:
        raise ApprovalVerificationError(f"agentotp: request {rid}: {e.message}") from e
    pub = import_public_key(public_key) if isinstance(public_key, str) else public_key

    def fail(why: str) -> ApprovalVerificationError:
        return ApprovalVerificationError(f"agentotp: request {rid}: {why}")

    if st.decision != "approve":
        raise fail(f"the owner's statement says {st.decision}")
    if st.request_id != rid:
        raise fail(f"the statement is about request {st.request_id}")
    if st.agent_id != raw.get("agent_id"):
        raise fail(f"the statement is about agent {st.agent_id}")
    if st.key_fingerprint != pub.fingerprint or st.encryption != pub.algorithm:
        raise fail(f"the owner approved key {st.key_fingerprint} ({st.encryption}), not this agent's key {pub.fingerprint}")
    return st
