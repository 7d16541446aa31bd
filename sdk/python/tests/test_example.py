"""The guide's SecureAgentExecutor, run unchanged but for its API key, as its own process."""

from __future__ import annotations

import sys

from .conftest import EXAMPLE, SDK_DIR, Relay, run_example


def test_example_with_a_test_key(relay: Relay) -> None:
    agent = relay.create_agent("example-test-key", test=True)
    res = run_example(relay, agent, python=sys.executable, script=EXAMPLE, cwd=SDK_DIR, code="271828")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "Received OTP: 271828\n", res.stderr
    [req] = relay.requests_of(agent.id)
    assert req["status"] == "consumed" and req["expected_sender"] == "Acme Inc"
    assert req["filter"] == {"sources": ["email"], "sender_pattern": "*@acme.com"}
    assert req["reason"].startswith("signup_verification: {'service': 'Acme Inc'")


def test_example_with_a_live_key_approved_while_it_waits(relay: Relay, source_token: str) -> None:
    agent = relay.create_agent("example-live-key", test=False)
    res = run_example(
        relay, agent, python=sys.executable, script=EXAMPLE, cwd=SDK_DIR, code="314159", source_token=source_token
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "Received OTP: 314159\n", res.stderr
    [req] = relay.requests_of(agent.id)
    assert req["status"] == "consumed" and req["decided_by"] == "owner"
    # The guide's code, unchanged, asks for the request-bound RSA form.
    assert req["encryption"] == "RSA-OAEP-256-BOUND"
