"""Both clients against the real relay: every key kind, every flow, every error class."""

from __future__ import annotations

import builtins
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import pytest_asyncio

import agent_otp
from agent_otp import (
    AuthenticationError,
    DecryptionError,
    NetworkError,
    OTPAlreadyConsumedError,
    OTPApprovalDeniedError,
    OTPCancelledError,
    OTPFilter,
    OTPNotFoundError,
    OTPNotReadyError,
    RateLimitError,
    ServerError,
    ValidationError,
    export_public_key,
    generate_key_pair,
)

from .conftest import Relay, acme_message, free_port, start_relay
from .harness import Clients, in_thread, join_ok, run

pytestmark = pytest.mark.asyncio

KEYS = {alg: generate_key_pair(alg) for alg in ("rsa", "x25519", "mlkem768x25519")}


@pytest_asyncio.fixture(params=["sync", "async"])
async def clients(request: pytest.FixtureRequest, relay: Relay) -> AsyncIterator[Clients]:
    c = Clients(request.param, relay.url)
    yield c
    await c.close()


def unique_domain() -> str:
    return f"{uuid.uuid4().hex[:10]}.example"


@pytest.mark.parametrize("alg", list(KEYS))
async def test_every_key_kind_round_trips_with_the_message(clients: Clients, relay: Relay, alg: str) -> None:
    agent = relay.create_agent(f"kind-{alg}", test=True)
    otp = clients.make(agent.api_key)
    pub, priv = KEYS[alg]
    domain = unique_domain()
    req = await run(otp.request_otp(
        reason=f"Sign up for Acme ({alg})",
        public_key=export_public_key(pub),
        expected_sender="Acme",
        filter={"sources": ["email"], "sender_pattern": f"*@{domain}"},
        include_message=alg != "rsa",
    ))
    assert req.status == "approved" and req.decided_by == "test_key" and req.test
    assert req.public_key_fingerprint == pub.fingerprint and req.encryption == pub.algorithm
    assert req.filter == OTPFilter(sources=["email"], sender_pattern=f"*@{domain}")
    ingest = await run(otp.send_test_message(**acme_message("583041", f"codes@{domain}")))
    assert ingest.matched
    got = await run(otp.wait_for_otp(req.id, timeout=30))
    assert got.status == "otp_received" and got.metadata is not None
    res = await run(otp.consume_otp(req.id, priv))
    assert res.code == "583041" and res.encryption == pub.algorithm
    assert res.metadata is not None and res.metadata.sender == f"codes@{domain}" and res.metadata.source == "email"
    if alg == "rsa":
        assert res.full_message is None
    else:
        assert res.full_message is not None and "Your verification code is 583041" in res.full_message
        assert res.full_message.startswith("Subject: Your Acme verification code")
    assert "583041" not in repr(res)
    after = await run(otp.get_otp_status(req.id))
    assert after.status == "consumed" and after.consumed_at is not None
    with pytest.raises(OTPAlreadyConsumedError) as e:
        await run(otp.consume_otp(req.id, priv))
    assert e.value.status_code == 410 and e.value.code == "OTP_ALREADY_CONSUMED"


async def test_rsa_cannot_carry_the_message(clients: Clients, test_agent: Any) -> None:
    otp = clients.make(test_agent.api_key)
    with pytest.raises(ValidationError) as e:
        await run(otp.request_otp(reason="x", public_key=KEYS["rsa"][0], include_message=True))
    assert [f.field for f in e.value.fields] == ["include_message"]


async def test_live_key_waits_for_the_owner_and_the_message(clients: Clients, relay: Relay, source_token: str) -> None:
    agent = relay.create_agent("live-flow", test=False)
    pub, priv = KEYS["x25519"]
    domain = unique_domain()
    seen: list[agent_otp.OTPRequest] = []

    def owner() -> None:
        pending = relay.await_request(agent.id, "pending_approval")
        relay.approve(pending["id"])
        relay.ingest(source_token, acme_message("904417", f"noreply@{domain}"))

    otp = clients.make(agent.api_key)
    t = in_thread(owner)
    req = await run(otp.request_otp(
        reason="Sign up for Acme",
        public_key=pub,
        filter=OTPFilter(sources=["email"], sender_pattern=f"*@{domain}"),
        wait_for_otp=True,
        timeout=60,
        on_pending_approval=seen.append,
    ))
    join_ok(t)
    assert [r.status for r in seen] == ["pending_approval"] and seen[0].id == req.id
    assert req.status == "otp_received" and req.decided_by == "owner"
    assert (await run(otp.consume_otp(req.id, priv))).code == "904417"


