// One pass over JSON bytes that reads a request's top-level `model` and `stream` and checks that an
// answer is one complete JSON value, without building a tree. The success path does this for every
// request and every non-streamed answer, so it has to cost little more than the copy of the body;
// the full parser (shared/json.ts) runs only when a fallback needs the request rewritten.
//
// The check is structural: strings terminated (no raw control characters), brackets balanced and
// matching, nothing after the value. It catches the truncated or cut-off bodies a failing upstream
// sends; it does not check number syntax or literal spelling.

import { jsonQuote } from "../../shared/json";

const MAX_DEPTH = 512;
const QUOTE: u8 = 0x22;
const BACKSLASH: u8 = 0x5C;

@inline function isWs(c: u8): bool { return c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09; }

function skipWs(p: usize, end: usize): usize {
  while (p < end && isWs(load<u8>(p))) p++;
  return p;
}

// Eight bytes at a time (SWAR): prompts are mostly long strings with nothing to stop at.
const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;
const QUOTES: u64 = ONES * 0x22;
const BACKSLASHES: u64 = ONES * 0x5C;
/** Some byte of w is zero. */
@inline function zeroByte(w: u64): u64 { return (w - ONES) & ~w & HIGHS; }
/** Some byte of w is a quote, a backslash or a control character (< 0x20). */
@inline function stopByte(w: u64): bool { return (zeroByte(w ^ QUOTES) | zeroByte(w ^ BACKSLASHES) | ((w - ONES * 0x20) & ~w & HIGHS)) != 0; }

/** p at the opening quote; the position after the closing quote, or 0 when the string is not terminated. */
function skipString(p: usize, end: usize): usize {
  p++;
  while (p < end) {
    while (p + 8 <= end && !stopByte(load<u64>(p))) p += 8;
    if (p >= end) break;
    const c = load<u8>(p);
    if (c == QUOTE) return p + 1;
    if (c == BACKSLASH) { p += 2; continue; }
    if (c < 0x20) return 0;
    p++;
  }
  return 0;
}

@inline function isScalarByte(c: u8): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x2B || c == 0x2E || c == 0x45;
}

// Open containers of the value being skipped: 1 = object, 2 = array.
const stack = new StaticArray<u8>(MAX_DEPTH);

/** Skips one JSON value starting at p (after whitespace); its end, or 0 when it is malformed or truncated. */
function skipValue(p: usize, end: usize): usize {
  let depth = 0;
  while (true) {
    p = skipWs(p, end);
    if (p >= end) return 0;
    const c = load<u8>(p);
    if (c == QUOTE) {
      p = skipString(p, end);
      if (p == 0) return 0;
    } else if (c == 0x7B || c == 0x5B) { // { [
      if (depth == MAX_DEPTH) return 0;
      unchecked(stack[depth++] = c == 0x7B ? 1 : 2);
      p++;
      continue;
    } else if (c == 0x7D || c == 0x5D) { // } ]
      if (depth == 0 || unchecked(stack[--depth]) != (c == 0x7D ? 1 : 2)) return 0;
      p++;
    } else if (c == 0x2C || c == 0x3A) { // , :
      if (depth == 0) return 0;
      p++;
      continue;
    } else {
      const start = p;
      while (p < end && isScalarByte(load<u8>(p))) p++;
      if (p == start) return 0;
    }
    if (depth == 0) return p;
  }
}

/** True when the bytes are exactly one JSON object or array (whitespace around it allowed). */
export function isWholeJson(buf: ArrayBuffer): bool {
  const base = changetype<usize>(buf);
  const end = base + <usize>buf.byteLength;
  const p = skipWs(base, end);
  if (p >= end || (load<u8>(p) != 0x7B && load<u8>(p) != 0x5B)) return false;
  const after = skipValue(p, end);
  return after != 0 && skipWs(after, end) == end;
}

export class TopLevel {
  /** The body is a well-formed JSON object. */
  ok: bool = false;
  model: string = "";
  stream: bool = false;
  /** It has a top-level `error` that is not null (an in-band error). */
  error: bool = false;
  /** Byte offsets of the top-level `model` value ([modelAt, modelEnd)); -1 when there is none. */
  modelAt: i32 = -1;
  modelEnd: i32 = -1;
}

const MODEL = "model";
const STREAM = "stream";
const ERROR = "error";

function keyIs(p: usize, len: usize, key: string): bool {
  if (len != <usize>key.length) return false;
  for (let i: i32 = 0; i < key.length; i++) if (load<u8>(p + <usize>i) != <u8>key.charCodeAt(i)) return false;
  return true;
}

