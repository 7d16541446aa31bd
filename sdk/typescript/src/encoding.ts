// Byte encodings used on the wire: standard padded base64, PEM armour and
// the few fixed DER wrappers of X25519 and RSA keys. No cryptography here.

/** Standard, padded base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Standard base64 without padding (the fingerprint's form). */
export function toBase64Raw(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, '');
}

/** Decodes standard base64; throws on anything else. */
export function fromBase64(s: string): Uint8Array<ArrayBuffer> {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) {
    throw new Error('not valid base64 (standard alphabet, = padding)');
  }
  const bin = atob(t);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** PEM armour of der with the given type. */
export function toPEM(type: string, der: Uint8Array): string {
  const b64 = toBase64(der).replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${type}-----\n${b64}-----END ${type}-----\n`;
}

/** The first PEM block of text: its type and bytes. */
export function fromPEM(text: string): { type: string; der: Uint8Array<ArrayBuffer> } {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) throw new Error('no PEM block found');
  return { type: m[1]!, der: fromBase64(m[2]!.replace(/\s+/g, '')) };
}

// DER prefixes of X25519 keys (RFC 8410): the SubjectPublicKeyInfo and the
// PKCS #8 PrivateKeyInfo are fixed bytes followed by the 32-byte key.
export const X25519_SPKI_PREFIX = new Uint8Array([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
]);

/** DER length octets of n. */
function derLength(n: number): Uint8Array {
  if (n < 0x80) return new Uint8Array([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return new Uint8Array([0x80 | bytes.length, ...bytes]);
}

function derTLV(tag: number, body: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([tag]), derLength(body.length), body);
}

/**
 * Wraps a PKCS #1 RSAPrivateKey in a PKCS #8 PrivateKeyInfo, which is what
 * WebCrypto imports.
 */
export function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array<ArrayBuffer> {
  const version = new Uint8Array([0x02, 0x01, 0x00]);
  const rsaAlg = new Uint8Array([0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);
  return derTLV(0x30, concatBytes(version, rsaAlg, derTLV(0x04, pkcs1))) as Uint8Array<ArrayBuffer>;
}

/**
 * The algorithm OID of a PKCS #8 PrivateKeyInfo or a SubjectPublicKeyInfo,
 * in dotted form, or undefined. Reads only the outer structure.
 */
export function derAlgorithmOID(der: Uint8Array, pkcs8: boolean): string | undefined {
  try {
    let i = 0;
    const readHeader = (): [number, number] => {
      const tag = der[i++]!;
      let len = der[i++]!;
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let k = 0; k < n; k++) len = (len << 8) | der[i++]!;
      }
      return [tag, len];
    };
    if (readHeader()[0] !== 0x30) return undefined;
    if (pkcs8) {
      const [tag, len] = readHeader();
      if (tag !== 0x02) return undefined;
      i += len;
    }
    if (readHeader()[0] !== 0x30) return undefined;
    const [tag, len] = readHeader();
    if (tag !== 0x06) return undefined;
    const oid = der.subarray(i, i + len);
    const parts = [Math.floor(oid[0]! / 40), oid[0]! % 40];
    let v = 0;
    for (const b of oid.subarray(1)) {
      v = (v << 7) | (b & 0x7f);
      if (!(b & 0x80)) {
        parts.push(v);
        v = 0;
      }
    }
    return parts.join('.');
  } catch {
    return undefined;
  }
}

export const OID_RSA = '1.2.840.113549.1.1.1';
export const OID_X25519 = '1.3.101.110';
