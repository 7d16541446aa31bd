"""A request nobody decides expires on the relay: both clients see OTPExpiredError.

The relay's shortest TTL is 60 s, so both clients' requests are made first and
waited for together, costing one TTL for the whole file.
"""

from __future__ import annotations

import asyncio

import pytest

from agent_otp import AgentOTPClient, AsyncAgentOTPClient, OTPExpiredError, generate_key_pair

from .conftest import Agent, Relay

pytestmark = pytest.mark.asyncio


async def test_an_undecided_request_expires_for_both_clients(relay: Relay, live_agent: Agent) -> None:
    pub, priv = generate_key_pair("x25519")
    sync = AgentOTPClient(api_key=live_agent.api_key, base_url=relay.url)
    aio = AsyncAgentOTPClient(api_key=live_agent.api_key, base_url=relay.url)
    try:
        a = sync.request_otp(reason="expires (sync)", public_key=pub, ttl=60)
        b = await aio.request_otp(reason="expires (async)", public_key=pub, ttl=60)
        assert a.status == b.status == "pending_approval"
        # Wait until the relay's sweeper has expired both (TTL plus its interval).
        final = await asyncio.gather(
            asyncio.to_thread(sync.wait_for_otp, a.id, 90), aio.wait_for_otp(b.id, 90)
        )
        # Waiting ends with the request as it stands, as the guide's code expects.
        assert [r.status for r in final] == ["expired", "expired"]
        with pytest.raises(OTPExpiredError):
            sync.consume_otp(a.id, priv)
        with pytest.raises(OTPExpiredError):
            await aio.consume_otp(b.id, priv)
        assert sync.get_otp_status(a.id).status == "expired"
        assert (await aio.get_otp_status(b.id)).status == "expired"
    finally:
        sync.close()
        await aio.aclose()