/** Reads `model`, `stream` and whether there is an `error` from the top level of a JSON object body. */
export function scanTopLevel(buf: ArrayBuffer): TopLevel {
  const out = new TopLevel();
  const base = changetype<usize>(buf);
  const end = base + <usize>buf.byteLength;
  let p = skipWs(base, end);
  if (p >= end || load<u8>(p) != 0x7B) return out;
  p = skipWs(p + 1, end);
  if (p < end && load<u8>(p) == 0x7D) { out.ok = skipWs(p + 1, end) == end; return out; }
  while (p < end) {
    if (load<u8>(p) != QUOTE) return out;
    const keyEnd = skipString(p, end);
    if (keyEnd == 0) return out;
    const keyStart = p + 1;
    const keyLen = keyEnd - 1 - keyStart;
    p = skipWs(keyEnd, end);
    if (p >= end || load<u8>(p) != 0x3A) return out;
    p = skipWs(p + 1, end);
    const valueStart = p;
    p = skipValue(p, end);
    if (p == 0) return out;
    if (keyIs(keyStart, keyLen, MODEL)) {
      out.modelAt = <i32>(valueStart - base);
      out.modelEnd = <i32>(p - base);
      if (load<u8>(valueStart) == QUOTE) out.model = stringValue(valueStart, p);
    }
    else if (keyIs(keyStart, keyLen, STREAM)) out.stream = p - valueStart == 4 && keyIs(valueStart, 4, "true");
    else if (keyIs(keyStart, keyLen, ERROR)) out.error = !(p - valueStart == 4 && keyIs(valueStart, 4, "null"));
    p = skipWs(p, end);
    if (p >= end) return out;
    const c = load<u8>(p);
    if (c == 0x7D) { out.ok = skipWs(p + 1, end) == end; return out; }
    if (c != 0x2C) return out;
    p = skipWs(p + 1, end);
  }
  return out;
}

/** The text of a JSON string token [p, end) (quotes included); escapes are resolved. */
function stringValue(p: usize, end: usize): string {
  const inner = p + 1;
  const len = end - 1 - inner;
  for (let q = inner; q < inner + len; q++) {
    if (load<u8>(q) == BACKSLASH) return unescape(inner, len);
  }
  return String.UTF8.decodeUnsafe(inner, len);
}

function unescape(p: usize, len: usize): string {
  let out = "";
  let from = p;
  const end = p + len;
  let q = p;
  while (q < end) {
    if (load<u8>(q) != BACKSLASH || q + 1 >= end) { q++; continue; }
    out += String.UTF8.decodeUnsafe(from, q - from);
    const e = load<u8>(q + 1);
    q += 2;
    if (e == 0x6E) out += "\n";
    else if (e == 0x74) out += "\t";
    else if (e == 0x72) out += "\r";
    else if (e == 0x62) out += "\b";
    else if (e == 0x66) out += "\f";
    else if (e == 0x75 && q + 4 <= end) {
      const cu = hex4(q);
      if (cu >= 0) { out += String.fromCharCode(cu); q += 4; }
    } else out += String.fromCharCode(e);
    from = q;
  }
  return out + String.UTF8.decodeUnsafe(from, end - from);
}

function hex4(p: usize): i32 {
  let v = 0;
  for (let i: usize = 0; i < 4; i++) {
    const c = <i32>load<u8>(p + i);
    let d = -1;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

/**
 * The body with its top-level `model` set to `model` (the value replaced in place, or the key added
 * first), the rest byte for byte; null when the body is not a JSON object.
 */
export function withModel(body: ArrayBuffer, model: string): ArrayBuffer | null {
  const top = scanTopLevel(body);
  if (!top.ok) return null;
  const quoted = String.UTF8.encode(jsonQuote(model));
  const base = changetype<usize>(body);
  let cut = top.modelAt;
  let end = top.modelEnd;
  let insert = quoted;
  if (cut < 0) {
    // No model yet: `"model":"x",` right after the opening brace (without the comma in an empty object).
    cut = end = <i32>(skipWs(base, base + <usize>body.byteLength) - base) + 1;
    const empty = load<u8>(skipWs(base + <usize>cut, base + <usize>body.byteLength)) == 0x7D;
    insert = String.UTF8.encode("\"model\":" + jsonQuote(model) + (empty ? "" : ","));
  }
  const out = new ArrayBuffer(body.byteLength - (end - cut) + insert.byteLength);
  const o = changetype<usize>(out);
  memory.copy(o, base, <usize>cut);
  memory.copy(o + <usize>cut, changetype<usize>(insert), <usize>insert.byteLength);
  memory.copy(o + <usize>cut + <usize>insert.byteLength, base + <usize>end, <usize>(body.byteLength - end));
  return out;
}