async def test_async_pending_callback_may_be_a_coroutine(relay: Relay) -> None:
    agent = relay.create_agent("async-callback", test=False)
    called: list[str] = []

    async def cb(r: agent_otp.OTPRequest) -> None:
        called.append(r.id)

    async with agent_otp.AsyncAgentOTPClient(api_key=agent.api_key, base_url=relay.url) as otp:
        req = await otp.request_otp(reason="x", public_key=KEYS["x25519"][0], on_pending_approval=cb)
        assert called == [req.id]
        await otp.cancel_otp_request(req.id)


async def test_denied_request_carries_the_owners_reason(clients: Clients, relay: Relay) -> None:
    agent = relay.create_agent("deny-flow", test=False)
    pub, priv = KEYS["rsa"]
    otp = clients.make(agent.api_key)
    t = in_thread(lambda: relay.deny(relay.await_request(agent.id, "pending_approval")["id"], "not this site"))
    req = await run(otp.request_otp(reason="Sign up for Shady", public_key=pub, wait_for_otp=True, timeout=60))
    join_ok(t)
    assert req.status == "denied" and req.deny_reason == "not this site"
    with pytest.raises(OTPApprovalDeniedError) as e:
        await run(otp.consume_otp(req.id, priv))
    assert e.value.reason == "not this site" and e.value.status_code == 403


async def test_cancel(clients: Clients, test_agent: Any) -> None:
    otp = clients.make(test_agent.api_key)
    pub, priv = KEYS["x25519"]
    req = await run(otp.request_otp(reason="x", public_key=pub, filter={"sender_pattern": f"*@{unique_domain()}"}))
    with pytest.raises(OTPNotReadyError) as nr:
        await run(otp.consume_otp(req.id, priv))
    assert nr.value.status_code == 409
    cancelled = await run(otp.cancel_otp_request(req.id))
    assert cancelled.status == "cancelled" and cancelled.is_final
    with pytest.raises(OTPCancelledError):
        await run(otp.consume_otp(req.id, priv))
    with pytest.raises(OTPCancelledError) as again:
        await run(otp.cancel_otp_request(req.id))
    assert again.value.status_code == 409


async def test_wrong_private_key_consumes_nothing(clients: Clients, test_agent: Any) -> None:
    otp = clients.make(test_agent.api_key)
    pub, priv = KEYS["x25519"]
    req = await run(otp.request_otp(reason="x", public_key=pub, wait_for_otp=True))
    assert req.status == "otp_received" and req.metadata is not None and req.metadata.source == "test"
    for wrong in (generate_key_pair("x25519")[1], KEYS["rsa"][1], KEYS["mlkem768x25519"][1], "not a key"):
        with pytest.raises(DecryptionError, match="nothing was consumed"):
            await run(otp.consume_otp(req.id, wrong))
    assert (await run(otp.get_otp_status(req.id))).status == "otp_received"
    res = await run(otp.consume_otp(req.id, priv))
    assert res.code.isdigit() and res.metadata is not None and res.metadata.source == "test"


async def test_not_found_and_authentication(clients: Clients, test_agent: Any, relay: Relay) -> None:
    otp = clients.make(test_agent.api_key)
    with pytest.raises(OTPNotFoundError) as e:
        await run(otp.get_otp_status("otp_doesnotexist"))
    assert e.value.status_code == 404 and e.value.code == "OTP_NOT_FOUND"
    # Another agent's request is not found either.
    other = clients.make(relay.create_agent("other", test=True).api_key)
    mine = await run(otp.request_otp(reason="x", public_key=KEYS["rsa"][0]))
    with pytest.raises(OTPNotFoundError):
        await run(other.get_otp_status(mine.id))
    bad = clients.make("ak_live_" + "x" * 40)
    with pytest.raises(AuthenticationError) as a:
        await run(bad.get_otp_status(mine.id))
    assert a.value.status_code == 401
    with pytest.raises(AuthenticationError, match="AGENT_OTP_API_KEY"):
        agent_otp.AgentOTPClient(api_key="")


async def test_validation_errors_name_their_fields(clients: Clients, test_agent: Any) -> None:
    otp = clients.make(test_agent.api_key)
    with pytest.raises(ValidationError) as e:
        await run(otp.request_otp(reason="x", public_key=KEYS["rsa"][0], ttl=5))
    assert [f.field for f in e.value.fields] == ["ttl"] and e.value.status_code == 422
    with pytest.raises(ValidationError) as e2:
        await run(otp.request_otp(reason="x", public_key="MCowBQYDK2VuAyEA"))
    assert "public_key" in {f.field for f in e2.value.fields} or "public_key" in str(e2.value)
    with pytest.raises(ValidationError) as e3:
        await run(otp.request_otp(reason="x", public_key=KEYS["rsa"][0], filter={"senderPattern": "*"}))
    assert "senderPattern" in str(e3.value)


