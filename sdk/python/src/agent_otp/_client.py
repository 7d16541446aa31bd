"""The sync and async clients of the agent API."""

from __future__ import annotations

import asyncio
import inspect
import time
from types import TracebackType
from typing import Any, Awaitable, Callable, Mapping, Union

import httpx

from ._core import DEFAULT_TIMEOUT, DEFAULT_WAIT_TIMEOUT, MAX_LONG_POLL, Call, Core
from ._errors import AgentOTPError, TimeoutError
from ._keys import PrivateKey, PublicKey
from ._models import ConsumeResult, IngestResult, OTPFilter, OTPRequest

__all__ = ["AgentOTPClient", "AsyncAgentOTPClient"]

PendingCallback = Callable[[OTPRequest], None]
AsyncPendingCallback = Callable[[OTPRequest], Union[None, Awaitable[None]]]
FilterArg = Union[OTPFilter, Mapping[str, Any], None]
WaitCallback = Callable[[Union[OTPRequest, None], Union[AgentOTPError, None]], None]


class AgentOTPClient:
    """Client of the relay's agent API.

    ``api_key`` falls back to ``$AGENT_OTP_API_KEY``; ``base_url`` to
    ``$AGENT_OTP_BASE_URL``, then ``$AGENTOTP_URL``, then
    ``http://127.0.0.1:8787``. ``timeout`` bounds each
    HTTP call in seconds (a long-poll gets its wait on top). Calls are retried
    ``max_retries`` times, with backoff from ``backoff`` seconds, only where a
    retry cannot repeat an effect. Use it as a context manager, or ``close()``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        max_retries: int = 3,
        backoff: float = 0.25,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._core = Core(api_key, base_url, timeout, max_retries, backoff)
        self._own_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)

    @property
    def base_url(self) -> str:
        """The relay's URL."""
        return self._core.base_url

    def __repr__(self) -> str:
        return f"AgentOTPClient{self._core!r}"

    def close(self) -> None:
        """Close the connections (not those of an http_client passed in)."""
        if self._own_http:
            self._http.close()

    def __enter__(self) -> AgentOTPClient:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _do(self, call: Call) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                resp = self._http.send(self._core.httpx_request(self._http, call))
            except httpx.TransportError as exc:
                if attempt < self._core.max_retries and self._core.retryable_exception(call, exc):
                    time.sleep(self._core.delay(attempt))
                    attempt += 1
                    continue
                raise self._core.network_error(call, exc) from exc
            if attempt < self._core.max_retries and self._core.retryable_status(call, resp.status_code):
                time.sleep(self._core.retry_delay(attempt, resp))
                attempt += 1
                continue
            try:
                return self._core.answer(resp)
            except AgentOTPError as e:
                if attempt < self._core.max_retries and self._core.retryable_answer(call, e):
                    time.sleep(self._core.delay(attempt))
                    attempt += 1
                    continue
                raise

    def request_otp(
        self,
        *,
        reason: str,
        public_key: str | PublicKey,
        expected_sender: str | None = None,
        filter: FilterArg = None,
        ttl: int | None = None,
        wait_for_otp: bool = False,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        webhook_url: str | None = None,
        include_message: bool = False,
        on_pending_approval: PendingCallback | None = None,
    ) -> OTPRequest:
        """Ask the relay for one code.

        ``public_key`` is :func:`export_public_key` of the agent's key; ``ttl``
        is in seconds (60–3600, default 300). ``on_pending_approval`` is called
        with the new request when it waits for the owner. With
        ``wait_for_otp`` it then waits (long-poll), at most ``timeout`` seconds,
        and returns the request in the status it reached: check
        ``request.status`` (``"otp_received"`` …). A wait that runs out returns
        the request still waiting; a wait that fails otherwise raises, with
        the created request on the error's ``request``.
        """
        call = self._core.create_call(
            reason=reason,
            public_key=public_key,
            expected_sender=expected_sender,
            filter=filter,
            ttl=ttl,
            webhook_url=webhook_url,
            include_message=include_message,
        )
        req = self._core.request_of(self._do(call))
        if on_pending_approval is not None and req.status == "pending_approval":
            on_pending_approval(req)
        if not wait_for_otp or not req.is_waiting:
            return req
        try:
            return self.wait_for_otp(req.id, timeout=timeout)
        except TimeoutError as e:
            return e.request or req
        except AgentOTPError as e:
            e.request = e.request or req
            raise

    def get_otp_status(self, request_id: str, *, wait: int = 0) -> OTPRequest:
        """The request now; with ``wait`` (1–55 s), once it changes or the time passes."""
        return self._core.request_of(self._do(self._core.status_call(request_id, wait)))

    def wait_for_otp(
        self,
        request_id: str,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        *,
        poll: int = MAX_LONG_POLL,
        on_wait: WaitCallback | None = None,
    ) -> OTPRequest:
        """Wait until the request is no longer pending or approved.

        Raises :class:`TimeoutError` (its ``request`` as it stands) when
        ``timeout`` seconds pass first. It waits across a relay restart: an
        error for which :func:`is_transient` holds (the connection refused,
        reset or cut short, 502/503/504, an empty or truncated answer) is
        retried with backoff (from ``backoff``, doubling, at most 5 s;
        Retry-After honoured up to 30 s) until the timeout, and is then the
        TimeoutError's ``__cause__``. Any other error is raised at once.
        ``poll`` bounds one long-poll (1–55 s); ``on_wait(last, retrying)`` is
        called before each with the request as last seen (None before the
        relay first answered) and the transient error being retried, if any.
        """
        st = self._core.wait_start(request_id, timeout, poll)
        while True:
            call = self._core.wait_call(st)
            if call is None:
                raise self._core.wait_timeout(st)
            if on_wait is not None:
                on_wait(st.last, st.retrying)
            resp: httpx.Response | None = None
            exc: httpx.TransportError | None = None
            try:
                resp = self._http.send(self._core.httpx_request(self._http, call))
            except httpx.TransportError as e:
                exc = e
            done, pause = self._core.wait_result(st, resp, exc, call)
            if done is not None:
                return done
            if pause > 0:
                time.sleep(pause)

    def consume_otp(self, request_id: str, private_key: PrivateKey) -> ConsumeResult:
        """Read the sealed code once and decrypt it: ``result.code``.

        The relay deletes the ciphertext as it hands it over, so the key is
        checked first: a key that does not belong to the request raises
        :class:`DecryptionError` and consumes nothing.
        """
        req = self.get_otp_status(request_id)
        self._core.check_key(private_key, req)
        data = self._do(self._core.consume_call(request_id))
        return self._core.open_result(private_key, data, req)

    def cancel_otp_request(self, request_id: str) -> OTPRequest:
        """Cancel a live request."""
        return self._core.request_of(self._do(self._core.cancel_call(request_id)))

    def send_test_message(
        self,
        *,
        source: str,
        sender: str,
        subject: str | None = None,
        text: str | None = None,
        html: str | None = None,
        received_at: Any = None,
        external_id: str | None = None,
    ) -> IngestResult:
        """With a test key: post a message that may feed this key's filtered requests."""
        call = self._core.test_message_call(
            source=source, sender=sender, subject=subject, text=text, html=html,
            received_at=received_at, external_id=external_id,
        )
        return self._core.ingest_result(self._do(call))


