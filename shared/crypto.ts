// Hashes (MD5, SHA-1, SHA-256), HMAC, base64, hex and constant-time comparison.
//
// Why not @chainsafe/as-sha256 (1.2.5, in node_modules): the npm package ships only
// prebuilt .wasm files and a JS wrapper (package.json "files": lib, build), no
// AssemblyScript sources, so an AS module cannot import it at all. Upstream it keeps the
// hash state in module globals (one hash at a time, no per-request streaming), its SIMD
// build only speeds up batches of four 64-byte inputs (Merkle trees), and the published
// update() hashes wrong when data is appended to a partly filled block
// (SHA256().update(10 bytes).update(100 bytes) differs from node:crypto). Its compression
// loop is the same textbook FIPS 180-4 loop as below; bench/crypto.ts measured ours at
// 165 MB/s against its 106 MB/s (its JS API includes an input copy). SHA-256 here adds
// about 3.6 KB to a release .wasm, all of this file about 5.7 KB.
//
// All functions accept a Uint8Array, an ArrayBuffer or a string (hashed as UTF-8);
// anything else is a compile-time error. Nothing here can trap on any input.

/** Hash algorithms for `hash`/`hmac`/`Hasher`. All use 64-byte blocks. */
export const enum HashAlg { Md5 = 0, Sha1 = 1, Sha256 = 2 }

/** Digest length in bytes. */
export function digestLength(alg: HashAlg): i32 {
  return alg == HashAlg.Md5 ? 16 : alg == HashAlg.Sha1 ? 20 : 32;
}

/** The UTF-8 bytes of `s` (lone surrogates become U+FFFD). */
export function utf8(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s, false, String.UTF8.ErrorMode.REPLACE));
}

/** View of a string (as UTF-8), ArrayBuffer or Uint8Array as bytes; copies only strings. */
// @ts-ignore: decorator
@inline export function toBytes<T>(data: T): Uint8Array {
  if (isNullable<T>()) ERROR("crypto: pass a non-null value");
  if (isString<T>()) return utf8(changetype<string>(data));
  else if (data instanceof ArrayBuffer) return Uint8Array.wrap(changetype<ArrayBuffer>(data));
  else if (data instanceof Uint8Array) return changetype<Uint8Array>(data);
  else ERROR("crypto: expected string, ArrayBuffer or Uint8Array");
}

