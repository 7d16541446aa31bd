"""verify_approval / parse_trust: Go-made statements (sdk/testdata, written by
``go run ./sdk/testdata/approvalfixture`` and checked there by Go's own
client.VerifyApproval) for every key kind and a passkey; then a real relay
where the owner registers a signing key through the owner API, approves with
a statement this test builds and signs (the canonical form Go's
``approval.For(...).Canonical()`` writes), and the agent verifies; and the
refusals: unsigned, another agent key, tampered, unknown key, another owner,
another request, a signed denial."""

from __future__ import annotations

import base64
import copy
import json
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agent_otp import (
    AgentOTPClient,
    ApprovalVerificationError,
    AsyncAgentOTPClient,
    InvalidTrustError,
    export_public_key,
    generate_key_pair,
    import_public_key,
    parse_statement,
    parse_trust,
    signing_key_id,
    verify_approval,
)

from .conftest import Agent, Relay, start_relay

FIXTURE = json.loads((Path(__file__).resolve().parents[2] / "testdata" / "approval-fixtures.json").read_text())


def case(name: str) -> dict[str, Any]:
    return next(c for c in FIXTURE["cases"] if c["name"] == name)


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def e64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def with_approval(req: dict[str, Any], **kw: Any) -> dict[str, Any]:
    r = copy.deepcopy(req)
    r["approval"].update(kw)
    return r


def test_go_statements_verify_for_every_key_kind_and_the_passkey() -> None:
    trust = parse_trust(FIXTURE["trust"])
    assert len(FIXTURE["cases"]) == 4
    for c in FIXTURE["cases"]:
        st = verify_approval(trust, c["request"], c["public_key"])
        # The fingerprint this SDK computes is Go's seal.PublicKey.Fingerprint.
        assert st.key_fingerprint == c["request"]["public_key_fingerprint"] == import_public_key(c["public_key"]).fingerprint
        assert st.request_id == c["request"]["id"] and st.decision == "approve"
    assert parse_trust(json.dumps(FIXTURE["trust"])).owner_id == FIXTURE["trust"]["owner_id"]


def test_passkey_refusals() -> None:
    trust = parse_trust(FIXTURE["trust"])
    c = case("webauthn-x25519")
    req = c["request"]
    assertion = json.loads(b64(req["approval"]["signature"]))

    def resigned(edit: dict[str, Any]) -> dict[str, Any]:
        a = copy.deepcopy(assertion)
        a["response"].update(edit)
        return with_approval(req, signature=e64(json.dumps(a).encode()))

    sig = bytearray(base64.urlsafe_b64decode(assertion["response"]["signature"] + "=="))
    sig[-1] ^= 1
    bad = resigned({"signature": base64.urlsafe_b64encode(bytes(sig)).decode().rstrip("=")})
    with pytest.raises(ApprovalVerificationError, match="passkey assertion does not verify"):
        verify_approval(trust, bad, c["public_key"])
    # The assertion of one statement presented with another: the challenge differs.
    other = case("ed25519-x25519")
    swapped = with_approval(other["request"], method="webauthn", key_id=req["approval"]["key_id"], signature=req["approval"]["signature"])
    with pytest.raises(ApprovalVerificationError, match="passkey assertion does not verify"):
        verify_approval(trust, swapped, other["public_key"])
    elsewhere = parse_trust({**FIXTURE["trust"], "rp_id": "evil.example", "origins": ["https://evil.example"]})
    with pytest.raises(ApprovalVerificationError, match="passkey assertion does not verify"):
        verify_approval(elsewhere, req, c["public_key"])
    with pytest.raises(ApprovalVerificationError, match="user handle"):
        verify_approval(trust, resigned({"userHandle": "b3duX290aGVy"}), c["public_key"])


def test_ed25519_refusals_on_go_statements() -> None:
    trust = parse_trust(FIXTURE["trust"])
    c = case("ed25519-rsa")
    sig = bytearray(b64(c["request"]["approval"]["signature"]))
    sig[0] ^= 1
    with pytest.raises(ApprovalVerificationError, match="signature does not verify"):
        verify_approval(trust, with_approval(c["request"], signature=e64(bytes(sig))), c["public_key"])
    with pytest.raises(ApprovalVerificationError, match="not this agent's key"):
        verify_approval(trust, c["request"], case("ed25519-x25519")["public_key"])
    with pytest.raises(ApprovalVerificationError, match="not one of the owner's pinned keys"):
        verify_approval(trust, with_approval(c["request"], key_id=FIXTURE["trust"]["keys"][1]["key_id"]), c["public_key"])


