// UTF-8 JSON output for the translators: one growable byte buffer, reused from call to call, written
// straight from strings and parsed values. Output is byte for byte what JsonValue.toString() /
// jsonQuote() would give after UTF-8 encoding, without the intermediate trees and UTF-16 text.
import { JsonType, JsonValue, jsonNumber } from "../json";

// JsonValue.toString() writes containers nested deeper than this as null.
const MAX_WRITE_DEPTH = 10000;
const HEX = "0123456789abcdef";

export class JsonWriter {
  private data: ArrayBuffer;
  private len: i32 = 0;

  constructor(capacity: i32 = 1024) { this.data = new ArrayBuffer(max(capacity, 64)); }

  get length(): i32 { return this.len; }
  reset(): void { this.len = 0; }
  /** Drops what was written after length was len. */
  truncate(len: i32): void { if (len >= 0 && len < this.len) this.len = len; }

  /** A comma, unless this is the first member or item (nothing written yet, or an object or array just opened). */
  comma(): void {
    if (this.len == 0) return;
    const last = <u32>load<u8>(this.buf + <usize>this.len - 1);
    if (last != 0x7B && last != 0x5B) this.byte(0x2C);
  }

  /** An object member's `"name":`, after a comma when needed. */
  key(name: string): void {
    this.comma();
    this.str(name);
    this.byte(0x3A);
  }

  private get buf(): usize { return changetype<usize>(this.data); }

  /** Room for n more bytes; returns where they go. */
  private room(n: i32): usize {
    const need = this.len + n;
    if (need > this.data.byteLength) {
      let cap = this.data.byteLength << 1;
      while (cap < need) cap <<= 1;
      const bigger = new ArrayBuffer(cap);
      memory.copy(changetype<usize>(bigger), this.buf, <usize>this.len);
      this.data = bigger;
    }
    return this.buf + <usize>this.len;
  }

  byte(c: u32): void {
    store<u8>(this.room(1), <u8>c);
    this.len++;
  }

  /** Text as UTF-8, unquoted (JSON fragments, literals). */
  raw(s: string): void {
    const n = s.length;
    const src = changetype<usize>(s);
    let o = this.room(n * 3);
    let i = 0;
    // ASCII four units at a time (literals are); the rest by the runtime's encoder.
    for (; i + 4 <= n; i += 4, o += 4) {
      const x = load<u64>(src + (<usize>i << 1));
      if (x & 0xFF80FF80FF80FF80) break;
      store<u32>(o, <u32>((x & 0xFF) | ((x >> 8) & 0xFF00) | ((x >> 16) & 0xFF0000) | ((x >> 24) & 0xFF000000)));
    }
    this.len = <i32>(o - this.buf) + <i32>String.UTF8.encodeUnsafe(src + (<usize>i << 1), n - i, o);
  }

  /** Bytes of another writer. */
  append(w: JsonWriter): void { this.copy(w.buf, w.len); }

  copy(src: usize, n: i32): void {
    memory.copy(this.room(n), src, <usize>n);
    this.len += n;
  }

  int(v: i64): void {
    const dst = this.room(20);
    let o = dst;
    let u = <u64>v;
    if (v < 0) { store<u8>(o++, 0x2D); u = <u64>0 - u; }
    let digits = 1;
    for (let t = u; t >= 10; t /= 10) digits++;
    o += <usize>digits;
    for (let i = 0; i < digits; i++) { store<u8>(--o, <u8>(0x30 + u % 10)); u /= 10; }
    this.len += <i32>(o - dst) + digits;
  }

  /** A number as JSON.stringify writes it. */
  num(v: f64): void {
    if (v == Math.trunc(v) && Math.abs(v) < 9007199254740992.0) this.int(<i64>v); // also -0 -> 0
    else this.raw(jsonNumber(v));
  }

  /** s as a JSON string literal. */
  str(s: string): void { this.quoted(changetype<usize>(s), s.length); }

