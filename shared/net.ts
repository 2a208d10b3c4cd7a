// Query strings, cookies, URL decoding, IP addresses and CIDR sets. Nothing here traps:
// malformed input gives null/false or is kept raw, as each function documents.

// @ts-ignore: decorator
@inline function charAt(p: usize, i: i32): u32 { return <u32>load<u16>(p + (<usize>i << 1)); }

function hexDigit(c: u32): i32 {
  if (c - 48 < 10) return <i32>(c - 48);
  c |= 32; // lower-case letters
  return c - 97 < 6 ? <i32>(c - 87) : -1;
}

// The byte of the escape "%XX" at s[i], or -1.
function escapedByte(p: usize, i: i32, n: i32): i32 {
  if (i + 2 >= n || charAt(p, i) != 37) return -1;
  const hi = hexDigit(charAt(p, i + 1)), lo = hexDigit(charAt(p, i + 2));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

/**
 * Percent-decodes `s` (and '+' as space unless `plusAsSpace` is false). Escaped bytes must
 * form valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF); null on
 * a bad escape or bad UTF-8. Characters that are not escaped pass through unchanged.
 */
export function urlDecode(s: string, plusAsSpace: bool = true): string | null {
  const n = s.length;
  const src = changetype<usize>(s);
  let i = 0;
  while (i < n) {
    const c = charAt(src, i);
    if (c == 37 || (c == 43 && plusAsSpace)) break;
    i++;
  }
  if (i == n) return s;
  // The result is never longer than the input: an escape (3 units) gives at most 1 unit.
  const out = __new(<usize>n << 1, idof<string>());
  memory.copy(out, src, <usize>i << 1);
  let w = out + (<usize>i << 1); // write position
  while (i < n) {
    const c = charAt(src, i);
    if (c != 37) {
      store<u16>(w, c == 43 && plusAsSpace ? 32 : c);
      w += 2;
      i++;
      continue;
    }
    // One UTF-8 sequence spelled as escapes.
    let b = escapedByte(src, i, n);
    if (b < 0) return null;
    i += 3;
    let cp = <u32>b, more = 0, least: u32 = 0;
    if (b >= 0x80) {
      if (b >= 0xc2 && b <= 0xdf) { cp = b & 0x1f; more = 1; least = 0x80; }
      else if (b >= 0xe0 && b <= 0xef) { cp = b & 0x0f; more = 2; least = 0x800; }
      else if (b >= 0xf0 && b <= 0xf4) { cp = b & 0x07; more = 3; least = 0x10000; }
      else return null;
    }
    for (; more > 0; more--) {
      b = escapedByte(src, i, n);
      if (b < 0 || (b & 0xc0) != 0x80) return null;
      cp = (cp << 6) | (b & 0x3f);
      i += 3;
    }
    if (cp < least || cp > 0x10ffff || cp - 0xd800 < 0x800) return null;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      store<u16>(w, 0xd800 | (cp >> 10));
      store<u16>(w + 2, 0xdc00 | (cp & 0x3ff));
      w += 4;
    } else {
      store<u16>(w, cp);
      w += 2;
    }
  }
  return changetype<string>(__renew(out, w - out));
}

export class Param {
  constructor(public key: string, public value: string) {}
}

// Index of the first `c` in s[from, to), or `to`. (Bounded so splitting stays linear.)
function findChar(s: string, c: u32, from: i32, to: i32): i32 {
  const p = changetype<usize>(s);
  for (let i = from; i < to; i++) if (charAt(p, i) == c) return i;
  return to;
}

// Decoded, or the raw text when it does not decode.
function decodeOrRaw(s: string): string {
  const d = urlDecode(s);
  return d != null ? d : s;
}

/**
 * Parses "a=1&b=&c&a=2" (a leading '?' is skipped) into key/value pairs in order,
 * duplicates kept, empty pieces skipped, a piece without '=' has value "". Keys and values
 * are URL-decoded with '+' as space; a key or value that does not decode is kept raw.
 */
