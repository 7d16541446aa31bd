"""Typed results: the relay's request object, a consumed code, a webhook event."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Literal, Mapping, TypedDict, Union

__all__ = [
    "OTPStatus",
    "WAITING_STATUSES",
    "FINAL_STATUSES",
    "OTPFilter",
    "FilterDict",
    "MessageMetadata",
    "OTPRequest",
    "ConsumeResult",
    "IngestResult",
    "WebhookEvent",
]

OTPStatus = Literal["pending_approval", "approved", "otp_received", "consumed", "denied", "expired", "cancelled"]

#: Statuses in which a request may still change on its own.
WAITING_STATUSES: Final = frozenset({"pending_approval", "approved"})
#: Statuses a request never leaves.
FINAL_STATUSES: Final = frozenset({"consumed", "denied", "expired", "cancelled"})

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time of the relay (nanoseconds allowed) as an aware datetime."""
    if not isinstance(value, str) or not value:
        return None
    m = _RFC3339.match(value)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {value[:40]!r}")
    date, clock, frac, tz = m.groups()
    micro = (frac or "0")[:6].ljust(6, "0")
    dt = datetime.fromisoformat(f"{date}T{clock}.{micro}")
    if tz in ("Z", "z"):
        return dt.replace(tzinfo=timezone.utc)
    sign = 1 if tz[0] == "+" else -1
    hours, minutes = int(tz[1:3]), int(tz[4:6])
    return dt.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))


def format_time(value: datetime) -> str:
    """An RFC 3339 UTC string; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class FilterDict(TypedDict, total=False):
    """``filter=`` as a dict, with the API's snake_case keys."""

    sources: list[str]
    sender_pattern: str
    content_pattern: str
    received_after: Union[str, datetime]


@dataclass(frozen=True)
class OTPFilter:
    """Which message may feed a request.

    ``sources``: ``"sms"``, ``"email"`` (default both); ``sender_pattern``: a
    case-insensitive glob over the sender; ``content_pattern``: an RE2 regular
    expression over the text; ``received_after``: older messages never match.
    """

    sources: list[str] | None = None
    sender_pattern: str | None = None
    content_pattern: str | None = None
    received_after: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sources is not None:
            out["sources"] = list(self.sources)
        if self.sender_pattern:
            out["sender_pattern"] = self.sender_pattern
        if self.content_pattern:
            out["content_pattern"] = self.content_pattern
        if self.received_after is not None:
            out["received_after"] = format_time(self.received_after)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> OTPFilter:
        src = d.get("sources")
        return cls(
            sources=[str(s) for s in src] if isinstance(src, list) else None,
            sender_pattern=d.get("sender_pattern") or None,
            content_pattern=d.get("content_pattern") or None,
            received_after=parse_time(d.get("received_after")),
        )


def filter_to_json(f: OTPFilter | Mapping[str, Any]) -> dict[str, Any]:
    """The API form of ``filter=``: an OTPFilter, or a dict with snake_case keys.

    Keys are passed on as given (the relay refuses unknown ones with a
    ValidationError); a datetime ``received_after`` becomes RFC 3339.
    """
    if isinstance(f, OTPFilter):
        return f.to_json()
    out = dict(f)
    ra = out.get("received_after")
    if isinstance(ra, datetime):
        out["received_after"] = format_time(ra)
    return out


@dataclass(frozen=True)
class MessageMetadata:
    """The message that fed a request: never its text."""

    source: str
    sender: str
    subject: str | None = None
    received_at: datetime | None = None
    message_id: str | None = None
    confidence: float | None = None
    domain: str | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MessageMetadata:
        conf = d.get("confidence")
        return cls(
            source=str(d.get("source", "")),
            sender=str(d.get("sender", "")),
            subject=d.get("subject") or None,
            received_at=parse_time(d.get("received_at")),
            message_id=d.get("message_id") or None,
            confidence=float(conf) if isinstance(conf, (int, float)) else None,
            domain=d.get("domain") or None,
        )


def _metadata(v: object) -> MessageMetadata | None:
    return MessageMetadata.from_json(v) if isinstance(v, dict) else None


@dataclass(frozen=True)
class OTPRequest:
    """The relay's request object (``request.id``, ``request.status`` …)."""

    id: str
    status: OTPStatus
    reason: str
    encryption: str
    public_key_fingerprint: str
    created_at: datetime | None
    expires_at: datetime | None
    agent_id: str | None = None
    expected_sender: str | None = None
    filter: OTPFilter | None = None
    include_message: bool = False
    webhook_url: str | None = None
    approval_url: str | None = None
    test: bool = False
    decided_at: datetime | None = None
    decided_by: str | None = None
    deny_reason: str | None = None
    metadata: MessageMetadata | None = None
    consumed_at: datetime | None = None
    #: The JSON object as the relay sent it, members this SDK does not know included.
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_waiting(self) -> bool:
        """True while pending approval or approved and waiting for the message."""
        return self.status in WAITING_STATUSES

    @property
    def is_final(self) -> bool:
        """True once consumed, denied, expired or cancelled."""
        return self.status in FINAL_STATUSES

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> OTPRequest:
        f = d.get("filter")
        return cls(
            id=str(d["id"]),
            status=d["status"],
            reason=str(d.get("reason", "")),
            encryption=str(d.get("encryption", "")),
            public_key_fingerprint=str(d.get("public_key_fingerprint", "")),
            created_at=parse_time(d.get("created_at")),
            expires_at=parse_time(d.get("expires_at")),
            agent_id=d.get("agent_id") or None,
            expected_sender=d.get("expected_sender") or None,
            filter=OTPFilter.from_json(f) if isinstance(f, dict) else None,
            include_message=bool(d.get("include_message", False)),
            webhook_url=d.get("webhook_url") or None,
            approval_url=d.get("approval_url") or None,
            test=bool(d.get("test", False)),
            decided_at=parse_time(d.get("decided_at")),
            decided_by=d.get("decided_by") or None,
            deny_reason=d.get("deny_reason") or None,
            metadata=_metadata(d.get("metadata")),
            consumed_at=parse_time(d.get("consumed_at")),
            raw=dict(d),
        )

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


@dataclass(frozen=True)
class ConsumeResult:
    """A consumed, decrypted code: ``result.code``.

    ``full_message`` is the message text when the request asked for it
    (``include_message=True``) and the owner allowed it. It is untrusted
    input: never feed it to a model as instructions.
    """

    id: str
    code: str
    full_message: str | None
    metadata: MessageMetadata | None
    encryption: str
    #: The base64 ciphertexts as the relay handed them over.
    encrypted_payload: str = field(repr=False)
    encrypted_content: str | None = field(default=None, repr=False)

    @property
    def success(self) -> bool:
        """Always True: a failure raises instead (kept for the guide's ``result.success``)."""
        return True

    def __repr__(self) -> str:
        # The code is a secret: keep it out of logs and tracebacks.
        return f"ConsumeResult(id={self.id!r}, code='…', encryption={self.encryption!r})"


@dataclass(frozen=True)
class IngestResult:
    """Whether a message posted with a test key fed a request."""

    message_id: str
    matched: bool
    duplicate: bool = False
    #: Why the message fed no request, when ``matched`` is false and it is
    #: no duplicate: ``"no_match"`` (no waiting request's filter takes it)
    #: or ``"no_code"`` (a filter takes it, but no code could be read in it).
    reason: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: a status change of one request. It never holds the code."""

    type: str
    request_id: str
    status: OTPStatus
    occurred_at: datetime | None
    #: The webhook-id header (for de-duplication: a delivery may be retried).
    webhook_id: str
