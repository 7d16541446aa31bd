"""Time request_otp + consume_otp with a test key through the SDK, and the
same two calls with raw httpx (sealing opened with `cryptography` directly),
side by side in one run.

    AGENTOTP_URL=http://127.0.0.1:8787 AGENTOTP_OWNER_TOKEN=ok_… \\
        .venv/bin/python bench/request_consume.py [N]

The relay holds one key to 120 calls a minute (bursts of 60), so the script
makes a fresh test key through the owner API every 10 rounds.
"""

from __future__ import annotations

import base64
import os
import statistics
import sys
import time

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from agent_otp import AgentOTPClient, export_public_key, generate_key_pair


def timed(n: int, fn: object) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    url, owner = os.environ["AGENTOTP_URL"], os.environ["AGENTOTP_OWNER_TOKEN"]
    owner_http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {owner}"})
    # Keys (and SDK clients) are made before the clock starts.
    def fresh_key(name: str) -> str:
        r = owner_http.post("/v1/owner/agents", json={"name": name, "test": True})
        return str(r.json()["api_key"])

    rounds = n + 5
    sdk_clients = [AgentOTPClient(api_key=fresh_key(f"bench-sdk-{i}"), base_url=url) for i in range(rounds // 10 + 1)]
    raw_keys = [fresh_key(f"bench-raw-{i}") for i in range(rounds // 10 + 1)]
    used = {"sdk": 0, "raw": 0}

    def turn(kind: str) -> int:
        used[kind] += 1
        return (used[kind] - 1) // 10

    pub, priv = generate_key_pair()

    def sdk() -> None:
        otp = sdk_clients[turn("sdk")]
        r = otp.request_otp(reason="bench", public_key=export_public_key(pub), wait_for_otp=True)
        assert otp.consume_otp(r.id, priv).code

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    from cryptography.hazmat.primitives import serialization

    spki = base64.b64encode(
        rsa_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    http = httpx.Client(base_url=url)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)

    def raw() -> None:
        auth = {"Authorization": f"Bearer {raw_keys[turn('raw')]}"}
        r = http.post("/v1/otp/request", json={"reason": "bench", "public_key": spki}, headers=auth).json()
        c = http.post(f"/v1/otp/{r['id']}/consume", headers=auth).json()
        assert rsa_key.decrypt(base64.b64decode(c["encrypted_payload"]), oaep)

    for f in (sdk, raw):  # warm up both
        timed(5, f)
    rows = {"agent_otp SDK": timed(n, sdk), "raw httpx": timed(n, raw)}
    print(f"request_otp + consume_otp, test key, RSA-OAEP-2048, {n} rounds each")
    print(f"{'':16} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, t in rows.items():
        t.sort()
        print(f"{name:16} {statistics.median(t):8.2f} {t[int(len(t) * 0.99) - 1]:8.2f} {statistics.fmean(t):8.2f}")


if __name__ == "__main__":
    main()
