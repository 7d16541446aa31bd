// Package seal implements the end-to-end encryption of agentotp: the relay
// (or a capture edge) seals a one-time code to an agent's public key, and the
// agent, through the Go SDK, opens it. Both sides live here so that they
// cannot drift apart.
//
// # Algorithms
//
// Four algorithms exist. Their names, as they appear in the API's
// "encryption" field, are the [Algorithm] constants:
//
//	RSA-OAEP-256                                  RSAOAEP256
//	RSA-OAEP-256-BOUND                            RSAOAEP256Bound
//	HPKE-X25519-SHA256-CHACHA20POLY1305           HPKEX25519
//	HPKE-MLKEM768X25519-SHA256-CHACHA20POLY1305   HPKEMLKEM768X25519
//
// # Public key encoding (the API's public_key field)
//
// The algorithm follows from the key; it is never chosen separately.
//
//   - RSA: standard, padded base64 (RFC 4648 section 4) of the DER
//     SubjectPublicKeyInfo (RFC 5280 section 4.1.2.7, algorithm
//     rsaEncryption 1.2.840.113549.1.1.1 with NULL parameters) of an RSA key
//     whose modulus is 2048 to 4096 bits long. This is what WebCrypto's
//     exportKey("spki") and "openssl pkey -pubout -outform DER" produce.
//     Algorithm RSA-OAEP-256.
//   - RSA, bound to the request: the ASCII prefix "rsa-oaep-256-bound:"
//     (case ignored) followed by the same base64 DER of an RSA key.
//     Algorithm RSA-OAEP-256-BOUND. [PublicKey.Bound] and [PublicKey.Plain]
//     turn one form into the other; the fingerprint is the same.
//   - X25519: standard, padded base64 of the DER SubjectPublicKeyInfo of an
//     X25519 key (RFC 8410, algorithm id-X25519 1.3.101.110, no parameters;
//     44 bytes of DER). Algorithm HPKE-X25519-SHA256-CHACHA20POLY1305.
//   - ML-KEM-768+X25519: the ASCII prefix "mlkem768x25519:" followed by the
//     standard, padded base64 of the raw 1216-byte hybrid public key: the
//     1184-byte ML-KEM-768 encapsulation key followed by the 32-byte X25519
//     public key (SerializePublicKey of MLKEM768-X25519, a.k.a. X-Wing, in
//     draft-ietf-hpke-pq). Algorithm
//     HPKE-MLKEM768X25519-SHA256-CHACHA20POLY1305.
//
// Input is at most 8 KiB. Surrounding white space is ignored. PEM armour,
// URL-safe base64, raw (un-wrapped) X25519 keys and every other key type are
// rejected with a specific message. [PublicKey.String] returns the canonical
// form of a key, which [ParsePublicKey] accepts.
//
// # Fingerprint
//
// [PublicKey.Fingerprint] is, in the style of OpenSSH,
//
//	"SHA256:" + base64.RawStdEncoding(SHA-256(canonical key bytes))
//
// where the canonical key bytes are the DER SubjectPublicKeyInfo for RSA and
// X25519 (exactly the bytes that are base64-encoded in the public_key field)
// and the raw 1216-byte hybrid key for ML-KEM-768+X25519 (the bytes after the
// prefix, base64-decoded). For example, an X25519 key's fingerprint is
// computed by:
//
//	openssl pkey -in key.pem -pubout -outform DER | openssl dgst -sha256 -binary | base64 | tr -d =
//
// # Ciphertext encoding (the API's encrypted_payload field, before base64)
//
//   - RSA-OAEP-256: RSAES-OAEP (RFC 8017 section 7.1) with SHA-256 as the
//     hash and in MGF1, and an empty label. The ciphertext is exactly as long
//     as the modulus (256 bytes for a 2048-bit key). The plaintext is at most
//     modulus bytes - 66 (190 bytes for 2048 bits). The request id is not
//     bound. This is WebCrypto's {name: "RSA-OAEP", hash: "SHA-256"} and
//     "openssl pkeyutl -decrypt -pkeyopt rsa_padding_mode:oaep -pkeyopt
//     rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256".
//   - RSA-OAEP-256-BOUND: the same, with the OAEP label the UTF-8 string
//     "agentotp/v1:" followed by the request id, so that a ciphertext opens
//     only for the request it was sealed for; the request id must not be
//     empty. WebCrypto: {name: "RSA-OAEP", label: <those bytes>}; openssl:
//     the options above and "-pkeyopt rsa_oaep_label:<hex of the label>".
//     A plain ciphertext does not open as this form ([PrivateKey.OpenAs]).
//   - HPKE (both HPKE algorithms): RFC 9180 base mode (mode_base, no PSK),
//     single-shot: enc || ct, where enc is the KEM's encapsulated key and ct
//     the AEAD ciphertext of the first (sequence number 0) message,
//     len(plaintext) + 16 bytes. info is the UTF-8 string "agentotp/v1:"
//     followed by the request id (for example "agentotp/v1:otp_123"); aad is
//     empty. The request id must not be empty.
//   - HPKE-X25519-SHA256-CHACHA20POLY1305: KEM DHKEM(X25519, HKDF-SHA256)
//     0x0020, KDF HKDF-SHA256 0x0001, AEAD ChaCha20Poly1305 0x0003; enc is
//     32 bytes.
//   - HPKE-MLKEM768X25519-SHA256-CHACHA20POLY1305: KEM MLKEM768-X25519 0x647A
//     (draft-ietf-hpke-pq), KDF HKDF-SHA256 0x0001, AEAD ChaCha20Poly1305
//     0x0003; enc is 1120 bytes (1088-byte ML-KEM-768 ciphertext followed by
//     a 32-byte X25519 ephemeral public key).
//
// # Private key encoding (agent side, PEM)
//
//   - RSA and X25519: an unencrypted PKCS #8 (RFC 5208/5958) "PRIVATE KEY"
//     block, as written by "openssl genpkey". [ParsePrivateKeyPEM] also
//     accepts PKCS #1 "RSA PRIVATE KEY" blocks.
//   - ML-KEM-768+X25519: a block of type "AGENTOTP MLKEM768X25519 PRIVATE
//     KEY" holding the 32-byte seed from which both halves of the key are
//     derived (SerializePrivateKey of MLKEM768-X25519 in draft-ietf-hpke-pq).
//
// # Errors
//
// Errors about public keys wrap [ErrInvalidPublicKey] and read
// "public_key: …"; errors about private keys wrap [ErrInvalidPrivateKey];
// every failure of [PrivateKey.Open] wraps [ErrDecryption]. No error contains
// plaintext or key material. [PrivateKey] values format (with any fmt verb)
// as their algorithm and fingerprint only.
//
// Keys are immutable once made and safe for concurrent use.
package seal