export function parseQuery(qs: string): Param[] {
  const out = new Array<Param>();
  const n = qs.length;
  let start = n > 0 && qs.charCodeAt(0) == 63 ? 1 : 0;
  while (start <= n) {
    const end = findChar(qs, 38, start, n);
    if (end > start) {
      const eq = findChar(qs, 61, start, end);
      const hasValue = eq < end;
      const key = decodeOrRaw(qs.substring(start, hasValue ? eq : end));
      out.push(new Param(key, hasValue ? decodeOrRaw(qs.substring(eq + 1, end)) : ""));
    }
    start = end + 1;
  }
  return out;
}

/** [path, query] of a request :path; the query is "" when there is no '?'. */
export function splitPath(path: string): string[] {
  const q = path.indexOf("?");
  return q < 0 ? [path, ""] : [path.substring(0, q), path.substring(q + 1)];
}

/** The first value of `key` in the query of a :path (decoded as in parseQuery), or null. */
export function queryParam(path: string, key: string): string | null {
  return find(parseQuery(splitPath(path)[1]), key);
}

function find(params: Param[], key: string): string | null {
  for (let i = 0; i < params.length; i++) {
    const p = unchecked(params[i]);
    if (p.key == key) return p.value;
  }
  return null;
}

// @ts-ignore: decorator
@inline function isSpace(c: u32): bool { return c == 32 || c == 9; }

/**
 * Parses a Cookie header "a=1; b=2" in order. Spaces/tabs around names and values are
 * trimmed and one pair of double quotes around a value removed; a piece without '=' is a
 * name with value "" (as Go's net/http reads it); empty pieces are skipped. Values are not
 * URL-decoded (cookies carry no encoding of their own).
 */
export function parseCookies(header: string): Param[] {
  const out = new Array<Param>();
  const n = header.length;
  const p = changetype<usize>(header);
  let start = 0;
  while (start <= n) {
    const end = findChar(header, 59, start, n);
    const eq = findChar(header, 61, start, end);
    let a = start, b = eq;                       // name
    while (a < b && isSpace(charAt(p, a))) a++;
    while (b > a && isSpace(charAt(p, b - 1))) b--;
    let c = eq < end ? eq + 1 : end, d = end;    // value
    while (c < d && isSpace(charAt(p, c))) c++;
    while (d > c && isSpace(charAt(p, d - 1))) d--;
    if (d - c >= 2 && charAt(p, c) == 34 && charAt(p, d - 1) == 34) { c++; d--; }
    if (b > a || eq < end) out.push(new Param(header.substring(a, b), header.substring(c, d)));
    start = end + 1;
  }
  return out;
}

/** The value of the first cookie called `name`, or null. */
export function cookie(header: string, name: string): string | null {
  return find(parseCookies(header), name);
}

// ---- IP addresses ----

const V4_MAPPED: u64 = 0xffff00000000;

/**
 * An IPv4 or IPv6 address as 128 bits (hi, lo). IPv4 is held in its IPv4-mapped form
 * ::ffff:a.b.c.d with v6 = false, so either family compares the same way.
 */
export class IpAddr {
  constructor(public v6: bool, public hi: u64, public lo: u64) {}

  static v4(a: u32): IpAddr { return new IpAddr(false, 0, V4_MAPPED | a); }

  /** IPv4, or IPv6 that is an IPv4-mapped address (::ffff:a.b.c.d). */
  isV4(): bool { return this.hi == 0 && (this.lo >> 32) == 0xffff; }
  /** The IPv4 address as a number (meaningful when isV4()). */
  v4Bits(): u32 { return <u32>this.lo; }

