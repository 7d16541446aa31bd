"""Verification of the relay's webhooks (Standard Webhooks)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from email.message import Message
from typing import Any, Final, Mapping, Union

from ._errors import WebhookVerificationError
from ._models import WebhookEvent, parse_time

__all__ = ["verify_webhook", "DEFAULT_WEBHOOK_TOLERANCE", "MAX_WEBHOOK_BODY"]

#: Seconds a webhook-timestamp may be away from now, as in the Standard Webhooks libraries.
DEFAULT_WEBHOOK_TOLERANCE: Final = 300
#: The largest body verify_webhook accepts; the relay's are far smaller.
MAX_WEBHOOK_BODY: Final = 64 << 10

Headers = Union[Mapping[str, str], Message]


def _header(headers: Headers, name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name:
            return str(v).strip()
    return ""


def _fail(reason: str) -> WebhookVerificationError:
    return WebhookVerificationError(f"webhook verification failed: {reason}")


def verify_webhook(
    raw_body: bytes | str,
    headers: Headers,
    secret: str,
    *,
    tolerance: float = DEFAULT_WEBHOOK_TOLERANCE,
    now: float | None = None,
) -> WebhookEvent:
    """Verify a webhook the relay sent and return its event.

    Per the Standard Webhooks specification: ``webhook-timestamp`` within
    ``tolerance`` seconds of now, and one of the space-separated signatures
    of ``webhook-signature`` (or, when it is absent, ``X-OTP-Signature``)
    equal, compared in constant time, to ``v1,`` + base64 of
    HMAC-SHA256(key, ``webhook-id.webhook-timestamp.body``), where the key is
    the base64 after ``whsec_`` of the agent's secret. Pass the body exactly
    as received (bytes) and the request's headers (a dict, or
    ``http.server``'s ``self.headers``). Raises
    :class:`WebhookVerificationError`: answer 401 and do not act on it.
    """
    body = raw_body.encode("utf-8") if isinstance(raw_body, str) else bytes(raw_body)
    if len(body) > MAX_WEBHOOK_BODY:
        raise _fail(f"the body is larger than {MAX_WEBHOOK_BODY} bytes")
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise _fail("the secret is not whsec_ and base64")
    try:
        key = base64.b64decode(secret[len("whsec_"):], validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise _fail("the secret is not whsec_ and base64")
    wid = _header(headers, "webhook-id")
    ts_text = _header(headers, "webhook-timestamp")
    sigs = _header(headers, "webhook-signature") or _header(headers, "x-otp-signature")
    if not wid or not ts_text or not sigs:
        raise _fail("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not ts_text.isdigit():
        raise _fail("webhook-timestamp is not a number of seconds")
    age = (time.time() if now is None else now) - int(ts_text)
    if abs(age) > tolerance:
        raise _fail(f"webhook-timestamp is {int(age)} s away from now; at most {int(tolerance)} s allowed")
    want = hmac.new(key, f"{wid}.{ts_text}.".encode("utf-8") + body, hashlib.sha256).digest()
    ok = False
    for s in sigs.split():
        version, _, sig = s.partition(",")
        if version != "v1":
            continue
        try:
            got = base64.b64decode(sig, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(got, want):
            ok = True
    if not ok:
        raise _fail("no signature matches")
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise _fail("the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("request_id"), str) or not data["request_id"]:
        raise _fail("the body is not a webhook event")
    try:
        occurred = parse_time(data.get("occurred_at"))
    except ValueError:
        occurred = None
    return WebhookEvent(
        type=str(data.get("type", "")),
        request_id=data["request_id"],
        status=data.get("status", ""),
        occurred_at=occurred,
        webhook_id=wid,
    )
