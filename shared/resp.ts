// Redis RESP2 commands and replies (RESP3 reply types are understood too).
//
// Commands go out as arrays of bulk strings (what proxy_redis_call expects as its query).
// Replies are parsed without ever trapping: malformed or truncated input gives null and
// respError() says why. Untrusted counts never drive an allocation: an aggregate may not
// declare more elements than there are bytes left, nesting stops at MAX_DEPTH and a
// reply holds at most MAX_ELEMENTS values in total.
import { hexEncode, sha1 } from "./crypto";

export const MAX_DEPTH = 32;
export const MAX_ELEMENTS = 1 << 20;

export const enum RespType {
  Simple, Error, Integer, Bulk, Array, Null,
  // RESP3 only
  Bool, Double, BigNumber, Map, Set, Push,
}

export class RespValue {
  /** Simple/Error/Bulk text (bulk decoded as UTF-8), BigNumber digits, Double text (see asFloat). */
  str: string = "";
  /** Integer value; Bool as 1/0. */
  int: i64 = 0;
  /** Array/Set/Push elements; Map as key, value, key, value... */
  items: RespValue[] = [];

  constructor(public type: RespType) {}

  isNull(): bool { return this.type == RespType.Null; }
  isError(): bool { return this.type == RespType.Error; }

  /** The element at `i`, or a Null value when there is none (never traps). */
  at(i: i32): RespValue {
    return i >= 0 && i < this.items.length ? unchecked(this.items[i]) : NIL;
  }

  /**
   * Integer, Bool, or text (Simple/Bulk/BigNumber/Double) holding a decimal integer that
   * fits i64, as Lua scripts and GET return counters. Anything else gives `def`.
   */
  asInt(def: i64 = 0): i64 {
    const t = this.type;
    if (t == RespType.Integer || t == RespType.Bool) return this.int;
    if (t == RespType.Simple || t == RespType.Bulk || t == RespType.BigNumber || t == RespType.Double) {
      const s = this.str;
      const v = parseDecimal(changetype<usize>(s), s.length, 1);
      return decimalOk ? v : def;
    }
    return def;
  }

  /**
   * Integer/Bool as a number, or text (Double, BigNumber, Simple, Bulk) read like JS
   * parseFloat, with "inf"/"-inf" as RESP3 spells them; `def` when there is no number.
   */
  asFloat(def: f64 = 0): f64 {
    const t = this.type;
    if (t == RespType.Integer || t == RespType.Bool) return <f64>this.int;
    if (t != RespType.Simple && t != RespType.Bulk && t != RespType.Double && t != RespType.BigNumber) return def;
    const s = this.str;
    if (s == "inf" || s == "-inf") return s == "inf" ? Infinity : -Infinity;
    const v = parseFloat(s); // linked only when a caller asks for floats
    return isNaN(v) && s != "nan" ? def : v;
  }

  /** Text of a string-like value, an Integer in decimal, a Bool as "true"/"false"; else "". */
  asString(): string {
    const t = this.type;
    if (t == RespType.Integer) return this.int.toString();
    if (t == RespType.Bool) return this.int ? "true" : "false";
    return this.str;
  }
}

const NIL = new RespValue(RespType.Null);

let lastError = "";

/** Why the last parseResp/parseRespAll returned null ("" after a success). */
export function respError(): string { return lastError; }

/** Parses exactly one reply; extra bytes after it are an error (see parseRespAll). */
export function parseResp(data: ArrayBuffer): RespValue | null {
  const r = new Reader(data);
  const v = r.value(0);
  if (v != null && r.pos != r.end) return r.fail("trailing bytes after reply");
  lastError = r.err;
  return r.err.length ? null : v;
}

/** Parses back-to-back replies (a pipelined query). Empty input gives an empty list. */
export function parseRespAll(data: ArrayBuffer): RespValue[] | null {
  const r = new Reader(data);
  const out = new Array<RespValue>();
  while (r.pos < r.end) {
    const v = r.value(0);
    if (v == null) break;
    out.push(v);
  }
  lastError = r.err;
  return r.err.length ? null : out;
}

class Reader {
  pos: i32 = 0;
  end: i32;
  err: string = "";
  private base: usize;
  private count: i32 = 0; // values created so far

  constructor(data: ArrayBuffer) {
    this.base = changetype<usize>(data);
    this.end = data.byteLength;
  }

  fail(msg: string): RespValue | null {
    if (!this.err.length) this.err = msg;
    lastError = this.err;
    return null;
  }

  private byte(i: i32): u32 { return load<u8>(this.base + <usize>i); }

  /** Index of the CR ending the line at `pos` (pos is left unchanged), or -1 after fail(). */
  private lineEnd(): i32 {
    for (let i = this.pos; i < this.end; i++) {
      if (this.byte(i) == 13) {
        if (i + 1 >= this.end) break;
        if (this.byte(i + 1) == 10) return i;
        this.fail("CR without LF at byte " + i.toString());
        return -1;
      }
    }
    this.fail("truncated reply");
    return -1;
  }

