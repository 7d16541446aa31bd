"""What the sync and the async client share: configuration, request bodies,
answers, errors and the retry rule. The two clients only do the I/O."""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Final, Mapping
from urllib.parse import quote

import httpx

from ._errors import (
    AgentOTPError,
    AuthenticationError,
    DecryptionError,
    NetworkError,
    ServerError,
    TimeoutError,
    error_from_problem,
    is_transient,
)
from ._keys import PrivateKey, PublicKey, decrypt_otp_payload
from ._models import ConsumeResult, IngestResult, OTPFilter, OTPRequest, _metadata, filter_to_json, format_time

DEFAULT_BASE_URL: Final = "http://127.0.0.1:8787"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_WAIT_TIMEOUT: Final = 120.0
MAX_LONG_POLL: Final = 55
#: The longest pause between tries of a wait of our own choosing, in seconds.
WAIT_BACKOFF_MAX: Final = 5.0
#: The longest Retry-After honoured, in seconds.
RETRY_AFTER_LIMIT: Final = 30.0
_MAX_ANSWER: Final = 4 << 20

__version__ = "0.1.0"


@dataclass(frozen=True)
class Call:
    """One API call."""

    method: str
    path: str
    body: bytes | None = None
    #: Extra seconds the relay may hold the answer (a long-poll).
    hold: float = 0.0


@dataclass
class WaitState:
    """Where a wait stands (Core.wait_*)."""

    request_id: str
    timeout: float
    poll: int
    deadline: float
    base: float
    delay: float
    last: OTPRequest | None = None
    retrying: AgentOTPError | None = None
    started: float = 0.0
    secs: int = 0


