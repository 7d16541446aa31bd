"""Error classes of the SDK.

Every error the SDK raises is an :class:`AgentOTPError`. Errors answered by
the relay (an RFC 9457 ``application/problem+json`` document) carry the HTTP
status, the relay's ``code`` and message; the subclass follows from the code.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import OTPRequest

__all__ = [
    "AgentOTPError",
    "AuthenticationError",
    "ValidationError",
    "RateLimitError",
    "OTPNotFoundError",
    "OTPNotReadyError",
    "OTPExpiredError",
    "OTPAlreadyConsumedError",
    "OTPApprovalDeniedError",
    "OTPCancelledError",
    "DecryptionError",
    "TimeoutError",
    "NetworkError",
    "ServerError",
    "InvalidKeyError",
    "WebhookVerificationError",
    "FieldError",
]


@dataclass(frozen=True)
class FieldError:
    """One invalid field of a rejected request."""

    field: str
    message: str


class AgentOTPError(Exception):
    """Base class of every error of the SDK.

    ``status_code`` is the HTTP status (``None`` when no answer arrived),
    ``code`` the relay's error code (``OTP_EXPIRED`` …, ``None`` for local
    errors). ``request`` is set when the error happened after a request was
    created (for example a network failure while ``request_otp`` waited), so
    that it can be cancelled or waited for again.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request: OTPRequest | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request = request

    def __str__(self) -> str:
        if self.code:
            return f"{self.message} ({self.code})"
        return self.message


class AuthenticationError(AgentOTPError):
    """The API key is missing, unknown, revoked or of the wrong kind (401)."""


class ValidationError(AgentOTPError):
    """The relay refused the request's input (422); ``fields`` says which."""

    def __init__(self, message: str, *, fields: list[FieldError] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.fields: list[FieldError] = list(fields or [])

    def __str__(self) -> str:
        s = super().__str__()
        if self.fields:
            s += ": " + "; ".join(f"{f.field}: {f.message}" for f in self.fields)
        return s


class RateLimitError(AgentOTPError):
    """Too many calls or live requests (429); retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class OTPNotFoundError(AgentOTPError):
    """No such request for this API key (404)."""


class OTPNotReadyError(AgentOTPError):
    """Nothing was received for the request yet (409)."""


class OTPExpiredError(AgentOTPError):
    """The request's time to live passed (410)."""


class OTPAlreadyConsumedError(AgentOTPError):
    """The code was read already; it can be read only once (410)."""


class OTPApprovalDeniedError(AgentOTPError):
    """The owner (or a policy) denied the request (403); ``reason`` is the owner's."""

    def __init__(self, message: str, *, reason: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reason = reason


class OTPCancelledError(AgentOTPError):
    """The request was cancelled (410)."""


class DecryptionError(AgentOTPError):
    """The private key cannot open the code.

    Raised before anything is consumed when the key does not belong to the
    request. Should decryption fail after the relay handed the code over, the
    ciphertext is kept here (``encrypted_payload`` …) so that
    :func:`agent_otp.decrypt_otp_payload` can be tried again with the right key.
    """

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        encryption: str | None = None,
        encrypted_payload: str | None = None,
        encrypted_content: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.request_id = request_id
        self.encryption = encryption
        self.encrypted_payload = encrypted_payload
        self.encrypted_content = encrypted_content


class TimeoutError(AgentOTPError, builtins.TimeoutError):
    """Waiting ran out while the request was still pending or approved.

    ``request`` is the request as it stands. Also a builtin ``TimeoutError``.
    """


class NetworkError(AgentOTPError):
    """The relay could not be reached, or the connection broke."""


class ServerError(AgentOTPError):
    """The relay failed (5xx). ``retry_after`` is the Retry-After it sent (seconds), if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


def is_transient(e: BaseException | None) -> bool:
    """Whether ``e`` is an error a restarting relay causes and a later try may
    not: the connection refused, reset or cut short, a 502, 503 or 504, or an
    empty or truncated answer. Waits (``wait_for_otp``, and ``request_otp``
    with ``wait_for_otp``) retry these until their timeout."""
    if isinstance(e, NetworkError):
        return True
    if isinstance(e, ServerError):
        return e.status_code in (502, 503, 504)
    return False


class InvalidKeyError(AgentOTPError, ValueError):
    """A key could not be read or made (also a ``ValueError``)."""


class WebhookVerificationError(AgentOTPError):
    """A webhook failed verification: answer it with 401 and do not act on it."""


def error_from_problem(status: int, problem: dict[str, Any], retry_after_header: str | None) -> AgentOTPError:
    """Turn a relay's problem document into the error of its class."""
    code = problem.get("code") if isinstance(problem.get("code"), str) else None
    message = problem.get("message") or problem.get("detail") or problem.get("title") or f"HTTP {status}"
    if not isinstance(message, str):
        message = f"HTTP {status}"
    kw: dict[str, Any] = {"status_code": status, "code": code}
    cls = _class_of(status, code)
    if cls is ValidationError:
        raw = problem.get("errors")
        fields = [
            FieldError(str(e.get("field", "")), str(e.get("message", "")))
            for e in (raw if isinstance(raw, list) else [])
            if isinstance(e, dict)
        ]
        return ValidationError(message, fields=fields, **kw)
    if cls is RateLimitError or cls is ServerError:
        retry: float | None = None
        ra = problem.get("retry_after")
        if isinstance(ra, (int, float)) and not isinstance(ra, bool) and ra > 0:
            retry = float(ra)
        elif retry_after_header and retry_after_header.strip().isdigit():
            retry = float(retry_after_header.strip())
        if cls is ServerError:
            return ServerError(message, retry_after=retry, **kw)
        return RateLimitError(message, retry_after=retry, **kw)
    if cls is OTPApprovalDeniedError:
        reason = problem.get("deny_reason")
        return OTPApprovalDeniedError(message, reason=reason if isinstance(reason, str) and reason else None, **kw)
    return cls(message, **kw)


_BY_CODE: dict[str, type[AgentOTPError]] = {
    "AUTHENTICATION_ERROR": AuthenticationError,
    "VALIDATION_ERROR": ValidationError,
    "PAYLOAD_TOO_LARGE": ValidationError,
    "UNSUPPORTED_MEDIA_TYPE": ValidationError,
    "RATE_LIMIT_ERROR": RateLimitError,
    "OTP_NOT_FOUND": OTPNotFoundError,
    "NOT_FOUND": OTPNotFoundError,
    "OTP_NOT_READY": OTPNotReadyError,
    "OTP_EXPIRED": OTPExpiredError,
    "OTP_ALREADY_CONSUMED": OTPAlreadyConsumedError,
    "OTP_APPROVAL_DENIED": OTPApprovalDeniedError,
    "OTP_CANCELLED": OTPCancelledError,
    "INTERNAL_ERROR": ServerError,
    "SERVICE_UNAVAILABLE": ServerError,
}


def _class_of(status: int, code: str | None) -> type[AgentOTPError]:
    if code and code in _BY_CODE:
        return _BY_CODE[code]
    if status == 401:
        return AuthenticationError
    if status == 429:
        return RateLimitError
    if status == 404:
        return OTPNotFoundError
    if status in (400, 413, 415, 422):
        return ValidationError
    if status >= 500:
        return ServerError
    return AgentOTPError