// Initial hash values and round constants (RFC 1321, FIPS 180-4).
const MD5_IV = memory.data<u32>([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
const SHA1_IV = memory.data<u32>([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]);
const SHA256_IV = memory.data<u32>([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const SHA256_K = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const MD5_K = memory.data<u32>([
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
]);
const MD5_SHIFT = memory.data<u8>([7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]);
// Message schedule scratch (80 words for SHA-1; SHA-256 uses 64). Compression never re-enters.
const W = memory.data(80 * 4);

// @ts-ignore: decorator
@inline function word(p: usize, i: i32): u32 { return load<u32>(p + (<usize>i << 2)); }
// @ts-ignore: decorator
@inline function setWord(p: usize, i: i32, v: u32): void { store<u32>(p + (<usize>i << 2), v); }

function compressSha256(h: usize, p: usize): void {
  for (let i = 0; i < 16; i++) setWord(W, i, bswap(word(p, i)));
  for (let i = 16; i < 64; i++) {
    const x = word(W, i - 15), y = word(W, i - 2);
    const s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
    const s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10);
    setWord(W, i, word(W, i - 16) + s0 + word(W, i - 7) + s1);
  }
  let a = word(h, 0), b = word(h, 1), c = word(h, 2), d = word(h, 3);
  let e = word(h, 4), f = word(h, 5), g = word(h, 6), k = word(h, 7);
  for (let i = 0; i < 64; i++) {
    const t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + word(SHA256_K, i) + word(W, i);
    const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  setWord(h, 0, word(h, 0) + a); setWord(h, 1, word(h, 1) + b);
  setWord(h, 2, word(h, 2) + c); setWord(h, 3, word(h, 3) + d);
  setWord(h, 4, word(h, 4) + e); setWord(h, 5, word(h, 5) + f);
  setWord(h, 6, word(h, 6) + g); setWord(h, 7, word(h, 7) + k);
}

function compressSha1(h: usize, p: usize): void {
  for (let i = 0; i < 16; i++) setWord(W, i, bswap(word(p, i)));
  for (let i = 16; i < 80; i++) {
    setWord(W, i, rotl(word(W, i - 3) ^ word(W, i - 8) ^ word(W, i - 14) ^ word(W, i - 16), 1));
  }
  let a = word(h, 0), b = word(h, 1), c = word(h, 2), d = word(h, 3), e = word(h, 4);
  for (let i = 0; i < 80; i++) {
    let f: u32, k: u32;
    if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
    else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
    else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
    else { f = b ^ c ^ d; k = 0xca62c1d6; }
    const t = rotl(a, 5) + f + e + k + word(W, i);
    e = d; d = c; c = rotl(b, 30); b = a; a = t;
  }
  setWord(h, 0, word(h, 0) + a); setWord(h, 1, word(h, 1) + b);
  setWord(h, 2, word(h, 2) + c); setWord(h, 3, word(h, 3) + d); setWord(h, 4, word(h, 4) + e);
}

function compressMd5(h: usize, p: usize): void {
  let a = word(h, 0), b = word(h, 1), c = word(h, 2), d = word(h, 3);
  for (let i = 0; i < 64; i++) {
    let f: u32, g: i32;
    if (i < 16) { f = (b & c) | (~b & d); g = i; }
    else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) & 15; }
    else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) & 15; }
    else { f = c ^ (b | ~d); g = (7 * i) & 15; }
    f += a + word(MD5_K, i) + word(p, g);
    a = d; d = c; c = b;
    b += rotl(f, load<u8>(MD5_SHIFT + ((i >> 4) << 2) + (i & 3)));
  }
  setWord(h, 0, word(h, 0) + a); setWord(h, 1, word(h, 1) + b);
  setWord(h, 2, word(h, 2) + c); setWord(h, 3, word(h, 3) + d);
}

/**
 * Incremental hash: `update` any number of times, then `digest`. `digest` resets the
 * hasher, so one instance can hash message after message.
 */
export class Hasher {
  private state: StaticArray<u32> = new StaticArray<u32>(8);
  private block: StaticArray<u8> = new StaticArray<u8>(64);
  private filled: i32 = 0;   // bytes waiting in `block`
  private total: u64 = 0;    // bytes hashed so far

  constructor(readonly alg: HashAlg) { this.reset(); }

  reset(): void {
    const iv = this.alg == HashAlg.Md5 ? MD5_IV : this.alg == HashAlg.Sha1 ? SHA1_IV : SHA256_IV;
    memory.copy(changetype<usize>(this.state), iv, <usize>this.words() << 2);
    this.filled = 0;
    this.total = 0;
  }

  update<T>(data: T): this {
    const b = toBytes(data);
    this.write(b.dataStart, b.length);
    return this;
  }

  /** The digest of everything written since the last reset; resets the hasher. */
  digest(): Uint8Array {
    const bits = this.total << 3;
    const buf = changetype<usize>(this.block);
    store<u8>(buf + this.filled, 0x80);
    memory.fill(buf + this.filled + 1, 0, 63 - this.filled);
    if (this.filled >= 56) { // no room for the length: pad out this block and use one more
      this.compress(buf);
      memory.fill(buf, 0, 64);
    }
    const le = this.alg == HashAlg.Md5;
    store<u64>(buf + 56, le ? bits : bswap(bits));
    this.compress(buf);
    const n = this.words();
    const out = new Uint8Array(n << 2);
    for (let i = 0; i < n; i++) {
      const v = unchecked(this.state[i]);
      setWord(out.dataStart, i, le ? v : bswap(v));
    }
    this.reset();
    return out;
  }

