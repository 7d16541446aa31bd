"""Both clients wait across a relay restart, as the Go SDK does: the relay is
stopped (SIGTERM) or killed (kill -9) under a waiting request_otp, a new relay
starts on the same data directory and port, the owner approves, the message
arrives, and the wait still ends with the code. The faults a restart (or a
proxy in front of the relay) produces are ridden out the same way."""

from __future__ import annotations

import asyncio
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator

import httpx
import pytest
import pytest_asyncio

from agent_otp import (
    AgentOTPError,
    AsyncAgentOTPClient,
    AuthenticationError,
    NetworkError,
    ServerError,
    export_public_key,
    generate_key_pair,
    is_transient,
)

from .conftest import Relay, start_relay
from .harness import Clients, run

pytestmark = pytest.mark.asyncio


def in_background(otp: Any, fn: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run a blocking (sync client) or awaitable (async client) call beside the test."""
    if isinstance(otp, AsyncAgentOTPClient):
        return asyncio.ensure_future(fn())
    return asyncio.ensure_future(asyncio.to_thread(fn))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_wait_survives_a_relay_restart(relay_binary: Path, tmp_path: Path, kind: str, sig: signal.Signals) -> None:
    relay = start_relay(relay_binary, tmp_path)
    clients = Clients(kind, relay.url)
    try:
        agent = relay.create_agent("restart", test=False)
        source = relay.create_source("restart-sms", "sms")
        otp = clients.make(agent.api_key)
        pub, priv = generate_key_pair("x25519")
        sender = "+15550401"
        waiting = in_background(otp, lambda: otp.request_otp(
            reason=f"restart {sig.name}", public_key=export_public_key(pub),
            filter={"sources": ["sms"], "sender_pattern": sender}, wait_for_otp=True, timeout=90,
        ))
        pending = await asyncio.to_thread(relay.await_request, agent.id, "pending_approval")
        relay.proc.send_signal(sig)
        await asyncio.to_thread(relay.proc.wait, 30)
        relay.stop()
        await asyncio.sleep(4)  # down for longer than one call's quick retries last
        assert not waiting.done(), f"the wait ended while the relay was down: {waiting.exception() or waiting.result()}"
        port = int(relay.url.rsplit(":", 1)[1])
        relay = await asyncio.to_thread(start_relay, relay_binary, tmp_path, port=port)
        await asyncio.to_thread(relay.approve, pending["id"])
        sent = await asyncio.to_thread(relay.ingest, source, {
            "source": "sms", "sender": sender, "text": "Your verification code is 530918", "external_id": pending["id"],
        })
        assert sent["matched"]
        req = await asyncio.wait_for(waiting, 100)
        assert req.status == "otp_received"
        res = await run(otp.consume_otp(req.id, priv))
        assert res.code == "530918"
    finally:
        await clients.close()
        relay.stop()


class _FaultProxy(BaseHTTPRequestHandler):
    """Answers the first long-polls with faults, then passes calls to the relay."""

    faults: list[Callable[[BaseHTTPRequestHandler], None]] = []
    served = threading.Event()
    upstream = ""

    def log_message(self, *args: Any) -> None:
        pass

    def _pass(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        r = httpx.request(self.command, self.upstream + self.path, content=body, timeout=70, headers={
            k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")
        })
        self.send_response(r.status_code)
        self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if "wait=" in self.path and self.faults:
            fault = self.faults.pop(0)
            if not self.faults:
                self.served.set()
            fault(self)
            return
        self._pass()

    do_POST = _pass  # noqa: N815
    do_DELETE = _pass  # noqa: N815


def _answer(status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None) -> Callable[[BaseHTTPRequestHandler], None]:
    def f(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body) if length is None else length))
        h.end_headers()
        h.wfile.write(body)
        h.close_connection = True

    return f


def _reset(h: BaseHTTPRequestHandler) -> None:
    h.close_connection = True
    h.connection.close()


FAULTS = [
    _reset,
    _answer(503, b'{"status":503,"message":"restarting"}', {"Retry-After": "1", "Content-Type": "application/problem+json"}),
    _answer(502, b""),
    _answer(504, b'{"status":504}', {"Content-Type": "application/problem+json"}),
    _answer(200, b'{"id":"otp_x","status":"pend', {"Content-Type": "application/json"}),  # cut short
    _answer(200, b'{"id":"otp_x","status":"pend', {"Content-Type": "application/json"}, length=200),  # connection drops mid-body
    _answer(200, b"", {"Content-Type": "application/json"}),
    _answer(200, b"{}", {"Content-Type": "application/json"}),
]


@pytest_asyncio.fixture
async def fault_proxy(relay: Relay) -> AsyncIterator[tuple[str, type[_FaultProxy]]]:
    handler = type("Proxy", (_FaultProxy,), {"faults": list(FAULTS), "served": threading.Event(), "upstream": relay.url})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", handler
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_wait_rides_out_transient_faults(relay: Relay, fault_proxy: tuple[str, type[_FaultProxy]], kind: str) -> None:
    url, handler = fault_proxy
    agent = relay.create_agent(f"faults-{kind}", test=True)
    clients = Clients(kind, url)
    try:
        otp = clients.make(agent.api_key, backoff=0.01)
        pub, priv = generate_key_pair("x25519")
        req = await run(otp.request_otp(reason="faults", public_key=export_public_key(pub), filter={"sender_pattern": "FAULTS"}))

        def feed() -> None:
            handler.served.wait(60)
            httpx.post(relay.url + "/v1/test/messages", headers={"Authorization": f"Bearer {agent.api_key}"},
                       json={"source": "sms", "sender": "FAULTS", "text": "Your code is 771205"}, timeout=30)

        threading.Thread(target=feed, daemon=True).start()
        retried: list[AgentOTPError] = []
        done = await run(otp.wait_for_otp(req.id, timeout=60, poll=2, on_wait=lambda _, e: retried.append(e) if e else None))
        assert done.status == "otp_received"
        assert len(FAULTS) - 1 <= len(retried) <= len(FAULTS), [str(e) for e in retried]
        assert all(is_transient(e) for e in retried)
        assert any(isinstance(e, ServerError) and e.retry_after == 1 for e in retried)
        assert any(isinstance(e, NetworkError) and "cut short" in str(e) for e in retried)
        assert (await run(otp.consume_otp(req.id, priv))).code == "771205"
    finally:
        await clients.close()


class _Refuse(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        _answer(401, b'{"code":"AUTHENTICATION_ERROR","message":"no"}', {"Content-Type": "application/problem+json"})(self)


@pytest.fixture
def refusing() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_wait_ends_at_once_on_an_error_that_is_not_transient(refusing: str, kind: str) -> None:
    clients = Clients(kind, refusing)
    try:
        otp = clients.make("ak_test_x")
        with pytest.raises(AuthenticationError) as ei:
            await run(otp.wait_for_otp("otp_x", timeout=60))
        assert not is_transient(ei.value)
    finally:
        await clients.close()
