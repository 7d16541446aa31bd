"""A webhook receiver written with the standard library's http.server,
verifying the relay's real deliveries with verify_webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import httpx
import pytest
import standardwebhooks

import agent_otp
from agent_otp import WebhookVerificationError, verify_webhook

from .conftest import Agent, Relay


class Receiver:
    """POST /hook: verify, then 200 (and queue the event) or 401."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.events: queue.Queue[tuple[agent_otp.WebhookEvent, bytes, dict[str, str]]] = queue.Queue()
        self.rejected: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(min(length, agent_otp._webhook.MAX_WEBHOOK_BODY + 1))
                try:
                    event = verify_webhook(body, self.headers, receiver.secret)
                except WebhookVerificationError as e:
                    receiver.rejected.append(str(e))
                    self.send_response(401)
                    self.end_headers()
                    return
                receiver.events.put((event, body, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next_event(self, status: str, timeout: float = 30) -> tuple[agent_otp.WebhookEvent, bytes, dict[str, str]]:
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            assert left > 0, f"no {status} webhook within {timeout} s"
            item = self.events.get(timeout=left)
            if item[0].status == status:
                return item

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_agent(relay: Relay) -> Agent:
    return relay.create_agent("webhooks", test=True)


@pytest.fixture
def receiver(hook_agent: Agent) -> Iterator[Receiver]:
    r = Receiver(hook_agent.webhook_secret)
    yield r
    r.close()


def sign(secret: str, wid: str, ts: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return "v1," + base64.b64encode(hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()


def test_real_deliveries_verify_and_forgeries_do_not(relay: Relay, hook_agent: Agent, receiver: Receiver) -> None:
    pub, priv = agent_otp.generate_key_pair("x25519")
    with agent_otp.AgentOTPClient(api_key=hook_agent.api_key, base_url=relay.url) as otp:
        req = otp.request_otp(reason="webhook test", public_key=pub, webhook_url=receiver.url)
        event, body, headers = receiver.next_event("otp_received")
        assert event.request_id == req.id and event.type == "otp.status"
        assert event.webhook_id == headers["webhook-id"] and event.occurred_at is not None
        # The consume the webhook prompts; the webhook itself never holds the code.
        code = otp.consume_otp(event.request_id, priv).code
        assert code.encode() not in body
        receiver.next_event("consumed")
    assert receiver.rejected == []

    # The official Standard Webhooks package agrees on the real delivery.
    assert standardwebhooks.Webhook(hook_agent.webhook_secret).verify(body, headers)["request_id"] == req.id
    # X-OTP-Signature carries the same signature, for receivers that read only it.
    assert headers["x-otp-signature"] == headers["webhook-signature"]
    only_x = {k: v for k, v in headers.items() if k != "webhook-signature"}
    assert verify_webhook(body, only_x, hook_agent.webhook_secret).request_id == req.id

    # A tampered body, replayed to the receiver, is refused with 401.
    tampered = body.replace(b'"otp_received"', b'"denied"')
    assert tampered != body
    with pytest.raises(WebhookVerificationError, match="no signature matches"):
        verify_webhook(tampered, headers, hook_agent.webhook_secret)
    fwd = {k: v for k, v in headers.items() if k.startswith(("webhook-", "x-otp-"))}
    r = httpx.post(receiver.url, content=tampered, headers={**fwd, "Content-Type": "application/json"})
    assert r.status_code == 401 and "no signature matches" in receiver.rejected[-1]

    # A stale timestamp is refused even when its signature is right.
    ts = int(headers["webhook-timestamp"])
    with pytest.raises(WebhookVerificationError, match="away from now"):
        verify_webhook(body, headers, hook_agent.webhook_secret, now=ts + 301)
    stale = str(int(time.time()) - 600)
    resigned = {**fwd, "webhook-timestamp": stale, "webhook-signature": sign(hook_agent.webhook_secret, fwd["webhook-id"], stale, body)}
    resigned.pop("x-otp-signature")
    r = httpx.post(receiver.url, content=body, headers={**resigned, "Content-Type": "application/json"})
    assert r.status_code == 401 and "away from now" in receiver.rejected[-1]
    # ...and the same, freshly timestamped, is accepted: the refusal was the time alone.
    fresh = str(int(time.time()))
    ok = {**resigned, "webhook-timestamp": fresh, "webhook-signature": sign(hook_agent.webhook_secret, fwd["webhook-id"], fresh, body)}
    assert verify_webhook(body, ok, hook_agent.webhook_secret).request_id == req.id

    # Another agent's secret does not verify it; a malformed secret is an error too.
    other = relay.create_agent("webhooks-other", test=True)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, other.webhook_secret)
    with pytest.raises(WebhookVerificationError, match="whsec_"):
        verify_webhook(body, headers, "not-a-secret")
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify_webhook(body, {"webhook-id": "x"}, hook_agent.webhook_secret)
    assert json.loads(body)["status"] == "otp_received"


def test_a_key_rotation_with_grace_signs_with_both_secrets(relay: Relay) -> None:
    """During a key rotation's grace period each delivery carries one signature
    per secret; a receiver still holding the old secret verifies it, and so
    does one with the new."""
    old = relay.create_agent("webhooks-rotated", test=True)
    rot = relay.owner("POST", f"/v1/owner/agents/{old.id}/rotate", {"grace_period_seconds": 3600})
    new_secret = rot["webhook_secret"]
    assert new_secret != old.webhook_secret
    receiver = Receiver(old.webhook_secret)  # a receiver not yet told of the new secret
    try:
        pub, _ = agent_otp.generate_key_pair("x25519")
        with agent_otp.AgentOTPClient(api_key=rot["api_key"], base_url=relay.url) as otp:
            otp.request_otp(reason="rotated", public_key=pub, webhook_url=receiver.url)
            _, body, headers = receiver.next_event("otp_received")
        assert receiver.rejected == []
        assert len(headers["webhook-signature"].split()) == 2
        assert verify_webhook(body, headers, new_secret).status == "otp_received"
        assert verify_webhook(body, headers, old.webhook_secret).status == "otp_received"
        assert standardwebhooks.Webhook(old.webhook_secret).verify(body, headers)["status"] == "otp_received"
    finally:
        receiver.close()