class Core:
    """Configuration and the pure parts of every call."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        backoff: float,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("AGENT_OTP_API_KEY", "")
        key = key.strip()
        if not key:
            raise AuthenticationError("no API key: pass api_key= or set AGENT_OTP_API_KEY")
        url = base_url or os.environ.get("AGENT_OTP_BASE_URL") or os.environ.get("AGENTOTP_URL") or DEFAULT_BASE_URL
        if not url.startswith(("http://", "https://")):
            raise AgentOTPError(f"base_url must start with http:// or https://, not {url[:40]!r}")
        if timeout <= 0:
            raise AgentOTPError("timeout must be positive seconds")
        self.api_key = key
        self.base_url = url.rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff = max(0.0, float(backoff))
        self.headers = {
            "Authorization": f"Bearer {key}",
            "Accept": "application/json",
            "User-Agent": f"agent-otp-python/{__version__}",
        }

    def __repr__(self) -> str:
        return f"<{self.base_url} key={self.api_key[:12]}…>"

    # --- building calls ---------------------------------------------------

    @staticmethod
    def _json(body: Mapping[str, Any]) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    def create_call(
        self,
        *,
        reason: str,
        public_key: str | PublicKey,
        expected_sender: str | None,
        filter: OTPFilter | Mapping[str, Any] | None,
        ttl: int | float | None,
        webhook_url: str | None,
        include_message: bool,
    ) -> Call:
        pk = str(public_key) if isinstance(public_key, PublicKey) else public_key
        body: dict[str, Any] = {"reason": reason, "public_key": pk}
        if expected_sender:
            body["expected_sender"] = expected_sender
        if filter:
            body["filter"] = filter_to_json(filter)
        if ttl is not None:
            body["ttl"] = int(ttl)
        if webhook_url:
            body["webhook_url"] = webhook_url
        if include_message:
            body["include_message"] = True
        return Call("POST", "/v1/otp/request", self._json(body))

    @staticmethod
    def _otp_path(request_id: str) -> str:
        if not isinstance(request_id, str) or not request_id:
            raise AgentOTPError("a request id is required")
        return "/v1/otp/" + quote(request_id, safe="")

    def status_call(self, request_id: str, wait: int = 0) -> Call:
        path = self._otp_path(request_id)
        if wait > 0:
            wait = max(1, min(MAX_LONG_POLL, wait))
            return Call("GET", f"{path}?wait={wait}", hold=float(wait))
        return Call("GET", path)

    def consume_call(self, request_id: str) -> Call:
        return Call("POST", self._otp_path(request_id) + "/consume")

    def cancel_call(self, request_id: str) -> Call:
        return Call("DELETE", self._otp_path(request_id))

    def test_message_call(
        self,
        *,
        source: str,
        sender: str,
        subject: str | None,
        text: str | None,
        html: str | None,
        received_at: Any,
        external_id: str | None,
    ) -> Call:
        body: dict[str, Any] = {"source": source, "sender": sender}
        for k, v in (("subject", subject), ("text", text), ("html", html), ("external_id", external_id)):
            if v:
                body[k] = v
        if received_at is not None:
            body["received_at"] = received_at if isinstance(received_at, str) else format_time(received_at)
        return Call("POST", "/v1/test/messages", self._json(body))

    def httpx_request(self, client: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
        headers = dict(self.headers)
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        t = httpx.Timeout(self.timeout, read=self.timeout + call.hold)
        return client.build_request(
            call.method, self.base_url + call.path, content=call.body, headers=headers, timeout=t
        )

    # --- answers ----------------------------------------------------------

    @staticmethod
    def answer(resp: httpx.Response) -> dict[str, Any]:
        """The JSON object of a 2xx answer, or the error of any other."""
        data: Any = None
        if len(resp.content) <= _MAX_ANSWER:
            try:
                data = json.loads(resp.content) if resp.content else None
            except ValueError:
                data = None
        if 200 <= resp.status_code < 300:
            body = resp.content.strip()
            if data is None and (not body or body[:1] in (b"{", b"[")):
                # An empty or cut-short answer (a relay shutting down
                # mid-answer) is like a dropped connection.
                raise NetworkError(
                    f"the relay's answer to {resp.request.method} {resp.request.url.path} was cut short "
                    f"(HTTP {resp.status_code}, {len(resp.content)} bytes)",
                    status_code=resp.status_code,
                )
            if not isinstance(data, dict):
                raise AgentOTPError(
                    f"the relay's answer to {resp.request.method} {resp.request.url.path} is not a JSON object",
                    status_code=resp.status_code,
                )
            return data
        raise error_from_problem(resp.status_code, data if isinstance(data, dict) else {}, resp.headers.get("Retry-After"))

    @staticmethod
    def request_of(data: Mapping[str, Any]) -> OTPRequest:
        try:
            return OTPRequest.from_json(data)
        except (KeyError, TypeError, ValueError) as e:
            raise AgentOTPError(f"the relay's request object is malformed: {e}") from None

    # --- retries ----------------------------------------------------------

    @staticmethod
    def retryable_exception(call: Call, exc: httpx.TransportError) -> bool:
        """A connection that was never made never reached the relay: any call
        may be retried. Other failures may have reached it, so only calls that
        repeat no effect (GET, DELETE) are retried: a retried consume could
        lose the code, a retried request would ask the owner twice."""
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return True
        return call.method != "POST"

    @staticmethod
    def retryable_status(call: Call, status: int) -> bool:
        """A 5xx to a POST may come after the relay acted; only GET and DELETE are retried."""
        return status >= 500 and call.method != "POST"

    def delay(self, attempt: int) -> float:
        d: float = self.backoff * float(2**attempt)
        return d + random.uniform(0, d / 2)

    def retry_delay(self, attempt: int, resp: httpx.Response | None) -> float:
        """delay(attempt), or the answer's Retry-After (up to 30 s) when longer."""
        d = self.delay(attempt)
        ra = resp.headers.get("Retry-After", "").strip() if resp is not None else ""
        if ra.isdigit():
            d = max(d, min(float(ra), RETRY_AFTER_LIMIT))
        return d

    @staticmethod
    def retryable_answer(call: Call, e: AgentOTPError) -> bool:
        """A cut-short 2xx answer is retried like a dropped connection, where that is safe."""
        return isinstance(e, NetworkError) and call.method != "POST"

    @staticmethod
    def network_error(call: Call, exc: Exception) -> NetworkError:
        kind = type(exc).__name__
        return NetworkError(f"{call.method} {call.path.split('?')[0]}: {kind}: {exc}")

    # --- waiting ----------------------------------------------------------

    @staticmethod
    def deadline(timeout: float) -> float:
        return time.monotonic() + max(0.0, float(timeout))

    @staticmethod
    def next_wait(deadline: float) -> int:
        """Seconds for the next long-poll, 0 when the time is up."""
        left = deadline - time.monotonic()
        if left < 1:
            return 0
        return min(MAX_LONG_POLL, int(left))

    @staticmethod
    def timeout_error(req: OTPRequest) -> TimeoutError:
        return TimeoutError(f"timed out waiting: request {req.id} is still {req.status}", request=req)

    def wait_start(self, request_id: str, timeout: float, poll: int) -> WaitState:
        base = self.backoff if self.backoff > 0 else 0.25
        t = max(0.0, float(timeout))
        return WaitState(request_id, t, max(1, min(MAX_LONG_POLL, int(poll))), time.monotonic() + t, base, base)

    def wait_call(self, st: WaitState) -> Call | None:
        """The next call of a wait, or None when its time is up (raise wait_timeout)."""
        left = st.deadline - time.monotonic()
        if (left < 1 and st.last is not None) or (left <= 0 and st.retrying is not None):
            return None
        st.started, st.secs = time.monotonic(), 0
        if left < 1 and st.last is None:
            # Too little time for one long-poll: read the status once.
            return self.status_call(st.request_id)
        st.secs = max(1, min(MAX_LONG_POLL, st.poll, int(left)))
        return self.status_call(st.request_id, st.secs)

    def wait_result(
        self, st: WaitState, resp: httpx.Response | None, exc: httpx.TransportError | None, call: Call
    ) -> tuple[OTPRequest | None, float]:
        """Take one answer of a wait: (the request, 0) when it no longer
        waits, else (None, seconds to pause before the next call). An error
        that is not transient is raised."""
        err: AgentOTPError | None = None
        got: OTPRequest | None = None
        if exc is not None:
            err = self.network_error(call, exc)
        else:
            assert resp is not None
            try:
                data = self.answer(resp)
                if not data.get("status"):
                    raise NetworkError("the relay's answer was cut short: it holds no status", status_code=resp.status_code)
                got = self.request_of(data)
            except AgentOTPError as e:
                err, got = e, None
        if err is None and got is not None:
            # A long-poll answered early with nothing new (a relay ending its
            # waits as it shuts down) pauses, so as not to spin.
            early = (
                st.secs > 0 and st.last is not None and got.status == st.last.status
                and time.monotonic() - st.started < st.secs / 2
            )
            st.last, st.retrying = got, None
            if not got.is_waiting:
                return got, 0.0
            if not early:
                st.delay = st.base
                return None, 0.0
        else:
            if not is_transient(err):
                assert err is not None
                raise err
            st.retrying = err
        pause = st.delay + random.uniform(0, st.delay / 2)
        if isinstance(err, ServerError) and err.retry_after:
            pause = max(pause, min(err.retry_after, RETRY_AFTER_LIMIT))
        st.delay = min(st.delay * 2, WAIT_BACKOFF_MAX)
        return None, max(0.0, min(pause, st.deadline - time.monotonic()))

    @staticmethod
    def wait_timeout(st: WaitState) -> TimeoutError:
        status = st.last.status if st.last is not None else "waiting"
        msg = f"timed out waiting: request {st.request_id} is still {status}"
        if st.retrying is not None:
            msg += f"; the relay was not answering ({st.retrying})"
        e = TimeoutError(msg, request=st.last)
        e.__cause__ = st.retrying
        return e

    # --- consuming --------------------------------------------------------

    @staticmethod
    def check_key(private_key: PrivateKey, req: OTPRequest) -> None:
        """Refuse, before anything is consumed, a key that cannot open the code."""
        if not isinstance(private_key, PrivateKey):
            raise DecryptionError(
                f"consume_otp wants the PrivateKey of generate_key_pair or import_private_key, "
                f"not {type(private_key).__name__}; nothing was consumed",
                request_id=req.id,
            )
        if private_key.fingerprint != req.public_key_fingerprint:
            raise DecryptionError(
                f"the private key ({private_key.fingerprint}) does not belong to the public key of request "
                f"{req.id} ({req.public_key_fingerprint}); nothing was consumed",
                request_id=req.id,
                request=req,
            )

    @staticmethod
    def open_result(private_key: PrivateKey, data: Mapping[str, Any], req: OTPRequest) -> ConsumeResult:
        rid = str(data.get("id", ""))
        enc = str(data.get("encryption", ""))
        payload = data.get("encrypted_payload")
        content = data.get("encrypted_content") or None
        if not isinstance(payload, str):
            raise AgentOTPError("the relay's consume answer has no encrypted_payload")
        try:
            # The payload must be in the form the request asked for: a
            # request made with a bound RSA key never takes a plain one
            # (which any earlier request with the same key could have made).
            if enc != req.encryption or rid != req.id:
                raise DecryptionError(f"the payload is {enc[:64]} for {rid[:64]}; the request {req.id} asked for {req.encryption}")
            code = decrypt_otp_payload(private_key, req.id, payload, req.encryption)
            full = decrypt_otp_payload(private_key, req.id, content, req.encryption) if isinstance(content, str) else None
        except DecryptionError as e:
            # The relay has deleted its copy: hand the ciphertext back.
            raise DecryptionError(
                e.message + "; the ciphertext is kept on this error",
                request_id=rid,
                encryption=enc,
                encrypted_payload=payload,
                encrypted_content=content if isinstance(content, str) else None,
            ) from None
        return ConsumeResult(
            id=rid,
            code=code,
            full_message=full,
            metadata=_metadata(data.get("metadata")),
            encryption=enc,
            encrypted_payload=payload,
            encrypted_content=content if isinstance(content, str) else None,
        )

    @staticmethod
    def ingest_result(data: Mapping[str, Any]) -> IngestResult:
        return IngestResult(
            message_id=str(data.get("message_id", "")),
            matched=bool(data.get("matched", False)),
            duplicate=bool(data.get("duplicate", False)),
            reason=str(data["reason"]) if isinstance(data.get("reason"), str) else None,
        )
