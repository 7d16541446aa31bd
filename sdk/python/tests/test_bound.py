"""Issue 13 item 10 in the Python SDK: a capture source replays the RSA
ciphertext it delivered for one request into the agent's next request with
the same key. In the guide's plain form the old code opens; in the bound form
export_public_key sends by default, consume_otp refuses it (and a plain
ciphertext too)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

import agent_otp
from agent_otp import AgentOTPClient, DecryptionError, export_public_key, generate_key_pair

from .conftest import Relay


def _edge_seal(r: dict[str, Any], code: str) -> str:
    """What an edge does: seal the code to the request's key, in its form."""
    pk = r["public_key"]
    bound = pk.startswith("rsa-oaep-256-bound:")
    key = load_der_public_key(base64.b64decode(pk.split(":")[-1]))
    assert isinstance(key, rsa.RSAPublicKey)
    label = b"agentotp/v1:" + r["id"].encode() if bound else None
    ct = key.encrypt(code.encode(), padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label))
    return base64.b64encode(ct).decode()


@pytest.mark.parametrize(
    ("first", "again", "refused"),
    [(False, False, False), (True, True, True), (False, True, True)],
    ids=["plain-into-plain-is-not-bound", "bound-into-bound", "plain-into-bound"],
)
def test_a_replayed_rsa_ciphertext_is_refused_in_the_bound_form(relay: Relay, first: bool, again: bool, refused: bool) -> None:
    agent = relay.create_agent(f"replay-{first}-{again}", test=False)
    token = relay.create_source(f"replayer-{first}-{again}", "generic")
    edge = httpx.Client(base_url=relay.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    pub, priv = generate_key_pair("rsa")
    n = 0

    def open_request(bound: bool) -> dict[str, Any]:
        nonlocal n
        n += 1
        sender = f"REPLAY{n}"
        req = otp.request_otp(reason=f"replay {n}", public_key=export_public_key(pub, bound=bound),
                              filter={"sources": ["sms"], "sender_pattern": sender})
        relay.approve(req.id)
        [offered] = [r for r in edge.get("/v1/capture/requests").json()["data"] if r["id"] == req.id]
        return {**offered, "sender": sender}

    def deliver(r: dict[str, Any], payload: str) -> None:
        res = edge.post("/v1/capture/deliveries", json={
            "request_id": r["id"], "encrypted_payload": payload, "metadata": {"source": "sms", "sender": r["sender"]},
        })
        assert res.status_code == 202, res.text

    with AgentOTPClient(api_key=agent.api_key, base_url=relay.url) as otp:
        old = open_request(first)
        old_ct = _edge_seal(old, "111111")
        deliver(old, old_ct)
        assert otp.consume_otp(old["id"], priv).code == "111111"
        nxt = open_request(again)
        assert nxt["encryption"] == (agent_otp.RSA_OAEP_256_BOUND if again else agent_otp.RSA_OAEP_256)
        deliver(nxt, old_ct)  # the replay: the relay cannot tell
        if refused:
            with pytest.raises(DecryptionError) as e:
                otp.consume_otp(nxt["id"], priv)
            assert e.value.encrypted_payload == old_ct
        else:
            assert otp.consume_otp(nxt["id"], priv).code == "111111"
    edge.close()