  /** Dotted IPv4, or RFC 5952 IPv6 (lower case, longest zero run as "::"). */
  toString(): string {
    if (!this.v6) return dotted(<u32>this.lo);
    let best = -1, bestLen = 1, run = 0;
    for (let i = 0; i < 8; i++) {
      if (group(this, i) == 0) {
        if (++run > bestLen) { best = i - run + 1; bestLen = run; }
      } else run = 0;
    }
    const mapped = this.isV4();
    const groups = mapped ? 6 : 8;
    let s = "";
    for (let i = 0; i < groups; i++) {
      if (i == best) { s += "::"; i += bestLen - 1; continue; }
      if (s.length && !s.endsWith(":")) s += ":";
      s += (<u32>group(this, i)).toString(16);
    }
    if (mapped) s += (s.endsWith(":") ? "" : ":") + dotted(<u32>this.lo);
    return s;
  }
}

function group(ip: IpAddr, i: i32): u32 {
  return <u32>(((i < 4 ? ip.hi : ip.lo) >> (<u64>(3 - (i & 3)) << 4)) & 0xffff);
}

function dotted(a: u32): string {
  return (a >> 24).toString() + "." + ((a >> 16) & 255).toString() + "." + ((a >> 8) & 255).toString() + "." + (a & 255).toString();
}

// Parses dotted-quad IPv4 in s[from, to): four decimal parts 0-255, no leading zeros.
// Returns the address, or -1.
function parseV4(p: usize, from: i32, to: i32): i64 {
  let v: u32 = 0, parts = 0, i = from;
  while (parts < 4) {
    let part: u32 = 0, digits = 0;
    while (i < to && charAt(p, i) - 48 < 10) {
      if (digits == 1 && part == 0) return -1; // leading zero
      part = part * 10 + charAt(p, i) - 48;
      digits++;
      i++;
      if (part > 255) return -1;
    }
    if (digits == 0) return -1;
    v = (v << 8) | part;
    if (++parts < 4) {
      if (i >= to || charAt(p, i) != 46) return -1;
      i++;
    }
  }
  return i == to ? <i64>v : -1;
}

// Parses IPv6 text in s[from, to) (no zone, no brackets) into `out`; false if invalid.
function parseV6(p: usize, from: i32, to: i32, out: StaticArray<u16>): bool {
  let n = 0, gap = -1, i = from;
  if (i + 1 < to && charAt(p, i) == 58 && charAt(p, i + 1) == 58) { gap = 0; i += 2; }
  while (i < to) {
    const start = i;
    let v: u32 = 0;
    while (i < to && i - start < 5) {
      const d = hexDigit(charAt(p, i));
      if (d < 0) break;
      v = (v << 4) | d;
      i++;
    }
    if (i < to && charAt(p, i) == 46) { // dotted IPv4 in the last 32 bits
      const a = parseV4(p, start, to);
      if (a < 0 || n > 6) return false;
      unchecked(out[n++] = <u16>(a >> 16));
      unchecked(out[n++] = <u16>a);
      i = to;
      break;
    }
    if (i == start || i - start > 4 || n == 8) return false;
    unchecked(out[n++] = <u16>v);
    if (i == to) break;
    if (charAt(p, i) != 58) return false;
    i++;
    if (i < to && charAt(p, i) == 58) {
      if (gap >= 0) return false; // a second "::"
      gap = n;
      i++;
    } else if (i == to) return false; // trailing single ':'
  }
  if (gap < 0) return n == 8;
  if (n == 8) return false; // "::" must stand for at least one group
  const tail = n - gap;
  for (let k = 1; k <= tail; k++) unchecked(out[8 - k] = out[n - k]);
  for (let k = gap; k < 8 - tail; k++) unchecked(out[k] = 0);
  return true;
}

const v6Groups = new StaticArray<u16>(8); // scratch for parseV6

// Parses an address in s[from, to).
function parseIpIn(s: string, from: i32, to: i32): IpAddr | null {
  const p = changetype<usize>(s);
  const a = parseV4(p, from, to);
  if (a >= 0) return IpAddr.v4(<u32>a);
  if (!parseV6(p, from, to, v6Groups)) return null;
  let hi: u64 = 0, lo: u64 = 0;
  for (let k = 0; k < 4; k++) {
    hi = (hi << 16) | unchecked(v6Groups[k]);
    lo = (lo << 16) | unchecked(v6Groups[k + 4]);
  }
  return new IpAddr(true, hi, lo);
}