  private text(from: i32, to: i32): string {
    return String.UTF8.decodeUnsafe(this.base + <usize>from, <usize>(to - from));
  }

  /** The rest of the line as a decimal integer; fails on anything else. */
  private lineInt(): i64 {
    const cr = this.lineEnd();
    if (cr < 0) return 0;
    const v = parseDecimal(this.base + <usize>this.pos, cr - this.pos, 0);
    if (!decimalOk) { this.fail("bad integer at byte " + this.pos.toString()); return 0; }
    this.pos = cr + 2;
    return v;
  }

  value(depth: i32): RespValue | null {
    if (depth > MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    if (++this.count > MAX_ELEMENTS) return this.fail("more than " + MAX_ELEMENTS.toString() + " values");
    if (this.pos >= this.end) return this.fail("truncated reply");
    const at = this.pos;
    const kind = this.byte(this.pos++);
    switch (kind) {
      case 0x2b: return this.line(RespType.Simple);    // +
      case 0x2d: return this.line(RespType.Error);     // -
      case 0x2c: return this.line(RespType.Double);    // ,
      case 0x28: return this.line(RespType.BigNumber); // (
      case 0x3a: {                                     // :
        const v = new RespValue(RespType.Integer);
        v.int = this.lineInt();
        return this.err.length ? null : v;
      }
      case 0x5f: {                                     // _
        const cr = this.lineEnd();
        if (cr < 0) return null;
        if (cr != this.pos) return this.fail("bad null at byte " + at.toString());
        this.pos = cr + 2;
        return new RespValue(RespType.Null);
      }
      case 0x23: {                                     // #
        const cr = this.lineEnd();
        if (cr < 0) return null;
        const c = cr == this.pos + 1 ? this.byte(this.pos) : 0;
        if (c != 0x74 && c != 0x66) return this.fail("bad boolean at byte " + at.toString());
        this.pos = cr + 2;
        const v = new RespValue(RespType.Bool);
        v.int = c == 0x74 ? 1 : 0;
        return v;
      }
      case 0x24: return this.blob(RespType.Bulk, false);  // $
      case 0x21: return this.blob(RespType.Error, false); // !
      case 0x3d: return this.blob(RespType.Bulk, true);   // = verbatim: "txt:" prefix dropped
      case 0x2a: return this.aggregate(RespType.Array, 1, depth);  // *
      case 0x7e: return this.aggregate(RespType.Set, 1, depth);    // ~
      case 0x3e: return this.aggregate(RespType.Push, 1, depth);   // >
      case 0x25: return this.aggregate(RespType.Map, 2, depth);    // %
      case 0x7c: {                                                 // | attributes: skipped
        if (this.aggregate(RespType.Map, 2, depth) == null) return null;
        return this.value(depth + 1);
      }
    }
    return this.fail("unknown reply type at byte " + at.toString());
  }

  private line(type: RespType): RespValue | null {
    const cr = this.lineEnd();
    if (cr < 0) return null;
    const v = new RespValue(type);
    v.str = this.text(this.pos, cr);
    this.pos = cr + 2;
    return v;
  }

  private blob(type: RespType, verbatim: bool): RespValue | null {
    const at = this.pos - 1;
    const n = this.lineInt();
    if (this.err.length) return null;
    if (n == -1 && !verbatim) return new RespValue(RespType.Null); // RESP2 null bulk
    if (n < 0) return this.fail("bad length at byte " + at.toString());
    if (n > <i64>(this.end - this.pos) - 2) return this.fail("truncated reply");
    const start = this.pos, stop = start + <i32>n;
    if (this.byte(stop) != 13 || this.byte(stop + 1) != 10) return this.fail("bulk not followed by CRLF at byte " + stop.toString());
    let from = start;
    if (verbatim) {
      if (n < 4 || this.byte(start + 3) != 0x3a) return this.fail("bad verbatim string at byte " + at.toString());
      from += 4;
    }
    const v = new RespValue(type);
    v.str = this.text(from, stop);
    this.pos = stop + 2;
    return v;
  }

  private aggregate(type: RespType, per: i32, depth: i32): RespValue | null {
    const at = this.pos - 1;
    const n = this.lineInt();
    if (this.err.length) return null;
    if (n == -1 && type == RespType.Array) return new RespValue(RespType.Null); // RESP2 null array
    // Every value takes at least 3 bytes ("_\r\n"), so a count beyond that cannot be honest.
    const left = <i64>(this.end - this.pos);
    if (n < 0 || n > left || n * per * 3 > left) {
      return this.fail(n < 0 ? "bad length at byte " + at.toString() : "truncated reply");
    }
    const v = new RespValue(type);
    const total = <i32>n * per;
    for (let i = 0; i < total; i++) {
      const item = this.value(depth + 1);
      if (item == null) return null;
      v.items.push(item);
    }
    return v;
  }
}

// Set by parseDecimal: whether the text was a decimal integer that fits i64.
let decimalOk = false;

/** Parses [+-]digits at p (bytes when shift is 0, UTF-16 units when 1); sets decimalOk. */
function parseDecimal(p: usize, n: i32, shift: i32): i64 {
  decimalOk = false;
  if (n <= 0) return 0;
  let i = 0;
  const first = shift ? <u32>load<u16>(p) : <u32>load<u8>(p);
  const neg = first == 0x2d;
  if (neg || first == 0x2b) i = 1;
  if (i >= n) return 0;
  const limit: u64 = neg ? 0x8000000000000000 : 0x7fffffffffffffff;
  let v: u64 = 0;
  for (; i < n; i++) {
    const q = p + (<usize>i << shift);
    const d = (shift ? <u32>load<u16>(q) : <u32>load<u8>(q)) - 48;
    if (d > 9) return 0;
    if (v > (limit - d) / 10) return 0; // would pass the limit
    v = v * 10 + d;
  }
  decimalOk = true;
  return <i64>(neg ? 0 - v : v);
}

// ---- commands ----

// Writes `prefix` n CRLF at p; returns the end.
function header(p: usize, prefix: u8, n: i32): usize {
  store<u8>(p++, prefix);
  let digits = 1;
  for (let x = n; x >= 10; x /= 10) digits++;
  for (let i = digits - 1, x = n; i >= 0; i--, x /= 10) store<u8>(p + i, 48 + x % 10);
  p += digits;
  store<u16>(p, 0x0a0d);
  return p + 2;
}

function headerSize(n: i32): i32 {
  let digits = 1;
  for (let x = n; x >= 10; x /= 10) digits++;
  return digits + 3;
}

/** A command as a RESP array of bulk strings (UTF-8), e.g. ["INCRBY", key, "5"]. */
export function respCommand(args: string[]): ArrayBuffer {
  const n = args.length;
  const lens = new StaticArray<i32>(n);
  let size = headerSize(n);
  for (let i = 0; i < n; i++) {
    const len = String.UTF8.byteLength(unchecked(args[i]));
    unchecked(lens[i] = len);
    size += headerSize(len) + len + 2;
  }
  const out = new ArrayBuffer(size);
  let p = header(changetype<usize>(out), 0x2a, n);
  for (let i = 0; i < n; i++) {
    const a = unchecked(args[i]);
    p = header(p, 0x24, unchecked(lens[i]));
    p += String.UTF8.encodeUnsafe(changetype<usize>(a), a.length, p);
    store<u16>(p, 0x0a0d);
    p += 2;
  }
  return out;
}

function scriptCommand(verb: string, body: string, keys: string[], args: string[]): ArrayBuffer {
  const all = new Array<string>(3 + keys.length + args.length);
  all[0] = verb; all[1] = body; all[2] = keys.length.toString();
  for (let i = 0; i < keys.length; i++) all[3 + i] = unchecked(keys[i]);
  for (let i = 0; i < args.length; i++) all[3 + keys.length + i] = unchecked(args[i]);
  return respCommand(all);
}

/** EVAL script numkeys keys... args... */
export function respEval(script: string, keys: string[], args: string[]): ArrayBuffer {
  return scriptCommand("EVAL", script, keys, args);
}

/** EVALSHA sha1hex numkeys keys... args... */
export function respEvalSha(sha1hex: string, keys: string[], args: string[]): ArrayBuffer {
  return scriptCommand("EVALSHA", sha1hex, keys, args);
}

/**
 * A Lua script sent by digest, with EVAL as the fallback. Usage:
 *
 *   const SCRIPT = new RespScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
 *   send(SCRIPT.evalSha(keys, args));                  // normally Redis has the script cached
 *   // in the reply callback:
 *   if (isNoScript(reply)) send(SCRIPT.eval(keys, args)); // once per Redis restart/SCRIPT FLUSH;
 *                                                        // EVAL also caches it for later EVALSHA
 *
 * EVAL and EVALSHA run the same script, so retrying after NOSCRIPT is safe: the failed
 * EVALSHA ran nothing. Keep the keys/args until the reply arrives so the retry can reuse them.
 */
export class RespScript {
  readonly sha: string;
  constructor(readonly source: string) { this.sha = hexEncode(sha1(source)); }
  eval(keys: string[], args: string[]): ArrayBuffer { return respEval(this.source, keys, args); }
  evalSha(keys: string[], args: string[]): ArrayBuffer { return respEvalSha(this.sha, keys, args); }
}

/** Whether a reply is Redis's "NOSCRIPT No matching script" error (then EVAL instead). */
export function isNoScript(reply: RespValue | null): bool {
  return reply != null && reply.isError() && reply.str.startsWith("NOSCRIPT");
}