  /**
   * n UTF-16 units at src as a JSON string literal: '"', '\\' and control characters escaped, lone
   * surrogates as \uXXXX (as jsonQuote does), everything else UTF-8 encoded.
   */
  quoted(src: usize, n: i32): void {
    let o = this.room(n * 6 + 2); // the longest escape is 6 bytes per unit
    const start = o;
    store<u8>(o++, 0x22);
    let i = 0;
    while (i < n) {
      // Four plain ASCII units at a time.
      if (i + 4 <= n) {
        const x = load<u64>(src + (<usize>i << 1));
        // With every unit below 0x80, a unit below 0x20 or equal to '"' or '\\' borrows into bit 15.
        const q = x ^ 0x0022002200220022;
        const b = x ^ 0x005C005C005C005C;
        const special = (x - 0x0020002000200020) | (q - 0x0001000100010001) | (b - 0x0001000100010001);
        if ((x & 0xFF80FF80FF80FF80) == 0 && (special & 0x8000800080008000) == 0) {
          store<u32>(o, <u32>((x & 0xFF) | ((x >> 8) & 0xFF00) | ((x >> 16) & 0xFF0000) | ((x >> 24) & 0xFF000000)));
          o += 4;
          i += 4;
          continue;
        }
      }
      const c = <u32>load<u16>(src + (<usize>i << 1));
      i++;
      if (c < 0x80) {
        if (c >= 0x20 && c != 0x22 && c != 0x5C) { store<u8>(o++, <u8>c); continue; }
        store<u8>(o++, 0x5C);
        const short = c == 0x22 ? 0x22 : c == 0x5C ? 0x5C : c == 0x08 ? 0x62 : c == 0x0C ? 0x66 : c == 0x0A ? 0x6E : c == 0x0D ? 0x72 : c == 0x09 ? 0x74 : 0;
        if (short) { store<u8>(o++, <u8>short); continue; }
        o = unicodeEscape(o, c);
      } else if (c < 0x800) {
        store<u8>(o++, <u8>(0xC0 | (c >> 6)));
        store<u8>(o++, <u8>(0x80 | (c & 0x3F)));
      } else if ((c & 0xF800) != 0xD800) {
        store<u8>(o++, <u8>(0xE0 | (c >> 12)));
        store<u8>(o++, <u8>(0x80 | ((c >> 6) & 0x3F)));
        store<u8>(o++, <u8>(0x80 | (c & 0x3F)));
      } else {
        const d = i < n ? <u32>load<u16>(src + (<usize>i << 1)) : 0;
        if (c < 0xDC00 && (d & 0xFC00) == 0xDC00) {
          const cp = 0x10000 + ((c & 0x3FF) << 10) + (d & 0x3FF);
          store<u8>(o++, <u8>(0xF0 | (cp >> 18)));
          store<u8>(o++, <u8>(0x80 | ((cp >> 12) & 0x3F)));
          store<u8>(o++, <u8>(0x80 | ((cp >> 6) & 0x3F)));
          store<u8>(o++, <u8>(0x80 | (cp & 0x3F)));
          i++;
        } else {
          store<u8>(o++, 0x5C);
          o = unicodeEscape(o, c);
        }
      }
    }
    store<u8>(o++, 0x22);
    this.len += <i32>(o - start);
  }

  /** A parsed (or built) value, exactly as v.toString() writes it. */
  value(v: JsonValue): void {
    const open = writeStack;      // containers being written
    const next = writeNext;       // index of the next child of each
    const base = open.length;     // value() is not re-entered, but stay correct if it were
    let cur = v;
    while (true) {
      const n = cur.length;
      if (n > 0 && open.length - base < MAX_WRITE_DEPTH && (cur.isObject() || cur.isArray())) {
        this.byte(cur.isObject() ? 0x7B : 0x5B);
        open.push(cur);
        next.push(0);
      } else if (n > 0 && (cur.isObject() || cur.isArray())) {
        this.raw("null");
      } else {
        this.scalar(cur);
      }
      // Move to the next child to write, closing finished containers.
      while (true) {
        const depth = open.length;
        if (depth == base) return;
        const parent = unchecked(open[depth - 1]);
        const i = unchecked(next[depth - 1]);
        if (i < parent.length) {
          if (i > 0) this.byte(0x2C);
          unchecked(next[depth - 1] = i + 1);
          const names = parent._names; // object keys by position (JsonValue has no public accessor by index)
          const items = parent._items;
          if (names !== null && parent.isObject()) { this.str(unchecked(names[i])); this.byte(0x3A); }
          if (items === null) return; // cannot happen with length > 0
          cur = unchecked(items[i]);
          break;
        }
        this.byte(parent.isObject() ? 0x7D : 0x5D);
        open.pop();
        next.pop();
      }
    }
  }

  private scalar(v: JsonValue): void {
    const t = v.type;
    if (t == JsonType.Bool) this.raw(v.asBool() ? "true" : "false");
    else if (t == JsonType.Number) this.num(v.asNumber());
    else if (t == JsonType.String) this.str(v.asString());
    else if (t == JsonType.Array) this.raw("[]");
    else if (t == JsonType.Object) this.raw("{}");
    else this.raw("null");
  }

  /** A copy of the bytes written. */
  bytes(): ArrayBuffer {
    const out = new ArrayBuffer(this.len);
    memory.copy(changetype<usize>(out), this.buf, <usize>this.len);
    return out;
  }

  /** The bytes written, decoded. */
  text(): string { return String.UTF8.decodeUnsafe(this.buf, <usize>this.len); }
}

const writeStack: JsonValue[] = [];
const writeNext: i32[] = [];

function unicodeEscape(o: usize, c: u32): usize {
  store<u8>(o++, 0x75); // the backslash is written already
  for (let k = 12; k >= 0; k -= 4) store<u8>(o++, <u8>HEX.charCodeAt((c >> k) & 0xF));
  return o;
}

const scratch = new JsonWriter();

/** v serialized as UTF-8 JSON. */
export function jsonBytes(v: JsonValue): ArrayBuffer {
  scratch.reset();
  scratch.value(v);
  return scratch.bytes();
}

/** v serialized, as text (what v.toString() gives). */
export function jsonText(v: JsonValue): string {
  scratch.reset();
  scratch.value(v);
  return scratch.text();
}
