// Reads fields out of a stream event's JSON text without building a tree. load() checks the whole
// text exactly as parseJson() would (grammar, nesting limit, number range) and notes where every
// string and container ends; lookups then hop from member to member. Positions are UTF-16 unit
// indexes into the text; -1 means absent. Lookup semantics follow JsonValue's (a repeated key's last
// value wins; a value of another type reads as absent).
import { parseJson } from "../json";
import { JsonWriter } from "./writer";

const MAX_DEPTH = 64; // parseJson's default JsonLimits.maxDepth
const ESCAPED: i32 = 1 << 31; // flag on a string's end: it holds escapes
const KEPT_UNITS = 1 << 16;   // a bigger position table is given back after a big event

const QUOTE: u32 = 0x22, BACKSLASH: u32 = 0x5C, COMMA: u32 = 0x2C, COLON: u32 = 0x3A;
const LBRACE: u32 = 0x7B, RBRACE: u32 = 0x7D, LBRACKET: u32 = 0x5B, RBRACKET: u32 = 0x5D;
// "true", "null" and "fals" as four UTF-16 units read at once.
const TRUE: u64 = 0x0065007500720074, NULL: u64 = 0x006C006C0075006E, FALS: u64 = 0x0073006C00610066;

// Per position, three i32 slots (filled only where they apply):
const END = 0;   // a string or container starting here: where it ends (closing quote or bracket)
const LINK = 4;  // an object: its first key; a key: the object's next key (-1: none)
const VALUE = 8; // a key: where its value starts
const SLOTS = 12;

export class JsonText {
  private s: string = "";
  private src: usize = 0;   // the text's units (raw pointers: these are read per unit and per lookup)
  private n: i32 = 0;
  private table: ArrayBuffer = new ArrayBuffer(256 * SLOTS);
  private t: usize = changetype<usize>(this.table);
  // Containers open at each depth, and the last key read in each (an object links to its first key
  // the way a key links to the next).
  private stack: ArrayBuffer = new ArrayBuffer(MAX_DEPTH * 8);
  /** Position of the top-level value (valid after a successful load). */
  root: i32 = -1;

  /** Takes the text; false when parseJson(text) would fail. */
  load(text: string): bool {
    this.s = text;
    this.src = changetype<usize>(text);
    const n = text.length;
    this.n = n;
    const cap = this.table.byteLength / SLOTS;
    if (cap < n || (cap > KEPT_UNITS && n <= KEPT_UNITS)) {
      this.table = new ArrayBuffer(max(n, 256) * SLOTS);
      this.t = changetype<usize>(this.table);
    }
    this.root = -1;
    const root = this.ws(0);
    if (!this.validate(root)) return false;
    this.root = root;
    return true;
  }

  // ---------------------------------------------------------------- lookups

  isObject(at: i32): bool { return at >= 0 && this.unit(at) == LBRACE; }
  isArray(at: i32): bool { return at >= 0 && this.unit(at) == LBRACKET; }
  isString(at: i32): bool { return at >= 0 && this.unit(at) == QUOTE; }
  isNumber(at: i32): bool { return at >= 0 && (this.unit(at) == 0x2D || this.unit(at) - 0x30 < 10); }
  isNull(at: i32): bool { return at >= 0 && this.unit(at) == 0x6E; }

  /** Value of the last member `key` of the object at obj (any type); -1 if none. */
  get(obj: i32, key: string): i32 {
    if (!this.isObject(obj)) return -1;
    let found = -1;
    const len = key.length;
    for (let k = this.slot(obj, LINK); k >= 0; k = this.slot(k, LINK)) {
      const e = this.slot(k, END);
      if ((e - k - 1 == len || (e & ESCAPED)) && this.equals(k, key)) found = this.slot(k, VALUE); // cheap length test first
    }
    return found;
  }

  has(obj: i32, key: string): bool { return this.get(obj, key) >= 0; }
  getObject(obj: i32, key: string): i32 { const v = this.get(obj, key); return this.isObject(v) ? v : -1; }
  getArray(obj: i32, key: string): i32 { const v = this.get(obj, key); return this.isArray(v) ? v : -1; }

  /** String member, or def when absent or not a string. */
  getString(obj: i32, key: string, def: string = ""): string {
    const v = this.get(obj, key);
    return this.isString(v) ? this.stringAt(v) : def;
  }

  /** Whether the string member `key` equals s (without materializing it). */
  stringIs(obj: i32, key: string, s: string): bool {
    const v = this.get(obj, key);
    return this.isString(v) && this.equals(v, s);
  }

