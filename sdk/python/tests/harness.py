"""One test body for both clients: `await run(client.method(...))` works for
the sync client (the value is returned at once) and the async one (awaited)."""

from __future__ import annotations

import inspect
import threading
from typing import Any, Callable, TypeVar, Union

import httpx

from agent_otp import AgentOTPClient, AsyncAgentOTPClient

T = TypeVar("T")
AnyClient = Union[AgentOTPClient, AsyncAgentOTPClient]


async def run(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class Clients:
    """Makes clients of one kind (sync or async) against a relay, and closes them."""

    def __init__(self, kind: str, base_url: str) -> None:
        self.kind = kind
        self.base_url = base_url
        self._made: list[AnyClient] = []

    def make(self, api_key: str, *, record: list[str] | None = None, base_url: str | None = None, **kw: Any) -> Any:
        url = base_url or self.base_url
        if self.kind == "sync":
            hooks: dict[str, list[Callable[..., Any]]] = {}
            if record is not None:
                hooks["request"] = [lambda r: record.append(f"{r.method} {r.url.raw_path.decode()}")]
            c: AnyClient = AgentOTPClient(
                api_key=api_key, base_url=url, http_client=httpx.Client(event_hooks=hooks), **kw
            )
        else:
            ahooks: dict[str, list[Callable[..., Any]]] = {}
            if record is not None:

                async def hook(r: httpx.Request) -> None:
                    record.append(f"{r.method} {r.url.raw_path.decode()}")

                ahooks["request"] = [hook]
            c = AsyncAgentOTPClient(
                api_key=api_key, base_url=url, http_client=httpx.AsyncClient(event_hooks=ahooks), **kw
            )
        self._made.append(c)
        return c

    async def close(self) -> None:
        for c in self._made:
            if isinstance(c, AgentOTPClient):
                c._http.close()
            else:
                await c._http.aclose()


def in_thread(fn: Callable[[], None]) -> threading.Thread:
    """Run fn beside the test (the owner approving while the agent waits); errors are re-raised by join_ok."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            errors.append(e)

    t = threading.Thread(target=target, daemon=True)
    t.errors = errors  # type: ignore[attr-defined]
    t.start()
    return t


def join_ok(t: threading.Thread, timeout: float = 60) -> None:
    t.join(timeout)
    assert not t.is_alive(), "the helper thread did not finish"
    errs: list[BaseException] = t.errors  # type: ignore[attr-defined]
    if errs:
        raise errs[0]