def test_parse_statement_refuses_non_canonical_bytes() -> None:
    st = b64(case("ed25519-x25519")["request"]["approval"]["statement"]).decode()
    assert parse_statement(st.encode()).v == 1
    o = json.loads(st)
    for text in [
        json.dumps(o, indent=1),
        json.dumps({"request_id": o["request_id"], **o}, separators=(",", ":")),
        st[:-1] + ',"x":1}',
        st.replace('"v":1', '"v":2'),
        st.replace('"v":1', '"v":true'),
        st.replace('"approve"', '"appro\\u0076e"'),
        json.dumps({**o, "filter": {**o["filter"], "sources": ["sms", "email"]}}, separators=(",", ":")),
        st.replace('"approve"', '"maybe"'),
        "nope",
    ]:
        with pytest.raises(ApprovalVerificationError):
            parse_statement(text.encode())
    with pytest.raises(ApprovalVerificationError, match="at most 8192"):
        parse_statement(b" " * 9000)
    with pytest.raises(ApprovalVerificationError):
        parse_statement(b"\xff\xfe")


def test_mutations_are_refused_with_the_sdk_errors_only() -> None:
    """A bounded, seeded mutation run over the parsers (the Go side has FuzzParse)."""
    rng = random.Random(20261202)

    def mutate(b: bytes) -> bytes:
        out = bytearray(b)
        for _ in range(1 + rng.randrange(3)):
            i = rng.randrange(len(out) + 1)
            op = rng.randrange(3)
            if op == 0 and out:
                out[min(i, len(out) - 1)] = rng.randrange(256)
            elif op == 1:
                out.insert(i, rng.choice([0x22, 0x2C, 0x7B, 0x7D, 0x5C, 0x30, rng.randrange(256)]))
            elif out:
                del out[min(i, len(out) - 1)]
        return bytes(out)

    trust = parse_trust(FIXTURE["trust"])
    c = case("ed25519-x25519")
    st = b64(c["request"]["approval"]["statement"])
    trust_text = json.dumps(FIXTURE["trust"]).encode()
    for _ in range(1500):
        m = mutate(st)
        if m == st:
            continue  # a mutation that undid itself
        try:
            parse_statement(m)
        except ApprovalVerificationError:
            pass
        with pytest.raises(ApprovalVerificationError):
            verify_approval(trust, with_approval(c["request"], statement=e64(m)), c["public_key"])
        try:
            parse_trust(mutate(trust_text))
        except InvalidTrustError:
            pass
    a = c["request"]["approval"]
    for approval in [None, {}, {"statement": 42}, {"statement": "%%"}, {**a, "signature": "%%"}, "x",
                     {**a, "method": "webauthn", "key_id": FIXTURE["trust"]["keys"][1]["key_id"], "signature": e64(b'{"rawId":1}')}]:
        with pytest.raises(ApprovalVerificationError):
            verify_approval(trust, {**c["request"], "approval": approval}, c["public_key"])


def test_parse_trust_refuses_what_go_refuses() -> None:
    t = FIXTURE["trust"]
    ed, pk = t["keys"]
    for bad in [
        "{",
        {**t, "owner_id": ""},
        {**t, "keys": [{**ed, "key_id": "ed25519:AAAA"}]},
        {**t, "keys": [{**ed, "public_key": "AAAA"}]},
        {**t, "keys": [{**ed, "public_key": "!!"}]},
        {**t, "keys": [{**ed, "method": "rsa"}]},
        {**t, "rp_id": "", "keys": [pk]},
        {**t, "keys": [{**pk, "key_id": "webauthn:AAAA"}]},
        {**t, "keys": [{**pk, "credential": {**pk["credential"], "publicKey": ""}}]},
    ]:
        with pytest.raises(InvalidTrustError):
            parse_trust(bad)  # type: ignore[arg-type]
    assert parse_trust({"owner_id": "own_x", "keys": []}).keys == ()


def canonical(r: dict[str, Any], owner_id: str, decision: str) -> bytes:
    """Go's approval.For(r, decision, now).Canonical() for a request object as the relay returns it."""

    def stamp(t: str | None) -> str:
        if not t:
            return ""
        d = datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(timezone.utc)
        s = d.strftime("%Y-%m-%dT%H:%M:%S")
        if d.microsecond:
            s += ("." + f"{d.microsecond:06d}").rstrip("0")
        return s + "Z"

    f = r.get("filter") or {}
    st = {
        "v": 1, "request_id": r["id"], "owner_id": owner_id, "agent_id": r["agent_id"],
        "key_fingerprint": r["public_key_fingerprint"], "encryption": r["encryption"],
        "filter": {
            "sources": sorted(set(f.get("sources") or ["email", "sms"])),
            "sender_pattern": f.get("sender_pattern") or "", "content_pattern": f.get("content_pattern") or "",
            "received_after": stamp(f.get("received_after")),
        },
        "include_message": bool(r.get("include_message")), "expires_at": stamp(r["expires_at"]),
        "decision": decision, "decided_at": stamp(datetime.now(timezone.utc).isoformat()),
    }
    return json.dumps(st, separators=(",", ":"), ensure_ascii=False).encode()