  /** Hashes `len` bytes at `ptr`; the caller keeps that memory alive. */
  write(ptr: usize, len: usize): void {
    this.total += len;
    const buf = changetype<usize>(this.block);
    let filled = <usize>this.filled;
    if (filled > 0) {
      const take = min<usize>(64 - filled, len);
      memory.copy(buf + filled, ptr, take);
      filled += take; ptr += take; len -= take;
      if (filled < 64) { this.filled = <i32>filled; return; }
      this.compress(buf);
    }
    while (len >= 64) { this.compress(ptr); ptr += 64; len -= 64; }
    memory.copy(buf, ptr, len);
    this.filled = <i32>len;
  }

  private words(): i32 { return digestLength(this.alg) >> 2; }

  private compress(p: usize): void {
    const h = changetype<usize>(this.state);
    if (this.alg == HashAlg.Sha256) compressSha256(h, p);
    else if (this.alg == HashAlg.Sha1) compressSha1(h, p);
    else compressMd5(h, p);
  }
}

export class Md5 extends Hasher { constructor() { super(HashAlg.Md5); } }
export class Sha1 extends Hasher { constructor() { super(HashAlg.Sha1); } }
export class Sha256 extends Hasher { constructor() { super(HashAlg.Sha256); } }

export function hash<T>(alg: HashAlg, data: T): Uint8Array { return new Hasher(alg).update(data).digest(); }
export function md5<T>(data: T): Uint8Array { return hash(HashAlg.Md5, data); }
export function sha1<T>(data: T): Uint8Array { return hash(HashAlg.Sha1, data); }
export function sha256<T>(data: T): Uint8Array { return hash(HashAlg.Sha256, data); }

/** HMAC (RFC 2104) with any of the hashes. */
export function hmac<K, M>(alg: HashAlg, key: K, msg: M): Uint8Array {
  const h = new Hasher(alg);
  let k = toBytes(key);
  if (k.length > 64) k = h.update(k).digest();
  const pad = new Uint8Array(64);
  memory.copy(pad.dataStart, k.dataStart, k.length);
  for (let i = 0; i < 64; i++) unchecked(pad[i] ^= 0x36);
  const inner = h.update(pad).update(msg).digest();
  for (let i = 0; i < 64; i++) unchecked(pad[i] ^= 0x36 ^ 0x5c);
  return h.update(pad).update(inner).digest();
}
export function hmacSha1<K, M>(key: K, msg: M): Uint8Array { return hmac(HashAlg.Sha1, key, msg); }
export function hmacSha256<K, M>(key: K, msg: M): Uint8Array { return hmac(HashAlg.Sha256, key, msg); }

// A string of `n` UTF-16 units to be filled in place (saves building it piece by piece).
// @ts-ignore: decorator
@inline function newString(n: i32): usize { return __new(<usize>n << 1, idof<string>()); }