/**
 * Parses "1.2.3.4" (strict dotted quad, no leading zeros) or IPv6 text ("::", "::1",
 * "2001:db8::1", "::ffff:1.2.3.4"). Zone ids ("fe80::1%eth0"), brackets, ports and
 * surrounding spaces are rejected. See parseIpPort for host:port forms.
 */
export function parseIp(s: string): IpAddr | null {
  return parseIpIn(s, 0, s.length);
}

export class IpPort {
  constructor(public ip: IpAddr, public port: i32) {}
}

/**
 * Parses an address with an optional port: "1.2.3.4", "1.2.3.4:5678", "::1", "[::1]",
 * "[::1]:80" (Envoy's source.address uses the last two). `port` is -1 when absent.
 */
export function parseIpPort(s: string): IpPort | null {
  const n = s.length;
  let from = 0, to = n, portAt = -1;
  if (n > 0 && s.charCodeAt(0) == 91) { // [v6] or [v6]:port
    const close = s.indexOf("]");
    if (close < 0) return null;
    from = 1; to = close;
    if (close + 1 < n) {
      if (s.charCodeAt(close + 1) != 58) return null;
      portAt = close + 2;
    }
  } else {
    const colon = s.indexOf(":");
    if (colon >= 0 && s.indexOf(":", colon + 1) < 0) { to = colon; portAt = colon + 1; } // v4:port
  }
  const ip = parseIpIn(s, from, to);
  if (ip == null || (from == 1 && !ip.v6)) return null;
  const port = portAt >= 0 ? decimalTail(s, portAt) : -1;
  if (portAt >= 0 && (port < 0 || port > 65535)) return null;
  return new IpPort(ip, port);
}

// s[from..] as a number of 1 to 5 digits, or -1.
function decimalTail(s: string, from: i32): i32 {
  const n = s.length;
  if (from >= n || n - from > 5) return -1;
  let v = 0;
  for (let i = from; i < n; i++) {
    const d = <u32>s.charCodeAt(i) - 48;
    if (d > 9) return -1;
    v = v * 10 + <i32>d;
  }
  return v;
}

// ---- CIDR sets ----

// @ts-ignore: decorator
@inline function highMask(bits: i32): u64 { // the top `bits` of 64 set
  return bits <= 0 ? 0 : bits >= 64 ? u64.MAX_VALUE : ~(u64.MAX_VALUE >> bits);
}

class Range6 {
  constructor(public startHi: u64, public startLo: u64, public endHi: u64, public endLo: u64) {}
}

// @ts-ignore: decorator
@inline function le128(aHi: u64, aLo: u64, bHi: u64, bLo: u64): bool { return aHi < bHi || (aHi == bHi && aLo <= bLo); }

/**
 * A set of IPv4 and IPv6 prefixes ("10.0.0.0/8", "2001:db8::/32", or a bare address as
 * /32 or /128). IPv4 and IPv6 are separate families, except that an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d, as a rule "::ffff:10.0.0.0/104" or as an address) is treated
 * as the IPv4 address. Host bits after the prefix are ignored ("10.1.2.3/8" = 10.0.0.0/8).
 * Lookups binary-search merged, sorted ranges: O(log n) for any number of prefixes.
 */
export class CidrSet {
  private v4: u64[] = [];       // (start << 32) | end, sorted and merged when !dirty
  private v6: Range6[] = [];
  private dirty: bool = false;
  private count: i32 = 0;