  /** Number member as JsonValue.getInt reads it: def when absent or not a number. */
  getInt(obj: i32, key: string, def: i64 = 0): i64 {
    const v = this.get(obj, key);
    return this.isNumber(v) ? this.intAt(v) : def;
  }

  /** Token count: -1 when absent or not a number (util.countAt). */
  count(obj: i32, key: string): i64 { return this.getInt(obj, key, -1); }

  /** First item of the array at arr (any type); -1 when empty or not an array. */
  first(arr: i32): i32 {
    if (!this.isArray(arr)) return -1;
    const p = this.ws(arr + 1);
    return this.unit(p) == RBRACKET ? -1 : p;
  }

  /** The item after the one at item, inside its array; -1 after the last. */
  next(item: i32): i32 {
    const p = this.after(item);
    return this.unit(p) == COMMA ? this.ws(p + 1) : -1;
  }

  /** The string value at a string position. */
  stringAt(at: i32): string {
    const e = this.slot(at, END);
    const end = e & ~ESCAPED;
    if (!(e & ESCAPED)) return this.s.substring(at + 1, end);
    return this.unescape(at + 1, end);
  }

  /** Whether the value at `at` is a string of at least one character. */
  hasText(at: i32): bool { return this.isString(at) && this.end(at) > at + 1; }

  /** The string at `at` as a JSON string literal (what w.str(stringAt(at)) writes). */
  writeString(w: JsonWriter, at: i32): void {
    const e = this.slot(at, END);
    if (e & ESCAPED) w.str(this.unescape(at + 1, e & ~ESCAPED));
    else w.quoted(this.src + (<usize>(at + 1) << 1), e - at - 1);
  }

  /** JsonValue.asInt of the number at `at`: truncated toward zero, clamped to i64. */
  intAt(at: i32): i64 {
    let p = at;
    const negative = this.unit(p) == 0x2D;
    if (negative) p++;
    let v: i64 = 0;
    let digits = 0;
    while (p < this.n && this.unit(p) - 0x30 < 10) { v = v * 10 + <i64>(this.unit(p) - 0x30); p++; digits++; }
    const c = p < this.n ? this.unit(p) : 0;
    if (digits <= 15 && c != 0x2E && (c | 0x20) != 0x65) return negative ? -v : v; // exact in f64 too
    // Fractions, exponents, big numbers: read them as the parser does.
    const parsed = parseJson(this.s.substring(at, this.numberEnd(at)));
    return parsed === null ? 0 : parsed.asInt(0);
  }

  /** Text of the value at `at` as in util.contentText: a string, or the texts of a list of parts. */
  contentText(at: i32, sep: string = ""): string {
    if (this.isString(at)) return this.stringAt(at);
    let out = "";
    let first = true;
    for (let p = this.first(at); p >= 0; p = this.next(p)) {
      let t = -1;
      if (this.isString(p)) t = p;
      else if (this.isObject(p)) { t = this.get(p, "text"); if (!this.isString(t)) continue; }
      else continue;
      out += (first ? "" : sep) + this.stringAt(t);
      first = false;
    }
    return out;
  }

  // ---------------------------------------------------------------- walking validated text

  @inline private unit(i: i32): u32 { return <u32>load<u16>(this.src + (<usize>i << 1)); }
  @inline private units4(i: i32): u64 { return load<u64>(this.src + (<usize>i << 1)); }

  @inline private slot(i: i32, which: usize): i32 { return load<i32>(this.t + <usize>i * SLOTS + which); }
  @inline private setSlot(i: i32, which: usize, v: i32): void { store<i32>(this.t + <usize>i * SLOTS + which, v); }

  /** End of the string or container starting at i. */
  @inline private end(i: i32): i32 { return this.slot(i, END) & ~ESCAPED; }

  /** First non-blank position from i (n at the end). */
  @inline private ws(i: i32): i32 { return i < this.n && this.unit(i) > 0x20 ? i : this.skipBlanks(i); }

  private skipBlanks(i: i32): i32 {
    while (i < this.n) {
      const c = this.unit(i);
      if (c != 0x20 && c != 0x0A && c != 0x0D && c != 0x09) break;
      i++;
    }
    return i;
  }

  /** First non-blank position after the value at v. */
  private after(v: i32): i32 {
    const c = this.unit(v);
    let p: i32;
    if (c == QUOTE || c == LBRACE || c == LBRACKET) p = this.end(v) + 1;
    else if (c == 0x74 || c == 0x6E) p = v + 4;   // true, null
    else if (c == 0x66) p = v + 5;                // false
    else p = this.numberEnd(v);
    return this.ws(p);
  }

