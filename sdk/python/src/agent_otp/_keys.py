"""The agent's key pair and the opening of sealed codes.

The relay seals a code to the agent's public key with one of three
algorithms, named as in the API's ``encryption`` field (the repository's
``docs/api.md`` and the Go package ``seal`` define the encodings):

``RSA-OAEP-256``
    RSA-OAEP, SHA-256 for the hash and in MGF1, empty label. The public key
    is base64 of its DER SubjectPublicKeyInfo (2048–4096 bits).
``RSA-OAEP-256-BOUND``
    The same with the OAEP label ``b"agentotp/v1:" + request id``, so that a
    ciphertext opens only for its own request. The public key is
    ``"rsa-oaep-256-bound:"`` + the same base64. An RSA key made or read by
    this SDK asks for this form; ``export_public_key(key, bound=False)`` (or
    ``key.plain()``) gives the guide's plain form.
``HPKE-X25519-SHA256-CHACHA20POLY1305``
    RFC 9180 base mode, KEM 0x0020, KDF 0x0001, AEAD 0x0003. The public key
    is base64 of its DER SubjectPublicKeyInfo.
``HPKE-MLKEM768X25519-SHA256-CHACHA20POLY1305``
    The same with the MLKEM768-X25519 (X-Wing) hybrid KEM 0x647A. The public
    key is ``"mlkem768x25519:"`` + base64 of the raw 1216-byte key (ML-KEM-768
    encapsulation key, then X25519 key); the private key is a 32-byte seed.

For HPKE the ciphertext is ``enc || ct``, single-shot, with
``info = b"agentotp/v1:" + request id`` and an empty AAD. All cryptography is
that of the ``cryptography`` package (its ``hpke`` module for both HPKE
suites); nothing is implemented here but the key encodings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from typing import Final, Literal, Union

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import mlkem, padding, rsa, x25519

from ._errors import DecryptionError, InvalidKeyError

__all__ = [
    "RSA_OAEP_256",
    "HPKE_X25519",
    "HPKE_MLKEM768_X25519",
    "Algorithm",
    "PublicKey",
    "PrivateKey",
    "generate_key_pair",
    "export_public_key",
    "import_public_key",
    "export_private_key",
    "import_private_key",
    "decrypt_otp_payload",
]

RSA_OAEP_256: Final = "RSA-OAEP-256"
RSA_OAEP_256_BOUND: Final = "RSA-OAEP-256-BOUND"
HPKE_X25519: Final = "HPKE-X25519-SHA256-CHACHA20POLY1305"
HPKE_MLKEM768_X25519: Final = "HPKE-MLKEM768X25519-SHA256-CHACHA20POLY1305"

Algorithm = Literal[
    "RSA-OAEP-256",
    "RSA-OAEP-256-BOUND",
    "HPKE-X25519-SHA256-CHACHA20POLY1305",
    "HPKE-MLKEM768X25519-SHA256-CHACHA20POLY1305",
]

_SHORT_NAMES: Final[dict[str, Algorithm]] = {
    "rsa": RSA_OAEP_256,
    "x25519": HPKE_X25519,
    "hpke": HPKE_X25519,
    "mlkem768x25519": HPKE_MLKEM768_X25519,
}

_INFO_PREFIX: Final = b"agentotp/v1:"
_HYBRID_PREFIX: Final = "mlkem768x25519:"
_BOUND_RSA_PREFIX: Final = "rsa-oaep-256-bound:"
_HYBRID_PEM_TYPE: Final = "AGENTOTP MLKEM768X25519 PRIVATE KEY"
_MLKEM768_PUBLIC_SIZE: Final = 1184
_HYBRID_PUBLIC_SIZE: Final = _MLKEM768_PUBLIC_SIZE + 32
_HYBRID_SEED_SIZE: Final = 32
_MAX_PUBLIC_KEY_LEN: Final = 8 << 10
_MAX_PRIVATE_KEY_LEN: Final = 64 << 10

_OAEP: Final = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)

_RawPublic = Union[rsa.RSAPublicKey, x25519.X25519PublicKey, hpke.MLKEM768X25519PublicKey]
_RawPrivate = Union[rsa.RSAPrivateKey, x25519.X25519PrivateKey, hpke.MLKEM768X25519PrivateKey]


def _suite(alg: str) -> hpke.Suite:
    kem = hpke.KEM.MLKEM768_X25519 if alg == HPKE_MLKEM768_X25519 else hpke.KEM.X25519
    return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def parse_algorithm(name: str) -> Algorithm:
    """The algorithm named by ``name``: an API name, or ``rsa``, ``x25519``, ``mlkem768x25519``."""
    n = name.strip().lower()
    if n in _SHORT_NAMES:
        return _SHORT_NAMES[n]
    if n == RSA_OAEP_256_BOUND.lower():
        return RSA_OAEP_256  # the same key; binding is the public key's form
    for a in (RSA_OAEP_256, HPKE_X25519, HPKE_MLKEM768_X25519):
        if n == a.lower():
            return a
    raise InvalidKeyError(
        f"unknown algorithm {name[:64]!r}; use 'rsa', 'x25519', 'mlkem768x25519' "
        f"or {RSA_OAEP_256}, {HPKE_X25519}, {HPKE_MLKEM768_X25519}"
    )


def _fingerprint(canonical: bytes) -> str:
    digest = hashlib.sha256(canonical).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _no_hybrid(err: Exception) -> InvalidKeyError:
    return InvalidKeyError(
        "ML-KEM-768+X25519 is not available: the OpenSSL that this 'cryptography' build uses has no "
        f"ML-KEM ({err}); use the 'x25519' or 'rsa' key kind, or a cryptography wheel built with ML-KEM"
    )


def _hybrid_from_seed(seed: bytes) -> PrivateKey:
    """The MLKEM768-X25519 private key of a 32-byte seed.

    draft-ietf-hpke-pq / X-Wing: SHAKE256(seed, 96) gives the 64-byte ML-KEM-768
    seed (d || z) and then the 32-byte X25519 private key. The public key is
    the ML-KEM-768 encapsulation key followed by the X25519 public key.
    """
    expanded = hashlib.shake_256(seed).digest(96)
    try:
        mk = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    except UnsupportedAlgorithm as e:
        raise _no_hybrid(e) from None
    xk = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
    key = hpke.MLKEM768X25519PrivateKey(mk, xk)
    raw = mk.public_key().public_bytes_raw() + xk.public_key().public_bytes_raw()
    public = PublicKey(HPKE_MLKEM768_X25519, raw, key.public_key())
    return PrivateKey(HPKE_MLKEM768_X25519, key, seed=seed, public=public)


class PublicKey:
    """An agent's public key, as sent in ``request_otp(public_key=…)``.

    ``str(key)`` is its API form (:func:`export_public_key`).
    """

    __slots__ = ("_alg", "_raw", "_key")

    def __init__(self, alg: Algorithm, canonical: bytes, key: _RawPublic) -> None:
        self._alg: Algorithm = alg
        self._raw = canonical
        self._key = key

    @property
    def algorithm(self) -> Algorithm:
        """The encryption the relay will use with this key."""
        return self._alg

    @property
    def fingerprint(self) -> str:
        """``"SHA256:"`` + unpadded base64 of the SHA-256 of the key's canonical bytes."""
        return _fingerprint(self._raw)

    def __str__(self) -> str:
        b64 = base64.b64encode(self._raw).decode("ascii")
        if self._alg == HPKE_MLKEM768_X25519:
            return _HYBRID_PREFIX + b64
        if self._alg == RSA_OAEP_256_BOUND:
            return _BOUND_RSA_PREFIX + b64
        return b64

    def bound(self) -> PublicKey:
        """The key in its request-bound form (RSA: ``RSA-OAEP-256-BOUND``; HPKE keys are bound already)."""
        return PublicKey(RSA_OAEP_256_BOUND, self._raw, self._key) if self._alg == RSA_OAEP_256 else self

    def plain(self) -> PublicKey:
        """An RSA key in the guide's plain form (``RSA-OAEP-256``, empty label); other keys as they are."""
        return PublicKey(RSA_OAEP_256, self._raw, self._key) if self._alg == RSA_OAEP_256_BOUND else self

    def __repr__(self) -> str:
        return f"PublicKey({self._alg}, {self.fingerprint})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other._alg == self._alg and other._raw == self._raw

    def __hash__(self) -> int:
        return hash((self._alg, self._raw))


