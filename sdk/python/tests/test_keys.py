"""Keys and opening, without a relay: published HPKE vectors, openssl cross-checks, key formats."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import hpke

import agent_otp
from agent_otp import (
    DecryptionError,
    InvalidKeyError,
    decrypt_otp_payload,
    export_private_key,
    export_public_key,
    generate_key_pair,
    import_private_key,
    import_public_key,
)
from agent_otp._keys import _suite

from .conftest import need

VECTORS = json.loads((Path(__file__).parent / "testdata" / "hpke_vectors.json").read_text())["vectors"]
ALGS = ["rsa", "x25519", "mlkem768x25519"]


def _seed_pem(seed: bytes) -> str:
    b = base64.b64encode(seed).decode()
    return f"-----BEGIN AGENTOTP MLKEM768X25519 PRIVATE KEY-----\n{b}\n-----END AGENTOTP MLKEM768X25519 PRIVATE KEY-----\n"


def _x25519_pem(raw: bytes) -> str:
    # PKCS#8 of an X25519 key (RFC 8410): a fixed 16-byte prefix, then the key.
    der = bytes.fromhex("302e020100300506032b656e04220420") + raw
    b = base64.b64encode(der).decode()
    return f"-----BEGIN PRIVATE KEY-----\n{b}\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"][:40] for v in VECTORS])
def test_hpke_known_answer_vectors(v: dict[str, object]) -> None:
    """RFC 9180 A.2.1 (X25519) and draft-ietf-hpke-pq (MLKEM768-X25519): the
    recipient key loaded through the SDK's own key import, the suite the SDK
    decrypts with, the published ciphertext opened to the published plaintext.

    The vectors carry an AAD, which the agentotp wire format never does, so
    they go through cryptography's aad-taking form of the same Suite.decrypt.
    """
    assert v["mode"] == 0 and v["sequence_number"] == 0
    assert (v["kdf_id"], v["aead_id"]) == (0x0001, 0x0003)
    sk = bytes.fromhex(str(v["skRm"]))
    if v["kem_id"] == 0x0020:
        key = import_private_key(_x25519_pem(sk))
        assert key.algorithm == agent_otp.HPKE_X25519
        pk_raw = base64.b64decode(export_public_key(key.public_key()))[-32:]
    else:
        assert v["kem_id"] == 0x647A
        key = import_private_key(_seed_pem(sk))
        assert key.algorithm == agent_otp.HPKE_MLKEM768_X25519
        pk_raw = base64.b64decode(export_public_key(key.public_key()).split(":", 1)[1])
    assert pk_raw.hex() == v["pkRm"], "the SDK derives another public key than the vector's pkRm"
    suite = _suite(key.algorithm)
    ct = bytes.fromhex(str(v["enc"]) + str(v["ct"]))
    pt = rust_openssl.hpke._decrypt_with_aad(
        suite, ct, key._key, info=bytes.fromhex(str(v["info"])), aad=bytes.fromhex(str(v["aad"]))
    )
    assert pt.hex() == v["pt"]
    # One flipped bit of the ciphertext fails authentication.
    bad = ct[:-1] + bytes([ct[-1] ^ 1])
    with pytest.raises(Exception):
        rust_openssl.hpke._decrypt_with_aad(
            suite, bad, key._key, info=bytes.fromhex(str(v["info"])), aad=bytes.fromhex(str(v["aad"]))
        )


@pytest.mark.parametrize("alg", ALGS)
def test_keys_round_trip_through_their_formats(alg: str) -> None:
    pub, priv = generate_key_pair(alg)
    text = export_public_key(pub)
    assert import_public_key(text) == pub
    again = import_private_key(export_private_key(priv))
    assert again.fingerprint == priv.fingerprint == pub.fingerprint
    canonical = base64.b64decode(text.split(":", 1)[-1])
    want = "SHA256:" + base64.b64encode(hashlib.sha256(canonical).digest()).decode().rstrip("=")
    assert pub.fingerprint == want
    assert "PRIVATE" not in repr(priv) and "BEGIN" not in str(priv)
    # Sealing to the public key as the relay does, and opening with the SDK.
    if alg == "rsa":
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
        ct = pub._key.encrypt(b"123456", oaep)  # type: ignore[union-attr]
    else:
        kem = hpke.KEM.X25519 if alg == "x25519" else hpke.KEM.MLKEM768_X25519
        s = hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
        ct = s.encrypt(b"123456", pub._key, info=b"agentotp/v1:otp_abc")  # type: ignore[arg-type]
    assert decrypt_otp_payload(again, "otp_abc", base64.b64encode(ct).decode()) == "123456"
    if alg != "rsa":
        # The request id is bound: another id does not open it.
        with pytest.raises(DecryptionError):
            decrypt_otp_payload(again, "otp_other", base64.b64encode(ct).decode())
    _, other = generate_key_pair(alg)
    with pytest.raises(DecryptionError):
        decrypt_otp_payload(other, "otp_abc", base64.b64encode(ct).decode())


def test_openssl_made_keys_and_ciphertexts(tmp_path: Path) -> None:
    """Keys written by openssl are read; what openssl seals with RSA-OAEP-256 the SDK opens."""
    openssl = shutil.which("openssl")
    need(openssl is not None, "openssl is not on PATH")
    assert openssl is not None

    def run(*args: str, data: bytes | None = None) -> bytes:
        return subprocess.run([openssl, *args], input=data, capture_output=True, check=True).stdout

    rsa_pem = tmp_path / "rsa.pem"
    run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(rsa_pem))
    key = import_private_key(rsa_pem.read_bytes())
    der = run("pkey", "-in", str(rsa_pem), "-pubout", "-outform", "DER")
    assert export_public_key(key.public_key(), bound=False) == base64.b64encode(der).decode()
    assert export_public_key(key.public_key()) == "rsa-oaep-256-bound:" + base64.b64encode(der).decode()
    fp = base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert key.fingerprint == "SHA256:" + fp
    pub_pem = tmp_path / "rsa.pub"
    pub_pem.write_bytes(run("pkey", "-in", str(rsa_pem), "-pubout"))
    ct = run(
        "pkeyutl", "-encrypt", "-pubin", "-inkey", str(pub_pem), "-pkeyopt", "rsa_padding_mode:oaep",
        "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256", data=b"739201",
    )
    assert decrypt_otp_payload(key, "otp_x", base64.b64encode(ct).decode()) == "739201"
    # The bound form: openssl's rsa_oaep_label is the hex of b"agentotp/v1:" + request id.
    label = b"agentotp/v1:otp_3kQ9zX2mB7".hex()
    bound = run(
        "pkeyutl", "-encrypt", "-pubin", "-inkey", str(pub_pem), "-pkeyopt", "rsa_padding_mode:oaep",
        "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256", "-pkeyopt", f"rsa_oaep_label:{label}",
        data=b"739202",
    )
    b64 = base64.b64encode(bound).decode()
    assert decrypt_otp_payload(key, "otp_3kQ9zX2mB7", b64, agent_otp.RSA_OAEP_256_BOUND) == "739202"
    with pytest.raises(DecryptionError):
        decrypt_otp_payload(key, "otp_other", b64, agent_otp.RSA_OAEP_256_BOUND)
    with pytest.raises(DecryptionError):  # a plain payload does not open as the bound form
        decrypt_otp_payload(key, "otp_x", base64.b64encode(ct).decode(), agent_otp.RSA_OAEP_256_BOUND)

    x_pem = tmp_path / "x.pem"
    run("genpkey", "-algorithm", "X25519", "-out", str(x_pem))
    xkey = import_private_key(x_pem.read_text())
    xder = run("pkey", "-in", str(x_pem), "-pubout", "-outform", "DER")
    assert export_public_key(xkey.public_key()) == base64.b64encode(xder).decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "PEM is not accepted"),
        ("MCowBQYDK2VuAyEA-_", "URL-safe"),
        ("not base64!", "not valid base64"),
        ("ed25519:AAAA", "unknown key prefix"),
        ("mlkem768x25519:" + base64.b64encode(b"x" * 10).decode(), "want 1216"),
        # An Ed25519 SPKI: a signature key, not an encryption key.
        ("MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=", "unsupported key type"),
    ],
)
def test_bad_public_keys_say_what_is_wrong(value: str, message: str) -> None:
    with pytest.raises(InvalidKeyError, match=message):
        import_public_key(value)


def test_bad_private_keys_and_algorithms() -> None:
    with pytest.raises(InvalidKeyError, match="no PEM block"):
        import_private_key("hello")
    with pytest.raises(InvalidKeyError, match="32-byte seed"):
        import_private_key(_seed_pem(b"short"))
    with pytest.raises(InvalidKeyError, match="encrypted keys"):
        import_private_key("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
    with pytest.raises(InvalidKeyError, match="unknown algorithm"):
        generate_key_pair("dsa")
    with pytest.raises(ValueError, match="2048–4096"):
        generate_key_pair("rsa", rsa_bits=1024)
    pub, _ = generate_key_pair("RSA-OAEP-256")
    assert pub.algorithm == agent_otp.RSA_OAEP_256_BOUND and pub.plain().algorithm == agent_otp.RSA_OAEP_256
    assert import_public_key(str(pub)) == pub and import_public_key(str(pub.plain())) == pub.plain()
    with pytest.raises(InvalidKeyError, match="for RSA keys"):
        import_public_key("rsa-oaep-256-bound:" + str(generate_key_pair("x25519")[0]))
    with pytest.raises(DecryptionError, match="base64"):
        decrypt_otp_payload(generate_key_pair("x25519")[1], "otp_1", "%%%")