  private numberEnd(at: i32): i32 {
    let p = at + 1;
    while (p < this.n) {
      const c = this.unit(p);
      if (!(c - 0x30 < 10 || c == 0x2E || c == 0x2B || c == 0x2D || (c | 0x20) == 0x65)) break;
      p++;
    }
    return p;
  }

  /** Index of the first of names the string at k spells, or -1 (also when k is no string). */
  oneOf(k: i32, names: string[]): i32 {
    if (!this.isString(k)) return -1;
    const e = this.slot(k, END);
    for (let i = 0; i < names.length; i++) {
      const name = unchecked(names[i]);
      if ((e - k - 1 == name.length || (e & ESCAPED)) && this.equals(k, name)) return i; // cheap length test first
    }
    return -1;
  }

  /** Whether the string at k (a key or value) spells s. */
  equals(k: i32, s: string): bool {
    const e = this.slot(k, END);
    const len = (e & ~ESCAPED) - k - 1;
    if (e & ESCAPED) return this.unescape(k + 1, e & ~ESCAPED) == s;
    return len == s.length && memory.compare(this.src + (<usize>(k + 1) << 1), changetype<usize>(s), <usize>len << 1) == 0;
  }

  /** The (validated) string content in [from, to) with its escapes decoded. */
  private unescape(from: i32, to: i32): string {
    let len = 0;
    for (let i = from; i < to; i++, len++) if (this.unit(i) == BACKSLASH) i += this.unit(i + 1) == 0x75 ? 5 : 1;
    const out = changetype<string>(__new(<usize>len << 1, idof<String>()));
    let o = changetype<usize>(out);
    for (let i = from; i < to; i++, o += 2) {
      let c = this.unit(i);
      if (c == BACKSLASH) {
        const e = this.unit(++i);
        if (e == 0x75) {
          c = <u32>((hexValue(this.unit(i + 1)) << 12) | (hexValue(this.unit(i + 2)) << 8) | (hexValue(this.unit(i + 3)) << 4) | hexValue(this.unit(i + 4)));
          i += 4;
        } else {
          c = e == 0x62 ? 0x08 : e == 0x66 ? 0x0C : e == 0x6E ? 0x0A : e == 0x72 ? 0x0D : e == 0x74 ? 0x09 : e;
        }
      }
      store<u16>(o, <u16>c);
    }
    return out;
  }

  // ---------------------------------------------------------------- validation

  /** The grammar of json.ts parseValues, iteratively, recording where strings and containers end. */
  private validate(p: i32): bool {
    const n = this.n;
    const open = changetype<usize>(this.stack); // per depth: the open container, the last key read
    let depth = 0;
    while (true) {
      // ---- one value at p
      p = this.ws(p);
      if (p >= n) return false;
      const c = this.unit(p);
      if (c == QUOTE) {
        const e = this.scanString(p);
        if (e == -1) return false;
        p = (e & ~ESCAPED) + 1;
      } else if (c == 0x2D || c - 0x30 < 10) {
        p = this.scanNumber(p);
        if (p < 0) return false;
      } else if (c == LBRACE || c == LBRACKET) {
        if (depth >= MAX_DEPTH) return false;
        const q = this.ws(p + 1);
        if (q < n && this.unit(q) == c + 2) { // '}' and ']' follow '{' and '[' by 2
          this.setSlot(p, END, q);
          this.setSlot(p, LINK, -1);
          p = q + 1;
        } else {
          store<i32>(open + (<usize>depth << 3), p);
          store<i32>(open + (<usize>depth << 3), p, 4);
          depth++;
          if (c == LBRACE) { p = this.scanKey(q, depth); if (p < 0) return false; }
          else p = q;
          continue;
        }
      } else if (p + 4 <= n && (this.units4(p) == TRUE || this.units4(p) == NULL)) {
        p += 4;
      } else if (p + 5 <= n && this.units4(p) == FALS && this.unit(p + 4) == 0x65) {
        p += 5;
      } else {
        return false;
      }
      // ---- after a value: a separator, or the ends of the containers it completes
      while (true) {
        p = this.ws(p);
        if (depth == 0) return p == n;
        if (p >= n) return false;
        const top = load<i32>(open + (<usize>(depth - 1) << 3));
        const isObject = this.unit(top) == LBRACE;
        const s = this.unit(p);
        if (s == COMMA) {
          if (isObject) { p = this.scanKey(this.ws(p + 1), depth); if (p < 0) return false; }
          else p++;
          break;
        }
        if (s != (isObject ? RBRACE : RBRACKET)) return false;
        this.setSlot(top, END, p);
        if (isObject) this.setSlot(load<i32>(open + (<usize>(depth - 1) << 3), 4), LINK, -1);
        depth--;
        p++;
      }
    }
  }

