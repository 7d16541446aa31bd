"""A real relay for the tests: built from this repository with `go build` and
started on a free loopback port with its own data directory.

Without a Go toolchain the relay tests are skipped, except under CI=true,
where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

SDK_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = SDK_DIR.parents[1]
EXAMPLE = SDK_DIR / "examples" / "secure_agent_executor.py"
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: bool, why: str) -> None:
    """Skip when an outside program is missing; fail instead under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{why} (CI=true: a missing tool fails the run)")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Agent:
    id: str
    api_key: str
    webhook_secret: str


@dataclass
class Relay:
    """A running `agentotp serve` and its owner API."""

    url: str
    data: Path
    proc: subprocess.Popen[bytes]
    log: Path
    owner_token: str = ""
    _owner: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._owner = httpx.Client(base_url=self.url, timeout=30)

    def owner(self, method: str, path: str, body: Any = None) -> Any:
        r = self._owner.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.owner_token}"}
        )
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def create_agent(self, name: str, *, test: bool) -> Agent:
        d = self.owner("POST", "/v1/owner/agents", {"name": name, "test": test})
        return Agent(d["agent"]["id"], d["api_key"], d["webhook_secret"])

    def create_source(self, name: str = "sdk-tests", kind: str = "generic") -> str:
        return str(self.owner("POST", "/v1/owner/sources", {"name": name, "kind": kind})["token"])

    def approve(self, request_id: str) -> Any:
        return self.owner("POST", f"/v1/owner/requests/{request_id}/approve")

    def deny(self, request_id: str, reason: str) -> Any:
        return self.owner("POST", f"/v1/owner/requests/{request_id}/deny", {"reason": reason})

    def ingest(self, source_token: str, message: dict[str, Any]) -> Any:
        r = httpx.post(
            self.url + "/v1/messages", json=message, headers={"Authorization": f"Bearer {source_token}"}, timeout=30
        )
        assert r.status_code == 202, r.text
        return r.json()

    def requests_of(self, agent_id: str, status: str = "") -> list[dict[str, Any]]:
        q = f"/v1/owner/requests?agent_id={agent_id}" + (f"&status={status}" if status else "")
        return list(self.owner("GET", q)["data"])

    def await_request(self, agent_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        """The agent's first request in status, once it exists (the example runs in another process)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.requests_of(agent_id, status)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no {status} request of {agent_id} within {timeout} s; relay log:\n{self.tail()}")

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        self._owner.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def relay_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    need(go is not None, "the Go toolchain (go) is not on PATH: cannot build the relay")
    need((REPO_ROOT / "go.mod").is_file(), f"no go.mod at {REPO_ROOT}: the tests run from the repository")
    out = tmp_path_factory.mktemp("bin") / "agentotp"
    res = subprocess.run(
        [str(go), "build", "-o", str(out), "./cmd/agentotp"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert res.returncode == 0, f"go build failed:\n{res.stdout}\n{res.stderr}"
    return out


def start_relay(binary: Path, base: Path, *extra: str, port: int | None = None) -> Relay:
    """Start `agentotp serve` on a free loopback port (or ``port``: a restart
    on the same data) and wait until it answers."""
    data = base / "data"
    log = base / "relay.log"
    port = port or free_port()
    args = [
        str(binary), "serve", "--addr", f"127.0.0.1:{port}", "--data", str(data),
        "--log-format", "json", "--sweep-interval", "1s",
        "--allow-private-webhooks", "--webhook-retry-base", "1s", *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOTP_")}
    logf = open(log, "ab")
    proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, env=env)
    logf.close()
    url = f"http://127.0.0.1:{port}"
    relay = Relay(url=url, data=data, proc=proc, log=log)
    end = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the relay exited ({proc.returncode}):\n{relay.tail()}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200 and (data / "owner.token").exists():
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > end:
            relay.stop()
            raise AssertionError(f"the relay did not come up:\n{relay.tail()}")
        time.sleep(0.05)
    relay.owner_token = (data / "owner.token").read_text().strip()
    return relay


@pytest.fixture(scope="session")
def relay(relay_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    r = start_relay(relay_binary, tmp_path_factory.mktemp("relay"))
    yield r
    r.stop()


@pytest.fixture(scope="session")
def test_agent(relay: Relay) -> Agent:
    """An agent with an ak_test_ key: its requests are approved at once."""
    return relay.create_agent("sdk-test-key", test=True)


@pytest.fixture(scope="session")
def live_agent(relay: Relay) -> Agent:
    """An agent with an ak_live_ key: its requests wait for the owner."""
    return relay.create_agent("sdk-live-key", test=False)


@pytest.fixture(scope="session")
def source_token(relay: Relay) -> str:
    return relay.create_source()


def acme_message(code: str, sender: str = "noreply@acme.com") -> dict[str, Any]:
    return {
        "source": "email",
        "sender": sender,
        "subject": "Your Acme verification code",
        "text": f"Welcome to Acme! Your verification code is {code}. It expires in 10 minutes.",
    }


def run_example(
    relay: Relay,
    agent: Agent,
    *,
    python: str,
    script: Path,
    cwd: Path,
    code: str,
    source_token: str | None = None,
    env_extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the guide's example as its own process against the relay and play
    the other side while it waits: with a test key, post the message through
    the test-message endpoint; with a live key, approve the request through
    the owner API and ingest the message through a capture source."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTP_", "AGENTOTP_", "PYTHON"))}
    env.update({"AGENT_OTP_API_KEY": agent.api_key, "AGENTOTP_URL": relay.url, **(env_extra or {})})
    proc = subprocess.Popen(
        [python, str(script)], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        message = acme_message(code)
        if source_token is None:
            relay.await_request(agent.id, "approved")
            r = httpx.post(
                relay.url + "/v1/test/messages", json=message,
                headers={"Authorization": f"Bearer {agent.api_key}"}, timeout=30,
            )
            assert r.status_code == 202 and r.json()["matched"], r.text
        else:
            pending = relay.await_request(agent.id, "pending_approval")
            relay.approve(pending["id"])
            assert relay.ingest(source_token, message)["matched"]
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