class PrivateKey:
    """An agent's private key. It never leaves the agent; its repr shows no key material."""

    __slots__ = ("_alg", "_key", "_seed", "_public")

    def __init__(
        self, alg: Algorithm, key: _RawPrivate, *, seed: bytes | None = None, public: PublicKey | None = None
    ) -> None:
        self._alg: Algorithm = alg
        self._key = key
        self._seed = seed
        if public is None:
            public = self._make_public()
        self._public = public

    def _make_public(self) -> PublicKey:
        k = self._key
        if isinstance(k, rsa.RSAPrivateKey):
            pub = k.public_key()
            der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            return PublicKey(RSA_OAEP_256_BOUND, der, pub)
        if isinstance(k, x25519.X25519PrivateKey):
            xpub = k.public_key()
            der = xpub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            return PublicKey(HPKE_X25519, der, xpub)
        raise InvalidKeyError("an ML-KEM-768+X25519 private key is made from its seed")

    @property
    def algorithm(self) -> Algorithm:
        """The algorithm of the key pair."""
        return self._alg

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the public key."""
        return self._public.fingerprint

    def public_key(self) -> PublicKey:
        """The public half."""
        return self._public

    def open(self, request_id: str, ciphertext: bytes, encryption: str | None = None) -> bytes:
        """Decrypt a sealed payload of request ``request_id``. Raises DecryptionError.

        ``encryption`` is the request's: for an RSA key ``RSA-OAEP-256-BOUND``
        opens with the label ``b"agentotp/v1:" + request_id`` (a plain payload
        does not pass), anything else RSA with none (the default)."""
        alg = encryption or self._alg
        try:
            if isinstance(self._key, rsa.RSAPrivateKey):
                if alg not in (RSA_OAEP_256, RSA_OAEP_256_BOUND):
                    raise DecryptionError(f"an RSA key does not open {alg[:64]}", request_id=request_id)
                if alg == RSA_OAEP_256_BOUND:
                    if not request_id:
                        raise DecryptionError("RSA-OAEP-256-BOUND needs the request id the payload is bound to")
                    label = padding.OAEP(
                        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(),
                        label=_INFO_PREFIX + request_id.encode("utf-8"),
                    )
                    return self._key.decrypt(ciphertext, label)
                return self._key.decrypt(ciphertext, _OAEP)
            if alg != self._alg:
                raise DecryptionError(f"a {self._alg} key does not open {alg[:64]}", request_id=request_id)
            if not request_id:
                raise DecryptionError("HPKE needs the request id the payload is bound to")
            return _suite(self._alg).decrypt(ciphertext, self._key, info=_INFO_PREFIX + request_id.encode("utf-8"))
        except DecryptionError:
            raise
        except (ValueError, InvalidTag) as e:
            raise DecryptionError(
                f"cannot decrypt the {alg} payload of {request_id}: {type(e).__name__}; "
                "check that the private key matches the public key of the request",
                request_id=request_id,
                encryption=alg,
            ) from None

    def __repr__(self) -> str:
        return f"PrivateKey({self._alg}, {self.fingerprint})"


def generate_key_pair(alg: str = "rsa", *, rsa_bits: int = 2048) -> tuple[PublicKey, PrivateKey]:
    """Make a key pair, once per agent session: ``public_key, private_key = generate_key_pair()``.

    ``alg`` is ``"rsa"`` (RSA-OAEP-256, the default, as in the guide),
    ``"x25519"`` (HPKE; needed for ``include_message``) or ``"mlkem768x25519"``
    (post-quantum hybrid HPKE), or the full API name.
    """
    a = parse_algorithm(alg)
    if a == RSA_OAEP_256:
        if not 2048 <= rsa_bits <= 4096:
            raise InvalidKeyError(f"RSA keys are 2048–4096 bits, not {rsa_bits}")
        priv = PrivateKey(a, rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits))
    elif a == HPKE_X25519:
        priv = PrivateKey(a, x25519.X25519PrivateKey.generate())
    else:
        priv = _hybrid_from_seed(os.urandom(_HYBRID_SEED_SIZE))
    return priv.public_key(), priv


def export_public_key(public_key: PublicKey, *, bound: bool = True) -> str:
    """The public key in the API's ``public_key`` form.

    An RSA key is sent in its request-bound form (``"rsa-oaep-256-bound:"`` +
    base64 of the DER: the relay seals with the OAEP label
    ``b"agentotp/v1:" + request id``, so that a ciphertext of one request
    cannot be passed off as another's); ``bound=False`` gives the guide's
    plain form, for a consumer that decrypts with plain RSA-OAEP.
    """
    if not isinstance(public_key, PublicKey):
        raise InvalidKeyError(f"export_public_key wants a PublicKey, not {type(public_key).__name__}")
    return str(public_key.bound() if bound else public_key.plain())


def _b64decode_strict(s: str, what: str) -> bytes:
    if "-" in s or "_" in s:
        raise InvalidKeyError(f"{what}: not valid base64: it looks URL-safe; use the standard alphabet with = padding")
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeyError(f"{what}: not valid base64 (standard alphabet, = padding)") from None


def import_public_key(value: str) -> PublicKey:
    """Read a public key in the API's ``public_key`` form (what :func:`export_public_key` returns)."""
    if len(value) > _MAX_PUBLIC_KEY_LEN:
        raise InvalidKeyError(f"public_key: {len(value)} characters is too long; at most {_MAX_PUBLIC_KEY_LEN}")
    s = value.strip()
    if s.startswith("-----BEGIN"):
        raise InvalidKeyError("public_key: PEM is not accepted; use base64 of the DER SubjectPublicKeyInfo")
    if s.lower().startswith(_BOUND_RSA_PREFIX):
        k = import_public_key(s[len(_BOUND_RSA_PREFIX):])
        if k.algorithm != RSA_OAEP_256:
            raise InvalidKeyError(f"public_key: the {_BOUND_RSA_PREFIX!r} prefix is for RSA keys")
        return k.bound()
    if ":" in s:
        prefix, _, rest = s.partition(":")
        if (prefix + ":").lower() != _HYBRID_PREFIX:
            raise InvalidKeyError(
                f"public_key: unknown key prefix {prefix[:32]!r}; the prefixes are {_HYBRID_PREFIX!r} and {_BOUND_RSA_PREFIX!r}"
            )
        raw = _b64decode_strict(rest, "public_key")
        if len(raw) != _HYBRID_PUBLIC_SIZE:
            raise InvalidKeyError(f"public_key: mlkem768x25519 key is {len(raw)} bytes; want {_HYBRID_PUBLIC_SIZE}")
        try:
            mk = mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM768_PUBLIC_SIZE])
        except UnsupportedAlgorithm as e:
            raise _no_hybrid(e) from None
        except ValueError as e:
            raise InvalidKeyError(f"public_key: invalid ML-KEM-768 key: {e}") from None
        xk = x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM768_PUBLIC_SIZE:])
        return PublicKey(HPKE_MLKEM768_X25519, raw, hpke.MLKEM768X25519PublicKey(mk, xk))
    der = _b64decode_strict(s, "public_key")
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidKeyError(f"public_key: not a DER SubjectPublicKeyInfo of an RSA or X25519 key ({len(der)} bytes)") from None
    canonical = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if isinstance(key, rsa.RSAPublicKey):
        if not 2048 <= key.key_size <= 4096:
            raise InvalidKeyError(f"public_key: RSA key is {key.key_size} bits; 2048–4096 required")
        return PublicKey(RSA_OAEP_256, canonical, key)
    if isinstance(key, x25519.X25519PublicKey):
        return PublicKey(HPKE_X25519, canonical, key)
    raise InvalidKeyError(f"public_key: unsupported key type {type(key).__name__}; use RSA, X25519 or mlkem768x25519")