  /** `"key" :` at p, a member of the object open at depth; returns where its value starts, or -1. */
  private scanKey(p: i32, depth: i32): i32 {
    if (p >= this.n || this.unit(p) != QUOTE) return -1;
    const e = this.scanString(p);
    if (e == -1) return -1;
    const q = this.ws((e & ~ESCAPED) + 1);
    if (q >= this.n || this.unit(q) != COLON) return -1;
    const v = this.ws(q + 1);
    this.setSlot(p, VALUE, v);
    const last = changetype<usize>(this.stack) + (<usize>(depth - 1) << 3) + 4;
    this.setSlot(load<i32>(last), LINK, p);
    store<i32>(last, p);
    return v;
  }

  /** The string starting at p: records and returns its end (with the ESCAPED flag: negative), or -1. */
  private scanString(p: i32): i32 {
    const n = this.n;
    let escaped = 0;
    let i = p + 1;
    while (true) {
      // Four units at a time while none is a quote, a backslash or a control character.
      while (i + 4 <= n) {
        const x = load<u64>(this.src + (<usize>i << 1));
        const q = x ^ 0x0022002200220022;
        const b = x ^ 0x005C005C005C005C;
        // With bit 15 of each lane set first, a unit below 0x20 or equal to '"' or '\\' clears it
        // (units of 0x8000 and up may too: false alarms, sorted out unit by unit below).
        const H: u64 = 0x8000800080008000;
        if ((((x | H) - 0x0020002000200020) & ((q | H) - 0x0001000100010001) & ((b | H) - 0x0001000100010001) & H) != H) break;
        i += 4;
      }
      if (i >= n) return -1;
      const c = this.unit(i);
      if (c == QUOTE) break;
      if (c < 0x20) return -1;
      if (c == BACKSLASH) {
        if (i + 1 >= n) return -1;
        const e = this.unit(i + 1);
        if (e == 0x75) {
          if (i + 6 > n) return -1;
          if ((hexValue(this.unit(i + 2)) | hexValue(this.unit(i + 3)) | hexValue(this.unit(i + 4)) | hexValue(this.unit(i + 5))) < 0) return -1;
          i += 4;
        } else if (!(e == QUOTE || e == BACKSLASH || e == 0x2F || e == 0x62 || e == 0x66 || e == 0x6E || e == 0x72 || e == 0x74)) {
          return -1;
        }
        escaped = ESCAPED;
        i += 2;
        continue;
      }
      i++;
    }
    const e = i | escaped;
    this.setSlot(p, END, e);
    return e;
  }

  /** A number at p as parseNumber reads it; returns the position after it, or -1 (also out of f64 range). */
  private scanNumber(p: i32): i32 {
    const n = this.n;
    const start = p;
    if (this.unit(p) == 0x2D) p++;
    if (p >= n || this.unit(p) - 0x30 >= 10) return -1;
    let intDigits = 0;
    if (this.unit(p) == 0x30) {
      p++;
      if (p < n && this.unit(p) - 0x30 < 10) return -1; // leading zero
    } else {
      while (p < n && this.unit(p) - 0x30 < 10) { p++; intDigits++; }
    }
    if (p < n && this.unit(p) == 0x2E) {
      p++;
      if (p >= n || this.unit(p) - 0x30 >= 10) return -1;
      while (p < n && this.unit(p) - 0x30 < 10) p++;
    }
    let exponent = false;
    if (p < n && (this.unit(p) | 0x20) == 0x65) {
      exponent = true;
      p++;
      if (p < n && (this.unit(p) == 0x2B || this.unit(p) == 0x2D)) p++;
      if (p >= n || this.unit(p) - 0x30 >= 10) return -1;
      while (p < n && this.unit(p) - 0x30 < 10) p++;
    }
    // Only an exponent or 300+ digits can leave the f64 range: ask the parser about those.
    if ((exponent || intDigits > 300) && parseJson(this.s.substring(start, p)) === null) return -1;
    return p;
  }
}

function hexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

/** The one reader the stream decoders share: a decode call is never re-entered. */
export const eventJson = new JsonText();