class Owner:
    """The owner with a signing key registered through the owner API."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        k = relay.owner("POST", "/v1/owner/signing-keys", {"name": "python tests", "public_key": e64(raw)})
        assert k["key_id"] == signing_key_id(raw)
        self.key_id = k["key_id"]

    def decide(self, request_id: str, decision: str) -> Any:
        r = self.relay.owner("GET", f"/v1/owner/requests/{request_id}")
        trust = self.relay.owner("GET", "/v1/owner/trust")
        st = canonical(r, trust["owner_id"], decision)
        sig = self.key.sign(b"agentotp approval statement v1\x00" + st)
        body = {"approval": {"statement": e64(st), "method": "ed25519", "key_id": self.key_id, "signature": e64(sig)}}
        if decision == "deny":
            body["reason"] = "not now"
        return self.relay.owner("POST", f"/v1/owner/requests/{request_id}/{decision}", body)


@pytest.fixture(scope="module")
def signing_relay(relay_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    """A relay of its own: the signing key registered here is no other test's concern."""
    r = start_relay(relay_binary, tmp_path_factory.mktemp("signing-relay"))
    yield r
    r.stop()


@pytest.fixture(scope="module")
def owner(signing_relay: Relay) -> Owner:
    return Owner(signing_relay)


@pytest.fixture(scope="module")
def signer_agent(signing_relay: Relay) -> Agent:
    return signing_relay.create_agent("sdk-approval-signer", test=False)


def test_signed_approval_from_a_real_relay(signing_relay: Relay, owner: Owner, signer_agent: Agent) -> None:
    trust = parse_trust(signing_relay.owner("GET", "/v1/owner/trust"))
    assert owner.key_id in [k.key_id for k in trust.keys]
    with AgentOTPClient(api_key=signer_agent.api_key, base_url=signing_relay.url) as otp:
        def ask() -> tuple[str, Any]:
            pub, _ = generate_key_pair()
            r = otp.request_otp(reason="Sign up for Acme", public_key=export_public_key(pub),
                                filter={"sources": ["email"], "sender_pattern": "*@acme.example"})
            return r.id, pub

        rid, pub = ask()
        owner.decide(rid, "approve")
        got = otp.get_otp_status(rid)
        assert got.raw["approval"]["method"] == "ed25519"
        st = verify_approval(trust, got, pub)
        assert st.owner_id == trust.owner_id and st.agent_id == signer_agent.id
        verify_approval(trust, got, export_public_key(pub))

        # Unsigned: the owner token alone.
        plain, plain_pub = ask()
        signing_relay.approve(plain)
        unsigned = otp.get_otp_status(plain)
        assert unsigned.raw["approval"]["method"] == "none"
        with pytest.raises(ApprovalVerificationError, match="signing method 'none'"):
            verify_approval(trust, unsigned, plain_pub)

        # Another agent key than the one the owner approved.
        for kind in ("x25519", "rsa"):
            other, _ = generate_key_pair(kind)
            with pytest.raises(ApprovalVerificationError, match="not this agent's key"):
                verify_approval(trust, got, other)

        # A tampered statement.
        raw = dict(got.raw)
        text = b64(raw["approval"]["statement"]).decode().replace('"sender_pattern":"*@acme.example"', '"sender_pattern":"*"')
        raw["approval"] = {**raw["approval"], "statement": e64(text.encode())}
        with pytest.raises(ApprovalVerificationError, match="signature does not verify"):
            verify_approval(trust, raw, pub)

        # An unpinned key, another owner's trust file.
        with pytest.raises(ApprovalVerificationError, match="not one of the owner's pinned keys"):
            verify_approval(parse_trust({"owner_id": trust.owner_id, "keys": []}), got, pub)
        with pytest.raises(ApprovalVerificationError, match="not the pinned owner"):
            verify_approval(parse_trust({**signing_relay.owner("GET", "/v1/owner/trust"), "owner_id": "own_else"}), got, pub)

        # One request's statement on another request, or another agent.
        with pytest.raises(ApprovalVerificationError, match="about request"):
            verify_approval(trust, {**unsigned.raw, "approval": got.raw["approval"]}, pub)
        with pytest.raises(ApprovalVerificationError, match="about agent"):
            verify_approval(trust, {**got.raw, "agent_id": "agt_other"}, pub)

        # A signed denial is the owner's word, but not an approval.
        denied, denied_pub = ask()
        owner.decide(denied, "deny")
        with pytest.raises(ApprovalVerificationError, match="statement says deny"):
            verify_approval(trust, otp.get_otp_status(denied), denied_pub)

        pending, pending_pub = ask()
        with pytest.raises(ApprovalVerificationError, match="carries no approval"):
            verify_approval(trust, otp.get_otp_status(pending), pending_pub)


@pytest.mark.asyncio
async def test_async_client_requests_verify_the_same_way(signing_relay: Relay, owner: Owner, signer_agent: Agent) -> None:
    trust = parse_trust(signing_relay.owner("GET", "/v1/owner/trust"))
    async with AsyncAgentOTPClient(api_key=signer_agent.api_key, base_url=signing_relay.url) as otp:
        pub, _ = generate_key_pair("mlkem768x25519")
        r = await otp.request_otp(reason="Sign up for Acme", public_key=export_public_key(pub))
        owner.decide(r.id, "approve")
        assert verify_approval(trust, await otp.get_otp_status(r.id), pub).request_id == r.id