  /** Adds a prefix or address; false (and nothing added) if it does not parse. */
  add(cidr: string): bool {
    const slash = cidr.indexOf("/");
    const end = slash < 0 ? cidr.length : slash;
    const ip = parseIpIn(cidr, 0, end);
    if (ip == null) return false;
    let bits = ip.v6 ? 128 : 32;
    if (slash >= 0) {
      const leadingZero = cidr.length - slash > 2 && cidr.charCodeAt(slash + 1) == 48;
      const len = decimalTail(cidr, slash + 1);
      if (len < 0 || len > bits || leadingZero) return false;
      bits = len;
    }
    // An IPv4-mapped rule is an IPv4 rule, unless it is wider than the mapped block.
    const mapped = ip.v6 && ip.isV4() && bits >= 96;
    if (!ip.v6 || mapped) {
      if (mapped) bits -= 96;
      const mask = <u32>highMask(bits + 32);
      const start = ip.v4Bits() & mask;
      this.v4.push((<u64>start << 32) | (start | ~mask));
    } else {
      v6Rule(this.v6, ip, bits);
    }
    this.count++;
    this.dirty = true;
    return true;
  }

  /** Whether `ip` falls in any prefix. */
  contains(ip: IpAddr): bool {
    if (this.dirty) this.normalize();
    if (ip.isV4()) {
      const x = <u64>ip.v4Bits();
      const r = this.v4;
      let lo = 0, hi = r.length - 1, found = -1;
      while (lo <= hi) { // last range starting at or before x
        const mid = (lo + hi) >>> 1;
        if ((unchecked(r[mid]) >> 32) <= x) { found = mid; lo = mid + 1; } else hi = mid - 1;
      }
      return found >= 0 && x <= (unchecked(r[found]) & 0xffffffff);
    }
    const r = this.v6;
    let lo = 0, hi = r.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = unchecked(r[mid]);
      if (le128(m.startHi, m.startLo, ip.hi, ip.lo)) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return false;
    const f = unchecked(r[found]);
    return le128(ip.hi, ip.lo, f.endHi, f.endLo);
  }

  /** Number of prefixes added. */
  get size(): i32 { return this.count; }

  // Sorts by start and merges overlapping or adjacent ranges.
  private normalize(): void {
    this.dirty = false;
    const a = this.v4;
    a.sort();
    let w = 0;
    for (let i = 0; i < a.length; i++) {
      const cur = unchecked(a[i]);
      if (w > 0) {
        const last = unchecked(a[w - 1]);
        if ((cur >> 32) <= (last & 0xffffffff) + 1) {
          if ((cur & 0xffffffff) > (last & 0xffffffff)) unchecked(a[w - 1] = (last & 0xffffffff00000000) | (cur & 0xffffffff));
          continue;
        }
      }
      unchecked(a[w++] = cur);
    }
    a.length = w;

    const b = this.v6;
    b.sort((x: Range6, y: Range6): i32 => x.startHi < y.startHi ? -1 : x.startHi > y.startHi ? 1 : x.startLo < y.startLo ? -1 : x.startLo > y.startLo ? 1 : 0);
    w = 0;
    for (let i = 0; i < b.length; i++) {
      const cur = unchecked(b[i]);
      if (w > 0) {
        const last = unchecked(b[w - 1]);
        // Adjacent when cur.start <= last.end + 1 (last.end all ones covers everything after).
        const endLo1 = last.endLo + 1, endHi1 = last.endHi + (endLo1 == 0 ? 1 : 0);
        const full = last.endHi == u64.MAX_VALUE && last.endLo == u64.MAX_VALUE;
        if (full || le128(cur.startHi, cur.startLo, endHi1, endLo1)) {
          if (!le128(cur.endHi, cur.endLo, last.endHi, last.endLo)) { last.endHi = cur.endHi; last.endLo = cur.endLo; }
          continue;
        }
      }
      unchecked(b[w++] = cur);
    }
    b.length = w;
  }
}

function v6Rule(list: Range6[], ip: IpAddr, bits: i32): void {
  const mh = highMask(bits), ml = highMask(bits - 64);
  const sh = ip.hi & mh, sl = ip.lo & ml;
  list.push(new Range6(sh, sl, sh | ~mh, sl | ~ml));
}