def export_private_key(private_key: PrivateKey) -> str:
    """The private key as PEM: PKCS#8 for RSA and X25519, the 32-byte seed for the hybrid.

    The same format as the Go SDK's ExportPrivateKey and ``agentotp keygen``.
    """
    if not isinstance(private_key, PrivateKey):
        raise InvalidKeyError(f"export_private_key wants a PrivateKey, not {type(private_key).__name__}")
    k = private_key._key
    if isinstance(k, (rsa.RSAPrivateKey, x25519.X25519PrivateKey)):
        return k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
    assert private_key._seed is not None
    body = base64.b64encode(private_key._seed).decode("ascii")
    return f"-----BEGIN {_HYBRID_PEM_TYPE}-----\n{body}\n-----END {_HYBRID_PEM_TYPE}-----\n"


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)


def import_private_key(pem: str | bytes) -> PrivateKey:
    """Read a PEM private key (what :func:`export_private_key`, the Go SDK or ``openssl genpkey`` write)."""
    text = pem.decode("ascii", "replace") if isinstance(pem, (bytes, bytearray)) else pem
    if len(text) > _MAX_PRIVATE_KEY_LEN:
        raise InvalidKeyError(f"private key: {len(text)} characters is too long; at most {_MAX_PRIVATE_KEY_LEN}")
    blocks = _PEM_BLOCK.findall(text)
    if not blocks:
        raise InvalidKeyError("private key: no PEM block found; want -----BEGIN PRIVATE KEY-----")
    for kind, body in blocks:
        if kind == _HYBRID_PEM_TYPE:
            seed = _b64decode_strict("".join(body.split()), "private key")
            if len(seed) != _HYBRID_SEED_SIZE:
                raise InvalidKeyError(f"private key: mlkem768x25519 key is {len(seed)} bytes; want a 32-byte seed")
            return _hybrid_from_seed(seed)
        if kind == "ENCRYPTED PRIVATE KEY":
            raise InvalidKeyError("private key: encrypted keys are not supported; decrypt it first (openssl pkey)")
        if kind in ("PRIVATE KEY", "RSA PRIVATE KEY"):
            block = f"-----BEGIN {kind}-----\n{body}-----END {kind}-----\n".encode("ascii")
            try:
                key = serialization.load_pem_private_key(block, password=None)
            except (ValueError, TypeError, UnsupportedAlgorithm) as e:
                raise InvalidKeyError(f"private key: cannot read the {kind} block: {e}") from None
            if isinstance(key, rsa.RSAPrivateKey):
                if not 2048 <= key.key_size <= 4096:
                    raise InvalidKeyError(f"private key: RSA key is {key.key_size} bits; 2048–4096 required")
                return PrivateKey(RSA_OAEP_256, key)
            if isinstance(key, x25519.X25519PrivateKey):
                return PrivateKey(HPKE_X25519, key)
            raise InvalidKeyError(f"private key: unsupported key type {type(key).__name__}; use RSA or X25519")
    kinds = ", ".join(k for k, _ in blocks)
    raise InvalidKeyError(f"private key: no private key PEM block found (found {kinds})")


def decrypt_otp_payload(private_key: PrivateKey, request_id: str, encrypted: str, encryption: str | None = None) -> str:
    """Open a base64 ``encrypted_payload`` (or ``encrypted_content``) of ``request_id``,
    sealed with ``encryption`` (the request's; RSA keys default to the plain form)."""
    if not isinstance(private_key, PrivateKey):
        raise DecryptionError(f"decrypt_otp_payload wants a PrivateKey, not {type(private_key).__name__}")
    try:
        ct = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("the encrypted payload is not valid base64", request_id=request_id) from None
    pt = private_key.open(request_id, ct, encryption)
    try:
        return pt.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError("the decrypted payload is not UTF-8 text", request_id=request_id) from None