class AsyncAgentOTPClient:
    """The asyncio form of :class:`AgentOTPClient`: the same methods, as coroutines."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        max_retries: int = 3,
        backoff: float = 0.25,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._core = Core(api_key, base_url, timeout, max_retries, backoff)
        self._own_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)

    @property
    def base_url(self) -> str:
        """The relay's URL."""
        return self._core.base_url

    def __repr__(self) -> str:
        return f"AsyncAgentOTPClient{self._core!r}"

    async def aclose(self) -> None:
        """Close the connections (not those of an http_client passed in)."""
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncAgentOTPClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _do(self, call: Call) -> dict[str, Any]:
        attempt = 0
        while True:
            try:
                resp = await self._http.send(self._core.httpx_request(self._http, call))
            except httpx.TransportError as exc:
                if attempt < self._core.max_retries and self._core.retryable_exception(call, exc):
                    await asyncio.sleep(self._core.delay(attempt))
                    attempt += 1
                    continue
                raise self._core.network_error(call, exc) from exc
            if attempt < self._core.max_retries and self._core.retryable_status(call, resp.status_code):
                await asyncio.sleep(self._core.retry_delay(attempt, resp))
                attempt += 1
                continue
            try:
                return self._core.answer(resp)
            except AgentOTPError as e:
                if attempt < self._core.max_retries and self._core.retryable_answer(call, e):
                    await asyncio.sleep(self._core.delay(attempt))
                    attempt += 1
                    continue
                raise

    async def request_otp(
        self,
        *,
        reason: str,
        public_key: str | PublicKey,
        expected_sender: str | None = None,
        filter: FilterArg = None,
        ttl: int | None = None,
        wait_for_otp: bool = False,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        webhook_url: str | None = None,
        include_message: bool = False,
        on_pending_approval: AsyncPendingCallback | None = None,
    ) -> OTPRequest:
        """See :meth:`AgentOTPClient.request_otp`; ``on_pending_approval`` may be a coroutine function."""
        call = self._core.create_call(
            reason=reason,
            public_key=public_key,
            expected_sender=expected_sender,
            filter=filter,
            ttl=ttl,
            webhook_url=webhook_url,
            include_message=include_message,
        )
        req = self._core.request_of(await self._do(call))
        if on_pending_approval is not None and req.status == "pending_approval":
            res = on_pending_approval(req)
            if inspect.isawaitable(res):
                await res
        if not wait_for_otp or not req.is_waiting:
            return req
        try:
            return await self.wait_for_otp(req.id, timeout=timeout)
        except TimeoutError as e:
            return e.request or req
        except AgentOTPError as e:
            e.request = e.request or req
            raise

    async def get_otp_status(self, request_id: str, *, wait: int = 0) -> OTPRequest:
        """See :meth:`AgentOTPClient.get_otp_status`."""
        return self._core.request_of(await self._do(self._core.status_call(request_id, wait)))

    async def wait_for_otp(
        self,
        request_id: str,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        *,
        poll: int = MAX_LONG_POLL,
        on_wait: WaitCallback | None = None,
    ) -> OTPRequest:
        """See :meth:`AgentOTPClient.wait_for_otp`."""
        st = self._core.wait_start(request_id, timeout, poll)
        while True:
            call = self._core.wait_call(st)
            if call is None:
                raise self._core.wait_timeout(st)
            if on_wait is not None:
                on_wait(st.last, st.retrying)
            resp: httpx.Response | None = None
            exc: httpx.TransportError | None = None
            try:
                resp = await self._http.send(self._core.httpx_request(self._http, call))
            except httpx.TransportError as e:
                exc = e
            done, pause = self._core.wait_result(st, resp, exc, call)
            if done is not None:
                return done
            if pause > 0:
                await asyncio.sleep(pause)

    async def consume_otp(self, request_id: str, private_key: PrivateKey) -> ConsumeResult:
        """See :meth:`AgentOTPClient.consume_otp`."""
        req = await self.get_otp_status(request_id)
        self._core.check_key(private_key, req)
        data = await self._do(self._core.consume_call(request_id))
        return self._core.open_result(private_key, data, req)

    async def cancel_otp_request(self, request_id: str) -> OTPRequest:
        """Cancel a live request."""
        return self._core.request_of(await self._do(self._core.cancel_call(request_id)))

    async def send_test_message(
        self,
        *,
        source: str,
        sender: str,
        subject: str | None = None,
        text: str | None = None,
        html: str | None = None,
        received_at: Any = None,
        external_id: str | None = None,
    ) -> IngestResult:
        """See :meth:`AgentOTPClient.send_test_message`."""
        call = self._core.test_message_call(
            source=source, sender=sender, subject=subject, text=text, html=html,
            received_at=received_at, external_id=external_id,
        )
        return self._core.ingest_result(await self._do(call))