/** Lower-case (or upper-case) hex of `b`. */
export function hexEncode(b: Uint8Array, upper: bool = false): string {
  const n = b.length;
  const out = newString(n << 1);
  const alpha: u32 = upper ? 55 : 87; // 'A' - 10 or 'a' - 10
  for (let i = 0; i < n; i++) {
    const v = <u32>unchecked(b[i]);
    const hi = v >> 4, lo = v & 15;
    store<u16>(out + (<usize>i << 2), hi + (hi < 10 ? 48 : alpha));
    store<u16>(out + (<usize>i << 2) + 2, lo + (lo < 10 ? 48 : alpha));
  }
  return changetype<string>(out);
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 (RFC 4648 §4) with '=' padding. */
export function base64Encode(b: Uint8Array): string {
  const n = b.length;
  const out = newString((n + 2) / 3 * 4);
  const alpha = changetype<usize>(B64);
  let o = out;
  for (let i = 0; i < n; i += 3) {
    const rest = n - i;
    const v = (<u32>unchecked(b[i]) << 16) | (rest > 1 ? <u32>unchecked(b[i + 1]) << 8 : 0) | (rest > 2 ? <u32>unchecked(b[i + 2]) : 0);
    store<u16>(o, load<u16>(alpha + ((v >> 17) & 0x7e)));
    store<u16>(o + 2, load<u16>(alpha + ((v >> 11) & 0x7e)));
    store<u16>(o + 4, rest > 1 ? load<u16>(alpha + ((v >> 5) & 0x7e)) : 61);
    store<u16>(o + 6, rest > 2 ? load<u16>(alpha + ((v << 1) & 0x7e)) : 61);
    o += 8;
  }
  return changetype<string>(out);
}

// The 6-bit value of a base64 character, or 64 if it is not one.
function b64Value(c: u32): u32 {
  if (c - 65 < 26) return c - 65;       // A-Z
  if (c - 97 < 26) return c - 71;       // a-z
  if (c - 48 < 10) return c + 4;        // 0-9
  return c == 43 ? 62 : c == 47 ? 63 : 64;
}

/**
 * Decodes standard base64. Strict by default: the length must be a multiple of 4 with
 * '=' padding, no whitespace, no URL-safe alphabet, and the unused bits of the last
 * character must be zero (so every byte string has exactly one accepted encoding).
 * `allowUnpadded` also accepts the same text with its padding left off.
 * Returns null on anything else.
 */
export function base64Decode(s: string, allowUnpadded: bool = false): Uint8Array | null {
  let n = s.length;
  const padded = n > 0 && s.charCodeAt(n - 1) == 61;
  if (padded || !allowUnpadded) {
    if (n & 3) return null;
    if (padded) n -= s.charCodeAt(n - 2) == 61 ? 2 : 1;
  }
  const tail = n & 3;
  if (tail == 1) return null;
  const out = new Uint8Array((n >> 2) * 3 + (tail ? tail - 1 : 0));
  const src = changetype<usize>(s);
  let o = out.dataStart;
  let acc: u32 = 0, bad: u32 = 0;
  for (let i = 0; i < n; i++) {
    const v = b64Value(load<u16>(src + (<usize>i << 1)));
    bad |= v & 64;
    acc = (acc << 6) | v;
    if ((i & 3) == 3) {
      store<u8>(o, acc >> 16); store<u8>(o + 1, acc >> 8); store<u8>(o + 2, acc);
      o += 3;
    }
  }
  if (tail == 2) { bad |= acc & 0xf; store<u8>(o, acc >> 4); }
  else if (tail == 3) { bad |= acc & 0x3; store<u8>(o, acc >> 10); store<u8>(o + 1, acc >> 2); }
  return bad ? null : out;
}

/**
 * Compares without leaking where the first difference is: the loop always covers the
 * longer input and never branches on content. Different lengths give false.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): bool {
  return ctEqual(a.dataStart, a.length, b.dataStart, b.length, 0);
}

/** `constantTimeEqual` over the UTF-16 code units of two strings. */
export function constantTimeEqualString(a: string, b: string): bool {
  return ctEqual(changetype<usize>(a), a.length, changetype<usize>(b), b.length, 1);
}

function ctEqual(a: usize, la: i32, b: usize, lb: i32, shift: i32): bool {
  let diff: u32 = <u32>(la ^ lb);
  const n = max(la, lb);
  for (let i = 0; i < n; i++) {
    // Past the end of the shorter input compare against 0; the branch depends on lengths only.
    const x: u32 = i < la ? (shift ? <u32>load<u16>(a + (<usize>i << 1)) : <u32>load<u8>(a + i)) : 0;
    const y: u32 = i < lb ? (shift ? <u32>load<u16>(b + (<usize>i << 1)) : <u32>load<u8>(b + i)) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}