async def test_rate_limit_on_live_requests(clients: Clients, relay: Relay) -> None:
    agent = relay.create_agent("rate", test=False)
    otp = clients.make(agent.api_key)
    made = [await run(otp.request_otp(reason=f"r{i}", public_key=KEYS["rsa"][0])) for i in range(20)]
    with pytest.raises(RateLimitError) as e:
        await run(otp.request_otp(reason="one too many", public_key=KEYS["rsa"][0]))
    assert e.value.retry_after == 10 and e.value.status_code == 429
    for r in made:
        await run(otp.cancel_otp_request(r.id))


async def test_timeout_waits_with_the_long_poll(clients: Clients, relay: Relay) -> None:
    agent = relay.create_agent("timeout", test=False)
    calls: list[str] = []
    otp = clients.make(agent.api_key, record=calls)
    req = await run(otp.request_otp(reason="x", public_key=KEYS["rsa"][0]))
    with pytest.raises(agent_otp.TimeoutError) as e:
        await run(otp.wait_for_otp(req.id, timeout=2.5))
    assert isinstance(e.value, builtins.TimeoutError)
    assert e.value.request is not None and e.value.request.status == "pending_approval"
    # One long-poll of the whole wait, no polling loop.
    assert calls == ["POST /v1/otp/request", f"GET /v1/otp/{req.id}?wait=2"]
    # request_otp's own wait hands the request back still pending, as the guide expects.
    calls.clear()
    again = await run(otp.request_otp(reason="y", public_key=KEYS["rsa"][0], wait_for_otp=True, timeout=1.5))
    assert again.status == "pending_approval"
    assert calls == ["POST /v1/otp/request", f"GET /v1/otp/{again.id}?wait=1"]
    for r in (req, again):
        await run(otp.cancel_otp_request(r.id))


async def test_network_error_after_retries(clients: Clients) -> None:
    calls: list[str] = []
    otp = clients.make("ak_test_" + "x" * 40, base_url=f"http://127.0.0.1:{free_port()}", record=calls,
                       max_retries=2, backoff=0.01)
    with pytest.raises(NetworkError) as e:
        await run(otp.request_otp(reason="x", public_key=KEYS["rsa"][0]))
    assert e.value.status_code is None and "ConnectError" in str(e.value)
    # A connection never made reached nothing: even a POST is retried.
    assert calls == ["POST /v1/otp/request"] * 3


@pytest.fixture(scope="module")
def broken_relay(relay_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A relay whose SQLite store is destroyed under it: every call fails with 500."""
    r = start_relay(relay_binary, tmp_path_factory.mktemp("broken"))
    agent = r.create_agent("broken", test=True)
    for name in ("agentotp.db", "agentotp.db-wal"):
        (r.data / name).write_bytes(b"")
    shm = r.data / "agentotp.db-shm"
    if shm.exists():
        shm.write_bytes(b"\xff" * shm.stat().st_size)
    yield r, agent
    r.stop()


async def test_server_error_retried_only_where_safe(clients: Clients, broken_relay: Any) -> None:
    r, agent = broken_relay
    calls: list[str] = []
    otp = clients.make(agent.api_key, base_url=r.url, record=calls, max_retries=2, backoff=0.01)
    with pytest.raises(ServerError) as e:
        await run(otp.get_otp_status("otp_any"))
    assert e.value.status_code == 500 and e.value.code == "INTERNAL_ERROR"
    assert calls == ["GET /v1/otp/otp_any"] * 3
    calls.clear()
    with pytest.raises(ServerError):
        await run(otp.request_otp(reason="x", public_key=KEYS["rsa"][0]))
    assert calls == ["POST /v1/otp/request"]


async def test_ingest_result_carries_the_reason(clients: Clients, relay: Relay) -> None:
    agent = relay.create_agent(f"reason-{clients.kind}", test=True)
    otp = clients.make(agent.api_key)
    pub, _ = KEYS["x25519"]
    req = await run(otp.request_otp(
        reason="ingest reason", public_key=export_public_key(pub),
        filter={"sources": ["sms"], "sender_pattern": "+15550199"},
    ))
    cases = [
        ({"source": "sms", "sender": "+15550100", "text": "Your code is 482913"}, False, "no_match"),
        ({"source": "sms", "sender": "+15550199", "text": "Welcome aboard, see you soon"}, False, "no_code"),
        ({"source": "sms", "sender": "+15550199", "text": "Your code is 482913"}, True, None),
    ]
    for msg, matched, reason in cases:
        res = await run(otp.send_test_message(**msg))
        assert (res.matched, res.reason) == (matched, reason), res
    await run(otp.cancel_otp_request(req.id))
