// Query and form parameters as they enter the string to sign: URL-decoded, the first value
// of a key wins, keys sorted, each written `k=v` (`k=` when the value is empty, as Higress's
// code does although its README says otherwise).
//
// Decoding is application/x-www-form-urlencoded, as every real client encodes: `+` is a space,
// `%XX` a byte, empty `&&` segments are skipped, a key without `=` has an empty value. That is
// what the Dify plugin signs (Python's parse_qs) and what the Aliyun SDKs send. Decoded bytes that
// are not UTF-8 become U+FFFD, as Python's decoder makes them. Higress's own decoder keeps `+`
// and turns `%zz` into junk; no client signs that way, so we do not copy it.

/** Code-point order (what Python's sorted() and C++'s byte-wise std::map give), not UTF-16 order. */
export function compareCodePoints(a: string, b: string): i32 {
  const n = min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = <i32>a.charCodeAt(i), y = <i32>b.charCodeAt(i);
    if (x != y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// Moves surrogates (astral code points) above U+E000..U+FFFF, so UTF-16 units sort by code point.
// @ts-ignore: decorator
@inline function codePointRank(u: i32): i32 {
  return u >= 0xe000 ? u - 0x800 : u >= 0xd800 ? u + 0x2000 : u;
}

function hexValue(c: u32): i32 {
  if (c - 48 < 10) return <i32>(c - 48);
  const l = c | 0x20;
  if (l - 97 < 6) return <i32>(l - 87);
  return -1;
}

/**
 * UTF-8 bytes [p, p+n) as a string; each invalid sequence becomes one U+FFFD per maximal
 * subpart (the WHATWG decoder, which Python's errors="replace" and node agree with).
 */
export function utf8Lossy(p: usize, n: i32): string {
  const out = new StaticArray<u16>(n);   // UTF-16 never needs more units than UTF-8 has bytes
  const o = changetype<usize>(out);
  let w = o;                              // next unit to write
  let need = 0, seen = 0;
  let cp: u32 = 0, lower: u32 = 0x80, upper: u32 = 0xbf;
  let i = 0;
  while (i < n) {
    const b = <u32>load<u8>(p + i);
    if (need == 0) {
      i++;
      if (b < 0x80) { store<u16>(w, <u16>b); w += 2; continue; }
      if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
      else if (b >= 0xe0 && b <= 0xef) { need = 2; cp = b & 0xf; if (b == 0xe0) lower = 0xa0; else if (b == 0xed) upper = 0x9f; }
      else if (b >= 0xf0 && b <= 0xf4) { need = 3; cp = b & 7; if (b == 0xf0) lower = 0x90; else if (b == 0xf4) upper = 0x8f; }
      else { store<u16>(w, 0xfffd); w += 2; }
      continue;
    }
    if (b < lower || b > upper) {          // broken sequence: replace it, read this byte afresh
      need = seen = 0; lower = 0x80; upper = 0xbf;
      store<u16>(w, 0xfffd); w += 2;
      continue;
    }
    i++;
    lower = 0x80; upper = 0xbf;
    cp = (cp << 6) | (b & 0x3f);
    if (++seen < need) continue;
    if (cp >= 0x10000) {                   // a surrogate pair
      store<u16>(w, <u16>(0xd7c0 + (cp >> 10))); w += 2;
      store<u16>(w, <u16>(0xdc00 | (cp & 0x3ff))); w += 2;
    } else {
      store<u16>(w, <u16>cp); w += 2;
    }
    need = seen = 0;
  }
  if (need != 0) { store<u16>(w, 0xfffd); w += 2; }
  return String.UTF16.decodeUnsafe(o, w - o);
}

/** Decodes bytes [start, end) of `b` (`+` → space, `%XX` → byte; a bad escape stays as it is) to a string. */
export function formDecode(b: Uint8Array, start: i32, end: i32): string {
  const base = b.dataStart;
  let plain = true;
  for (let i = start; i < end; i++) {
    const c = load<u8>(base + i);
    if (c == 0x25 || c == 0x2b || c >= 0x80) { plain = false; break; }
  }
  if (plain) return String.UTF8.decodeUnsafe(base + start, end - start);   // ASCII as it is
  const out = new Uint8Array(end - start);
  const o = out.dataStart;
  let n = 0;
  for (let i = start; i < end; i++) {
    let c = <u32>load<u8>(base + i);
    if (c == 0x2b) c = 0x20;
    else if (c == 0x25 && i + 2 < end) {
      const hi = hexValue(load<u8>(base + i + 1)), lo = hexValue(load<u8>(base + i + 2));
      if ((hi | lo) >= 0) { c = <u32>((hi << 4) | lo); i += 2; }
    }
    store<u8>(o + n, <u8>c);
    n++;
  }
  return utf8Lossy(o, n);
}

/** A set of parameters where the first value of each key wins. */
export class Params {
  keys: string[] = [];
  private values: Map<string, string> = new Map<string, string>();

  get size(): i32 { return this.keys.length; }

  get(key: string): string | null { return this.values.has(key) ? this.values.get(key) : null; }

  add(key: string, value: string): void {
    if (this.values.has(key)) return;
    this.values.set(key, value);
    this.keys.push(key);
  }

  /** Adds every `k=v` of bytes [start, end) of `b` (a query string or a form body). */
  addEncoded(b: Uint8Array, start: i32 = 0, end: i32 = -1): void {
    if (end < 0 || end > b.length) end = b.length;
    if (start < 0) start = 0;
    const base = b.dataStart;
    let seg = start;
    while (seg < end) {
      let amp = seg;
      let eq = -1;
      while (amp < end) {
        const c = load<u8>(base + amp);
        if (c == 0x26) break;
        if (c == 0x3d && eq < 0) eq = amp;
        amp++;
      }
      if (amp > seg) {
        if (eq < 0) this.add(formDecode(b, seg, amp), "");
        else this.add(formDecode(b, seg, eq), formDecode(b, eq + 1, amp));
      }
      seg = amp + 1;
    }
  }

  /** `k1=v1&k2=v2…` in key order; "" when empty. */
  toString(): string {
    const keys = this.keys.slice(0);
    keys.sort(compareCodePoints);
    let s = "";
    for (let i = 0; i < keys.length; i++) {
      const k = unchecked(keys[i]);
      if (i > 0) s += "&";
      s += k + "=" + this.values.get(k);
    }
    return s;
  }
}

/** The query parameters of a `:path`. */
export function queryParams(path: string): Params {
  const p = new Params();
  const q = path.indexOf("?");
  if (q >= 0) p.addEncoded(Uint8Array.wrap(String.UTF8.encode(path.substring(q + 1))));
  return p;
}

/** `path` without any query parameter whose decoded name is `name` (to hide an API key). */
export function withoutParam(path: string, name: string): string {
  const q = path.indexOf("?");
  if (q < 0) return path;
  const parts = path.substring(q + 1).split("&");
  const kept = new Array<string>();
  for (let i = 0; i < parts.length; i++) {
    const p = unchecked(parts[i]);
    const eq = p.indexOf("=");
    const raw = Uint8Array.wrap(String.UTF8.encode(eq < 0 ? p : p.substring(0, eq)));
    if (formDecode(raw, 0, raw.length) != name) kept.push(p);
  }
  return kept.length == 0 ? path.substring(0, q) : path.substring(0, q + 1) + kept.join("&");
}
