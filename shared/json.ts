// Strict RFC 8259 JSON that never aborts: every malformed input gives null and a
// reason in jsonError(). The parser is iterative (depth only limited by JsonLimits),
// reads UTF-8 bytes directly and builds AssemblyScript strings without a detour;
// numbers are read correctly rounded and written exactly as JSON.stringify writes them.
// Speed notes: allocation dominates, so values carry no field initializers and fresh
// arrays are filled without write barriers where that is provably safe (see closeContainer).

export const enum JsonType { Null = 0, Bool = 1, Number = 2, String = 3, Array = 4, Object = 5 }

// Objects up to this many entries are searched linearly; bigger ones get a key index.
const LINEAR_LOOKUP_MAX = 8;
// toString() writes deeper nesting (possible only in hand-built or cyclic trees) as null.
const MAX_WRITE_DEPTH = 10000;

export class JsonValue {
  type: JsonType;
  // Internal storage, read through the methods below. No initializers: a new object is
  // zeroed already, and each initializer would cost a call per allocation.
  _num: f64;                              // number, or 1/0 for a bool
  _str: string | null;                    // string value
  _items: StaticArray<JsonValue> | null;  // array items or object values; _count used
  _names: StaticArray<string> | null;     // object keys, parallel to _items
  _count: i32;
  _index: Map<string, i32> | null;        // key -> position, only for big objects

  constructor(type: JsonType) { this.type = type; }

  static newNull(): JsonValue { return new JsonValue(JsonType.Null); }
  static newBool(v: bool): JsonValue { const j = new JsonValue(JsonType.Bool); j._num = v ? 1 : 0; return j; }
  static newNumber(v: f64): JsonValue { const j = new JsonValue(JsonType.Number); j._num = v; return j; }
  static newString(v: string): JsonValue { const j = new JsonValue(JsonType.String); j._str = v; return j; }
  static newArray(): JsonValue { return new JsonValue(JsonType.Array); }
  static newObject(): JsonValue { return new JsonValue(JsonType.Object); }

  isNull(): bool { return this.type == JsonType.Null; }
  isBool(): bool { return this.type == JsonType.Bool; }
  isNumber(): bool { return this.type == JsonType.Number; }
  isString(): bool { return this.type == JsonType.String; }
  isArray(): bool { return this.type == JsonType.Array; }
  isObject(): bool { return this.type == JsonType.Object; }

  asBool(def: bool = false): bool { return this.type == JsonType.Bool ? this._num != 0 : def; }
  asNumber(def: f64 = 0): f64 { return this.type == JsonType.Number ? this._num : def; }
  asInt(def: i64 = 0): i64 {
    if (this.type != JsonType.Number) return def;
    const n = this._num;
    if (!isFinite(n)) return def;
    // Clamp before converting: an out-of-range float-to-int conversion traps.
    if (n >= 9223372036854775807.0) return i64.MAX_VALUE;
    if (n <= -9223372036854775808.0) return i64.MIN_VALUE;
    return <i64>n;
  }
  asString(def: string = ""): string {
    const s = this._str;
    return this.type == JsonType.String && s !== null ? s : def;
  }

  get(key: string): JsonValue | null {
    const i = this.find(key);
    const items = this._items;
    return i >= 0 && items ? unchecked(items[i]) : null;
  }
  has(key: string): bool { return this.find(key) >= 0; }

  set(key: string, v: JsonValue): JsonValue {
    if (this.type != JsonType.Object) return this;
    const i = this.find(key);
    const items = this._items;
    if (i >= 0 && items) {
      unchecked(items[i] = v);
      return this;
    }
    const n = this._count;
    this.reserve(n + 1);
    const names = this._names;
    const grown = this._items;
    if (!names || !grown) return this;
    unchecked(names[n] = key);
    unchecked(grown[n] = v);
    this._count = n + 1;
    const index = this._index;
    if (index) index.set(key, n);
    return this;
  }

  remove(key: string): bool {
    const i = this.find(key);
    const items = this._items;
    const names = this._names;
    if (i < 0 || !items || !names) return false;
    const last = this._count - 1;
    // Shifting within the same arrays needs no GC write barrier.
    const moved = <usize>(last - i) << alignof<usize>();
    const at = <usize>i << alignof<usize>();
    memory.copy(changetype<usize>(items) + at, changetype<usize>(items) + at + sizeof<usize>(), moved);
    memory.copy(changetype<usize>(names) + at, changetype<usize>(names) + at + sizeof<usize>(), moved);
    store<usize>(changetype<usize>(items) + (<usize>last << alignof<usize>()), 0);
    store<usize>(changetype<usize>(names) + (<usize>last << alignof<usize>()), 0);
    this._count = last;
    this._index = null; // positions shifted; rebuilt on the next big lookup
    return true;
  }

  keys(): string[] {
    const names = this._names;
    const n = this.type == JsonType.Object ? this._count : 0;
    const out = new Array<string>(n);
    if (names) for (let i = 0; i < n; i++) unchecked(out[i] = names[i]);
    return out;
  }
  values(): JsonValue[] { return this.type == JsonType.Object ? this.itemsCopy() : []; }

  getString(key: string, def: string = ""): string { const v = this.get(key); return v ? v.asString(def) : def; }
  getNumber(key: string, def: f64 = 0): f64 { const v = this.get(key); return v ? v.asNumber(def) : def; }
  getInt(key: string, def: i64 = 0): i64 { const v = this.get(key); return v ? v.asInt(def) : def; }
  getBool(key: string, def: bool = false): bool { const v = this.get(key); return v ? v.asBool(def) : def; }
  getObject(key: string): JsonValue | null { const v = this.get(key); return v && v.isObject() ? v : null; }
  getArray(key: string): JsonValue | null { const v = this.get(key); return v && v.isArray() ? v : null; }

  get length(): i32 { return this._count; }

  at(i: i32): JsonValue | null {
    const items = this._items;
    if (this.type != JsonType.Array || !items || i < 0 || i >= this._count) return null;
    return unchecked(items[i]);
  }

  push(v: JsonValue): JsonValue {
    if (this.type != JsonType.Array) return this;
    const n = this._count;
    this.reserve(n + 1);
    const items = this._items;
    if (items) { unchecked(items[n] = v); this._count = n + 1; }
    return this;
  }

  items(): JsonValue[] { return this.type == JsonType.Array ? this.itemsCopy() : []; }

  path(p: string): JsonValue | null {
    let cur: JsonValue = this;
    if (p.length == 0) return cur;
    const segments = p.split(".");
    for (let s = 0; s < segments.length; s++) {
      const seg = unchecked(segments[s]);
      const next = cur.type == JsonType.Array ? cur.at(arrayIndex(seg)) : cur.get(seg);
      if (!next) return null;
      cur = next;
    }
    return cur;
  }

  clone(): JsonValue {
    // Iterative, so a deep tree cannot exhaust the stack.
    const root = this.shallowCopy();
    const from: JsonValue[] = [this];
    const to: JsonValue[] = [root];
    while (from.length > 0) {
      const src = from.pop();
      const dst = to.pop();
      const srcItems = src._items;
      const dstItems = dst._items;
      if (!srcItems || !dstItems) continue;
      for (let i = 0; i < src._count; i++) {
        const child = unchecked(srcItems[i]);
        const copy = child.shallowCopy();
        unchecked(dstItems[i] = copy);
        if (child._count > 0) { from.push(child); to.push(copy); }
      }
    }
    return root;
  }

  toString(): string {
    const w = new Utf16Writer();
    const open: JsonValue[] = [];   // containers being written
    const next: i32[] = [];         // index of the next child of each
    let v: JsonValue = this;
    while (true) {
      if (v._count > 0 && open.length < MAX_WRITE_DEPTH) {
        w.char(v.type == JsonType.Object ? 0x7B : 0x5B);
        open.push(v);
        next.push(0);
      } else if (v._count > 0) {
        w.ascii("null");
      } else {
        v.writeScalar(w);
      }
      // Move to the next child to write, closing finished containers.
      while (true) {
        const depth = open.length;
        if (depth == 0) return w.finish();
        const parent = unchecked(open[depth - 1]);
        const i = unchecked(next[depth - 1]);
        const items = parent._items;
        if (items && i < parent._count) {
          if (i > 0) w.char(0x2C);
          const names = parent._names;
          if (names) { w.quoted(unchecked(names[i])); w.char(0x3A); }
          unchecked(next[depth - 1] = i + 1);
          v = unchecked(items[i]);
          break;
        }
        w.char(parent.type == JsonType.Object ? 0x7D : 0x5D);
        open.pop();
        next.pop();
      }
    }
  }

  // --- internals ---

  /** Makes room for `need` children (keys too for objects). */
  reserve(need: i32): void {
    const items = this._items;
    const cap = items ? items.length : 0;
    if (need <= cap) return;
    const size = max(need, max(4, cap << 1));
    const n = this._count;
    const bigger = new StaticArray<JsonValue>(size);
    if (items) for (let i = 0; i < n; i++) unchecked(bigger[i] = items[i]);
    this._items = bigger;
    if (this.type == JsonType.Object) {
      const names = this._names;
      const biggerNames = new StaticArray<string>(size);
      if (names) for (let i = 0; i < n; i++) unchecked(biggerNames[i] = names[i]);
      this._names = biggerNames;
    }
  }

  private find(key: string): i32 {
    const names = this._names;
    if (this.type != JsonType.Object || !names) return -1;
    const n = this._count;
    if (n <= LINEAR_LOOKUP_MAX) {
      for (let i = 0; i < n; i++) if (sameString(unchecked(names[i]), key)) return i;
      return -1;
    }
    let index = this._index;
    if (!index) {
      index = new Map<string, i32>();
      for (let i = 0; i < n; i++) index.set(unchecked(names[i]), i);
      this._index = index;
    }
    return index.has(key) ? index.get(key) : -1;
  }

  private itemsCopy(): JsonValue[] {
    const items = this._items;
    const n = this._count;
    const out = new Array<JsonValue>(n);
    if (items) for (let i = 0; i < n; i++) unchecked(out[i] = items[i]);
    return out;
  }

  private shallowCopy(): JsonValue {
    const j = new JsonValue(this.type);
    j._num = this._num;
    j._str = this._str;
    const n = this._count;
    if (n > 0) {
      j.reserve(n);
      j._count = n;
      const names = this._names;
      const copyNames = j._names;
      if (names && copyNames) for (let i = 0; i < n; i++) unchecked(copyNames[i] = names[i]);
    }
    return j;
  }

  private writeScalar(w: Utf16Writer): void {
    switch (this.type) {
      case JsonType.Bool: w.ascii(this._num != 0 ? "true" : "false"); break;
      case JsonType.Number: w.ascii(jsonNumber(this._num)); break;
      case JsonType.String: w.quoted(this.asString()); break;
      case JsonType.Array: w.ascii("[]"); break;
      case JsonType.Object: w.ascii("{}"); break;
      default: w.ascii("null");
    }
  }
}

export class JsonLimits {
  maxBytes: i32 = 8 << 20;
  maxDepth: i32 = 64;
}

const defaultLimits = new JsonLimits();
let lastError = "";

/** Why the last parse failed ("" after a successful one). Positions are UTF-8 byte offsets. */
export function jsonError(): string { return lastError; }

export function parseJson(text: string, limits: JsonLimits | null = null): JsonValue | null {
  // WTF-8 keeps lone surrogates of the text; the parser accepts them in this mode.
  const bytes = String.UTF8.encode(text);
  return parseChecked(bytes, limits, true);
}

export function parseJsonBytes(data: ArrayBuffer, limits: JsonLimits | null = null): JsonValue | null {
  return parseChecked(data, limits, false);
}

export function jsonQuote(s: string): string {
  const w = new Utf16Writer();
  w.quoted(s);
  return w.finish();
}

/** Formats n as JSON.stringify does (shortest digits that read back as n, the closest such). */
export function jsonNumber(n: f64): string {
  if (!isFinite(n)) return "null";
  if (n == 0) return "0"; // also -0, as JSON.stringify does
  if (n == Math.trunc(n) && Math.abs(n) < 9007199254740992.0) return (<i64>n).toString();
  // The runtime's Grisu2 digits read back as n and use JavaScript's layout, but with 16 or
  // 17 digits they are often not the shortest or closest. For a normal number (53-bit
  // precision) a decimal of up to 15 digits that reads back as n is the only one of its
  // length, so those are exact; subnormals are too imprecise for that.
  const s = n.toString();
  if (Math.abs(n) >= 2.2250738585072014e-308 && significantDigits(s) <= 15) {
    return s.endsWith(".0") ? s.substring(0, s.length - 2) : s;
  }
  return exactShortest(n);
}

// ===================================================================== parser

// Set by the string and number readers: the position just after what they read.
let cursor: usize = 0;

function parseChecked(data: ArrayBuffer, limits: JsonLimits | null, wtf8: bool): JsonValue | null {
  const lim = limits ? limits : defaultLimits;
  const len = data.byteLength;
  if (len > lim.maxBytes) {
    lastError = "input of " + len.toString() + " bytes exceeds maxBytes " + lim.maxBytes.toString();
    return null;
  }
  lastError = "";
  const base = changetype<usize>(data);
  const result = parseValues(base, base + <usize>len, lim.maxDepth, wtf8);
  pending.clear(0); // what a failed parse left
  openContainers.clear(0);
  openStarts.length = 0;
  if (scratchEnd - scratch > SCRATCH_KEPT) { // do not hold on to the space of one huge string
    heap.free(scratch);
    scratch = scratchEnd = 0;
  }
  return result;
}

function fail(what: string, at: usize, base: usize): JsonValue | null {
  lastError = what + " at " + (at - base).toString();
  return null;
}

function unexpected(p: usize, base: usize, end: usize): JsonValue | null {
  if (p >= end) return fail("unexpected end of input", p, base);
  const c = <i32>load<u8>(p);
  const shown = c >= 0x20 && c < 0x7F ? "'" + String.fromCharCode(c) + "'" : "byte 0x" + c.toString(16);
  return fail("unexpected " + shown, p, base);
}

// @ts-ignore: decorator
@inline function skipSpace(p: usize, end: usize): usize {
  while (p < end) {
    const c = load<u8>(p);
    if (c != 0x20 && c != 0x0A && c != 0x0D && c != 0x09) break;
    p++;
  }
  return p;
}

/** Reads `"key" :` at p (after whitespace) and queues the key; cursor ends after the colon. */
function parseKey(p: usize, base: usize, end: usize, wtf8: bool): bool {
  p = skipSpace(p, end);
  if (p >= end || load<u8>(p) != 0x22) { unexpected(p, base, end); return false; }
  const key = parseString(p + 1, base, end, wtf8);
  if (key === null) return false;
  pending.push(changetype<usize>(key));
  p = skipSpace(cursor, end);
  if (p >= end || load<u8>(p) != 0x3A) { unexpected(p, base, end); return false; }
  cursor = p + 1;
  return true;
}

// The parser's stacks: `pending` holds the keys and values of the containers still
// open, in order; `openContainers` those containers, `openStarts` where their children begin in
// `pending`. Storing children one by one into a single big managed array would make the
// incremental GC rescan all of it after every step it takes during the parse (quadratic
// on big arrays); with fixed-size chunks only the chunk being filled is rescanned.
const CHUNK_BITS = 8;
const CHUNK = 1 << CHUNK_BITS;
const KEPT_CHUNKS = 16; // chunks kept between parses

class RefStack {
  chunks: StaticArray<JsonValue>[] = [];
  top: i32 = 0;
  capacity: i32 = 0; // chunks.length * CHUNK

  /** Any managed object (JsonValue or string): the GC visits it by its own type. */
  push(ref: usize): void {
    if (this.top == this.capacity) {
      this.chunks.push(new StaticArray<JsonValue>(CHUNK));
      this.capacity += CHUNK;
    }
    const chunk = changetype<StaticArray<JsonValue>>(this.chunkOf(this.top));
    unchecked(chunk[this.top & (CHUNK - 1)] = changetype<JsonValue>(ref)); // with the GC write barrier
    this.top++;
  }

  // @ts-ignore: decorator
  @inline at(i: i32): usize { return load<usize>(this.slot(i)); }

  /** Drops entries from `from` up (clearing them, so they hold no garbage). */
  clear(from: i32): void {
    for (let i = from; i < this.top; i++) store<usize>(this.slot(i), 0); // storing null needs no barrier
    this.top = from;
    if (from == 0 && this.capacity > KEPT_CHUNKS * CHUNK) {
      this.chunks.length = KEPT_CHUNKS;
      this.capacity = KEPT_CHUNKS * CHUNK;
    }
  }

  // Raw reads: these run for every value parsed, and i is always below top.
  // @ts-ignore: decorator
  @inline private chunkOf(i: i32): usize {
    return load<usize>(this.chunks.dataStart + (<usize>(i >> CHUNK_BITS) << alignof<usize>()));
  }

  // @ts-ignore: decorator
  @inline private slot(i: i32): usize {
    return this.chunkOf(i) + (<usize>(i & (CHUNK - 1)) << alignof<usize>());
  }
}

const pending = new RefStack();
const openContainers = new RefStack();
const openStarts: i32[] = [];

// Objects up to this size are checked for repeated keys pairwise; bigger ones go
// through set() and its index.
const PAIRWISE_KEYS_MAX = 16;

/** Moves the queued children from `start` up into the container c. */
function closeContainer(c: JsonValue, start: i32): void {
  const isObject = c.type == JsonType.Object;
  const n = isObject ? (pending.top - start) >> 1 : pending.top - start;
  if (isObject && n > PAIRWISE_KEYS_MAX) {
    c.reserve(n);
    // set(): a repeated key keeps its first position and takes the last value.
    for (let i = 0; i < n; i++) {
      const k = start + (i << 1);
      c.set(changetype<string>(pending.at(k)), changetype<JsonValue>(pending.at(k + 1)));
    }
  } else {
    const items = new StaticArray<JsonValue>(n);
    fillFromPending(changetype<usize>(items), start + (isObject ? 1 : 0), n, isObject ? 2 : 1);
    c._items = items;
    c._count = n;
    if (isObject) {
      const names = new StaticArray<string>(n);
      fillFromPending(changetype<usize>(names), start, n, 2);
      c._names = names;
      if (hasRepeatedKey(names, n)) {
        // Rare: rebuild through set(), which keeps the first position and the last value.
        c._items = null;
        c._names = null;
        c._count = 0;
        c.reserve(n);
        for (let i = 0; i < n; i++) c.set(unchecked(names[i]), unchecked(items[i]));
      }
    }
  }
  pending.clear(start);
}

/**
 * Copies n entries of `pending` (from `first`, every `step`) into a StaticArray just
 * allocated, with plain stores. That skips the GC write barrier safely: nothing was
 * allocated since the array was, so no GC step can have scanned it yet; it will be
 * scanned, children included, once reached. The entries stay in `pending` meanwhile.
 */
function fillFromPending(dst: usize, first: i32, n: i32, step: i32): void {
  for (let i = 0; i < n; i++) store<usize>(dst + (<usize>i << alignof<usize>()), pending.at(first + i * step));
}

function hasRepeatedKey(names: StaticArray<string>, n: i32): bool {
  for (let i = 1; i < n; i++) {
    const key = unchecked(names[i]);
    for (let j = 0; j < i; j++) if (sameString(unchecked(names[j]), key)) return true;
  }
  return false;
}

function parseValues(base: usize, end: usize, maxDepth: i32, wtf8: bool): JsonValue | null {
  let p = base;
  while (true) {
    // ---- read one value
    p = skipSpace(p, end);
    if (p >= end) return unexpected(p, base, end);
    let c = <i32>load<u8>(p);
    let value: JsonValue;
    if (c == 0x22) {
      const s = parseString(p + 1, base, end, wtf8);
      if (s === null) return null;
      value = JsonValue.newString(s);
      p = cursor;
    } else if (c == 0x2D || (c >= 0x30 && c <= 0x39)) {
      const n = parseNumber(p, base, end);
      if (isNaN(n)) return null;
      value = JsonValue.newNumber(n);
      p = cursor;
    } else if (c == 0x7B || c == 0x5B) {
      if (openContainers.top >= maxDepth) return fail("nesting deeper than " + maxDepth.toString(), p, base);
      const isObject = c == 0x7B;
      value = isObject ? JsonValue.newObject() : JsonValue.newArray();
      p = skipSpace(p + 1, end);
      if (p >= end || <i32>load<u8>(p) != c + 2) { // '}' and ']' follow '{' and '[' by 2
        openContainers.push(changetype<usize>(value));
        openStarts.push(pending.top);
        if (isObject) {
          if (!parseKey(p, base, end, wtf8)) return null;
          p = cursor;
        }
        continue;
      }
      p++;
    } else if (p + 4 <= end && load<u32>(p) == 0x6C6C756E) { // "null"
      value = JsonValue.newNull(); p += 4;
    } else if (p + 4 <= end && load<u32>(p) == 0x65757274) { // "true"
      value = JsonValue.newBool(true); p += 4;
    } else if (p + 5 <= end && load<u32>(p) == 0x736C6166 && load<u8>(p + 4) == 0x65) { // "false"
      value = JsonValue.newBool(false); p += 5;
    } else {
      return unexpected(p, base, end);
    }

    // ---- hand it to its container; close every container the input closes here
    while (true) {
      if (openContainers.top == 0) {
        p = skipSpace(p, end);
        return p < end ? unexpected(p, base, end) : value;
      }
      pending.push(changetype<usize>(value));
      const parent = changetype<JsonValue>(openContainers.at(openContainers.top - 1));
      const isObject = parent.type == JsonType.Object;
      p = skipSpace(p, end);
      if (p >= end) return unexpected(p, base, end);
      c = <i32>load<u8>(p);
      if (c == 0x2C) {
        if (isObject) {
          if (!parseKey(p + 1, base, end, wtf8)) return null;
          p = cursor;
        } else {
          p++;
        }
        break;
      }
      if (c != (isObject ? 0x7D : 0x5D)) return unexpected(p, base, end);
      p++;
      closeContainer(parent, openStarts.pop());
      openContainers.clear(openContainers.top - 1);
      value = parent;
    }
  }
}

// ---- strings

const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

/** True if any of the 8 bytes is '"', '\\', a control character or non-ASCII. */
// @ts-ignore: decorator
@inline function hasSpecialByte(x: u64): bool {
  const quote = x ^ (ONES * 0x22);
  const slash = x ^ (ONES * 0x5C);
  return (((quote - ONES) & ~quote) | ((slash - ONES) & ~slash) | ((x - ONES * 0x20) & ~x) | x) & HIGHS ? true : false;
}

/** The low 4 bytes of x as 4 UTF-16 code units. */
// @ts-ignore: decorator
@inline function widen4(x: u64): u64 {
  return (x & 0xFF) | ((x & 0xFF00) << 8) | ((x & 0xFF0000) << 16) | ((x & 0xFF000000) << 24);
}

// @ts-ignore: decorator
@inline function hexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20; // lower case
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

// @ts-ignore: decorator
@inline function isContinuation(p: usize, end: usize): bool {
  return p < end && (load<u8>(p) & 0xC0) == 0x80;
}

// Strings are decoded once into this reusable UTF-16 buffer, then copied out at their
// exact size.
const SCRATCH_KEPT: usize = 64 << 10; // bigger buffers are freed after the parse
let scratch: usize = 0;
let scratchEnd: usize = 0;

/** Grows the scratch buffer so that at least 16 bytes fit at o; returns o's new address. */
function scratchRoom(o: usize): usize {
  const used = o - scratch;
  const size = max<usize>(1024, (scratchEnd - scratch) << 1);
  scratch = scratch ? heap.realloc(scratch, size) : heap.alloc(size);
  scratchEnd = scratch + size;
  return scratch + used;
}

/**
 * Reads string content starting after the opening quote; cursor ends after the closing
 * quote. Validates escapes and UTF-8 (WTF-8 allows encoded lone surrogates).
 */
function parseString(start: usize, base: usize, end: usize, wtf8: bool): string | null {
  let p = start;
  let o = scratch;
  let ascii = true;
  while (true) {
    // Plain ASCII, 8 bytes at a time.
    while (p + 8 <= end) {
      if (o + 16 > scratchEnd) o = scratchRoom(o);
      const x = load<u64>(p);
      if (hasSpecialByte(x)) break;
      store<u64>(o, widen4(x));
      store<u64>(o + 8, widen4(x >> 32));
      p += 8;
      o += 16;
    }
    if (o + 16 > scratchEnd) o = scratchRoom(o);
    if (p >= end) { fail("unterminated string", start - 1, base); return null; }
    const c = <u32>load<u8>(p);
    if (c == 0x22) break;
    if (c >= 0x20 && c < 0x80 && c != 0x5C) { store<u16>(o, <u16>c); o += 2; p++; continue; }
    if (c == 0x5C) {
      if (p + 1 >= end) { fail("unterminated string", start - 1, base); return null; }
      const e = <u32>load<u8>(p + 1);
      let u: i32 = -1;
      switch (e) {
        case 0x22: case 0x5C: case 0x2F: u = e; break;
        case 0x62: u = 0x08; break;
        case 0x66: u = 0x0C; break;
        case 0x6E: u = 0x0A; break;
        case 0x72: u = 0x0D; break;
        case 0x74: u = 0x09; break;
        case 0x75: {
          if (p + 6 > end) { fail("invalid \\u escape", p, base); return null; }
          // Any invalid digit (-1) makes the result negative. Surrogates stay as they are:
          // a \uD83D\uDE00 pair is already valid UTF-16, and lone ones are allowed as in JS.
          u = (hexValue(load<u8>(p + 2)) << 12) | (hexValue(load<u8>(p + 3)) << 8)
            | (hexValue(load<u8>(p + 4)) << 4) | hexValue(load<u8>(p + 5));
          if (u < 0) { fail("invalid \\u escape", p, base); return null; }
          p += 4;
          break;
        }
        default: fail("invalid escape", p, base); return null;
      }
      store<u16>(o, <u16>u); o += 2; p += 2;
      ascii = false;
      continue;
    }
    if (c < 0x20) { fail("control character in string", p, base); return null; }
    // Multi-byte UTF-8: reject overlongs, surrogates (unless WTF-8) and values past U+10FFFF.
    ascii = false;
    let cp: u32 = 0;
    if (c >= 0xE0 && c < 0xF0 && isContinuation(p + 1, end) && isContinuation(p + 2, end)) {
      cp = (c & 0x0F) << 12 | (<u32>load<u8>(p + 1) & 0x3F) << 6 | (<u32>load<u8>(p + 2) & 0x3F);
      if (cp < 0x800 || (!wtf8 && cp >= 0xD800 && cp < 0xE000)) { fail("invalid UTF-8", p, base); return null; }
      p += 3;
    } else if (c >= 0xC2 && c < 0xE0 && isContinuation(p + 1, end)) {
      cp = (c & 0x1F) << 6 | (<u32>load<u8>(p + 1) & 0x3F);
      p += 2;
    } else if (c >= 0xF0 && c < 0xF5 && isContinuation(p + 1, end) && isContinuation(p + 2, end) && isContinuation(p + 3, end)) {
      cp = (c & 0x07) << 18 | (<u32>load<u8>(p + 1) & 0x3F) << 12 | (<u32>load<u8>(p + 2) & 0x3F) << 6 | (<u32>load<u8>(p + 3) & 0x3F);
      if (cp < 0x10000 || cp > 0x10FFFF) { fail("invalid UTF-8", p, base); return null; }
      cp -= 0x10000;
      store<u16>(o, <u16>(0xD800 | (cp >> 10))); o += 2;
      cp = 0xDC00 | (cp & 0x3FF);
      p += 4;
    } else {
      fail("invalid UTF-8", p, base);
      return null;
    }
    store<u16>(o, <u16>cp); o += 2;
  }
  cursor = p + 1;
  const bytes = o - scratch;
  // The runtime aborts on objects of 1 GiB; only a maxBytes raised far above 256 MiB gets here.
  if (bytes >= 1 << 30) { fail("string too long", start - 1, base); return null; }
  if (ascii && bytes <= INTERN_MAX << 1) return internUnits(bytes);
  const out = __new(bytes, idof<String>());
  memory.copy(out, scratch, bytes);
  return changetype<string>(out);
}

// Short ASCII strings (keys, roles, ...) repeat a lot: a small direct-mapped cache
// shares them across values and parses. Strings are immutable, so sharing is safe.
const INTERN_MAX: usize = 24;
const INTERN_SLOTS = 512;
// @ts-ignore: decorator
@lazy const internTable = new StaticArray<string>(INTERN_SLOTS);

/** The string in scratch (bytes long), shared through the intern table. */
function internUnits(bytes: usize): string {
  let h = <u32>bytes * 0x9E3779B1;
  for (let i: usize = 0; i < bytes; i += 2) h = (h ^ load<u16>(scratch + i)) * 0x01000193;
  const slot = <i32>(h >> 23); // top 9 bits
  const cached = load<usize>(changetype<usize>(internTable) + (<usize>slot << alignof<usize>()));
  if (cached && <usize>changetype<string>(cached).length << 1 == bytes && memory.compare(cached, scratch, bytes) == 0) {
    return changetype<string>(cached);
  }
  const out = __new(bytes, idof<String>());
  memory.copy(out, scratch, bytes);
  const s = changetype<string>(out);
  unchecked(internTable[slot] = s);
  return s;
}

// ---- numbers

// Powers of ten that are exact in f64.
const EXACT_POW10: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/** Reads a number at p; NaN (with lastError set) if malformed or out of f64 range. */
function parseNumber(p: usize, base: usize, end: usize): f64 {
  const start = p;
  const negative = load<u8>(p) == 0x2D;
  if (negative) p++;
  // Up to 19 significant digits go into mant; further digits only shift exp10.
  let mant: u64 = 0;
  let digits = 0;
  let exp10 = 0;
  let truncated = false;
  if (p >= end || <u32>load<u8>(p) - 0x30 > 9) { numberError(p, base, end); return NaN; }
  if (load<u8>(p) == 0x30) {
    p++;
    if (p < end && <u32>load<u8>(p) - 0x30 <= 9) { fail("leading zero in number", p - 1, base); return NaN; }
  } else {
    while (p < end) {
      const d = <u32>load<u8>(p) - 0x30;
      if (d > 9) break;
      if (digits < 19) { mant = mant * 10 + d; digits++; } else { exp10++; if (d) truncated = true; }
      p++;
    }
  }
  if (p < end && load<u8>(p) == 0x2E) {
    p++;
    if (p >= end || <u32>load<u8>(p) - 0x30 > 9) { numberError(p, base, end); return NaN; }
    while (p < end) {
      const d = <u32>load<u8>(p) - 0x30;
      if (d > 9) break;
      if (mant == 0 && d == 0) exp10--;                  // leading zeros of 0.000x
      else if (digits < 19) { mant = mant * 10 + d; digits++; exp10--; }
      else if (d) truncated = true;
      p++;
    }
  }
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++;
    let expNegative = false;
    if (p < end && (load<u8>(p) == 0x2B || load<u8>(p) == 0x2D)) { expNegative = load<u8>(p) == 0x2D; p++; }
    if (p >= end || <u32>load<u8>(p) - 0x30 > 9) { numberError(p, base, end); return NaN; }
    let e = 0;
    while (p < end) {
      const d = <i32>load<u8>(p) - 0x30;
      if (<u32>d > 9) break;
      if (e < 100000000) e = e * 10 + d; // saturate: far past any f64 range
      p++;
    }
    exp10 += expNegative ? -e : e;
  }
  cursor = p;
  let v: f64;
  if (mant == 0) v = 0;
  else if (!truncated && exp10 == 0) v = <f64>mant;                 // one correctly rounded conversion
  else if (!truncated && mant <= (<u64>1 << 53) && exp10 >= -22 && exp10 <= 22) {
    // Clinger's fast path: both operands exact, so one rounding.
    v = exp10 < 0 ? <f64>mant / unchecked(EXACT_POW10[-exp10]) : <f64>mant * unchecked(EXACT_POW10[exp10]);
  } else {
    v = parseDecimalSlow(negative ? start + 1 : start, p);
  }
  if (!isFinite(v)) { fail("number out of range", start, base); return NaN; }
  return negative ? -v : v;
}

function numberError(p: usize, base: usize, end: usize): void {
  if (p >= end) fail("unexpected end of input in number", p, base);
  else fail("invalid number", p, base);
}

// ---- correctly rounded decimal conversion for the rare hard cases

// Digits kept for the exact comparison; midpoints between doubles need at most 767.
const MAX_DIGITS = 780;
const BIG_LIMBS = 200; // 6400 bits, above the largest product built below

class BigNat {
  limbs: StaticArray<u32> = new StaticArray<u32>(BIG_LIMBS); // little-endian
  size: i32 = 0;                                             // limbs in use, top one non-zero
  // Raw limb access: at shrinkLevel 2 binaryen keeps even unchecked() element access as a call.
  ptr: usize = changetype<usize>(this.limbs);

  setU64(v: u64): void {
    store<u64>(this.ptr, v);
    this.size = v >> 32 ? 2 : v ? 1 : 0;
  }

  copyFrom(o: BigNat): void {
    memory.copy(this.ptr, o.ptr, <usize>o.size << 2);
    this.size = o.size;
  }

  /** this = this * m + a */
  mulAdd(m: u32, a: u32): void {
    const p = this.ptr;
    const n = this.size;
    let carry = <u64>a;
    for (let i = 0; i < n; i++) {
      const t = <u64>load<u32>(p + (<usize>i << 2)) * m + carry;
      store<u32>(p + (<usize>i << 2), <u32>t);
      carry = t >> 32;
    }
    if (carry && n < BIG_LIMBS) { store<u32>(p + (<usize>n << 2), <u32>carry); this.size = n + 1; }
  }

  mulPow5(e: i32): void {
    while (e >= 13) { this.mulAdd(1220703125, 0); e -= 13; }
    if (e > 0) this.mulAdd(<u32>Math.pow(5, e), 0);
  }

  shiftLeft(bits: i32): void {
    let n = this.size;
    if (n == 0) return;
    const p = this.ptr;
    const words = bits >> 5;
    const rest = bits & 31;
    if (n + words + 1 > BIG_LIMBS) return; // cannot happen for the values built here
    if (rest) {
      store<u32>(p + (<usize>n << 2), 0);
      for (let i = n; i > 0; i--) {
        const hi = load<u32>(p + (<usize>i << 2));
        const lo = load<u32>(p + (<usize>(i - 1) << 2));
        store<u32>(p + (<usize>i << 2), (hi << rest) | (lo >> (32 - rest)));
      }
      store<u32>(p, load<u32>(p) << rest);
      if (load<u32>(p + (<usize>n << 2))) n++;
    }
    if (words) {
      memory.copy(p + (<usize>words << 2), p, <usize>n << 2);
      memory.fill(p, 0, <usize>words << 2);
      n += words;
    }
    this.size = n;
  }

  /** this = a + b (this must be neither). */
  setSum(a: BigNat, b: BigNat): void {
    const pa = a.ptr, pb = b.ptr, p = this.ptr;
    const na = a.size, nb = b.size;
    const n = max(na, nb);
    let carry: u64 = 0;
    for (let i = 0; i < n; i++) {
      const t = <u64>(i < na ? load<u32>(pa + (<usize>i << 2)) : 0) + <u64>(i < nb ? load<u32>(pb + (<usize>i << 2)) : 0) + carry;
      store<u32>(p + (<usize>i << 2), <u32>t);
      carry = t >> 32;
    }
    let size = n;
    if (carry && n < BIG_LIMBS) { store<u32>(p + (<usize>n << 2), <u32>carry); size++; }
    this.size = size;
  }

  /** this -= o, for o <= this. */
  subtract(o: BigNat): void {
    const p = this.ptr, po = o.ptr;
    const no = o.size;
    let n = this.size;
    let borrow: u64 = 0;
    for (let i = 0; i < n; i++) {
      const t = <u64>load<u32>(p + (<usize>i << 2)) - <u64>(i < no ? load<u32>(po + (<usize>i << 2)) : 0) - borrow;
      store<u32>(p + (<usize>i << 2), <u32>t);
      borrow = t >> 63; // wrapped below zero
    }
    while (n > 0 && load<u32>(p + (<usize>(n - 1) << 2)) == 0) n--;
    this.size = n;
  }

  static compare(a: BigNat, b: BigNat): i32 {
    const n = a.size;
    if (n != b.size) return n > b.size ? 1 : -1;
    const pa = a.ptr, pb = b.ptr;
    for (let i = n - 1; i >= 0; i--) {
      const x = load<u32>(pa + (<usize>i << 2));
      const y = load<u32>(pb + (<usize>i << 2));
      if (x != y) return x > y ? 1 : -1;
    }
    return 0;
  }
}

// Scratch numbers, created on first use.
// @ts-ignore: decorator
@lazy const bigDigits = new BigNat();
// @ts-ignore: decorator
@lazy const bigLeft = new BigNat();
// @ts-ignore: decorator
@lazy const bigRight = new BigNat();

/**
 * Value of the unsigned decimal text in [p, end), correctly rounded: an f64 guess
 * is moved one ulp at a time until the exact value lies between its neighbour midpoints.
 */
function parseDecimalSlow(p: usize, end: usize): f64 {
  const digits = bigDigits;
  const left = bigLeft;
  const right = bigRight;
  // Significant digits (at most MAX_DIGITS, the rest as a sticky 1) and their exponent.
  digits.setU64(0);
  let count = 0;
  let exp10 = 0;
  let sticky = false;
  let fraction = false;
  let lead: u64 = 0;   // first 19 digits, for the guess
  let chunk: u32 = 0;  // digits not yet added to the bignum, in groups of 9
  let chunkLen = 0;
  for (; p < end; p++) {
    const c = <u32>load<u8>(p);
    if (c == 0x2E) { fraction = true; continue; }
    if (c - 0x30 > 9) break;
    const d = c - 0x30;
    if (count == 0 && d == 0) { if (fraction) exp10--; continue; }
    if (count >= MAX_DIGITS) { if (d) sticky = true; if (!fraction) exp10++; continue; }
    if (count < 19) lead = lead * 10 + d;
    chunk = chunk * 10 + d;
    if (++chunkLen == 9) { digits.mulAdd(1000000000, chunk); chunk = 0; chunkLen = 0; }
    count++;
    if (fraction) exp10--;
  }
  if (sticky) { chunk = chunk * 10 + 1; chunkLen++; count++; exp10--; }
  if (chunkLen) digits.mulAdd(<u32>unchecked(EXACT_POW10[chunkLen]), chunk);
  let e = 0;
  if (p < end) { // exponent part, already validated by the caller
    p++;
    let negative = false;
    if (load<u8>(p) == 0x2B || load<u8>(p) == 0x2D) { negative = load<u8>(p) == 0x2D; p++; }
    for (; p < end; p++) if (e < 100000000) e = e * 10 + (<i32>load<u8>(p) - 0x30);
    if (negative) e = -e;
  }
  exp10 += e;
  if (count == 0) return 0;
  if (count + exp10 > 310) return Infinity;  // >= 1e310
  if (count + exp10 < -324) return 0;        // < 1e-325, below half the smallest subnormal

  // Guess from the leading digits, scaled in exact steps of 1e22 (no premature overflow).
  let guess = <f64>lead;
  let scale = exp10 + count - min(count, 19);
  while (scale > 22) { guess *= 1e22; scale -= 22; }
  while (scale < -22) { guess /= 1e22; scale += 22; }
  guess = scale < 0 ? guess / unchecked(EXACT_POW10[-scale]) : guess * unchecked(EXACT_POW10[scale]);
  if (!isFinite(guess)) guess = f64.MAX_VALUE;

  for (let step = 0; step < 200; step++) {
    const bits = reinterpret<u64>(guess);
    const c = compareWithUpperMidpoint(guess, digits, exp10, left, right);
    if (c > 0 || (c == 0 && (bits & 1))) {
      if (guess == f64.MAX_VALUE) return Infinity;
      guess = reinterpret<f64>(bits + 1);
      continue;
    }
    if (guess == 0) break;
    const below = reinterpret<f64>(bits - 1);
    const d = compareWithUpperMidpoint(below, digits, exp10, left, right);
    if (d < 0 || (d == 0 && (bits & 1))) { guess = below; continue; }
    break;
  }
  return guess;
}

/** Compares digits * 10^exp10 with the midpoint between x and the next double up. */
function compareWithUpperMidpoint(x: f64, digits: BigNat, exp10: i32, left: BigNat, right: BigNat): i32 {
  const bits = reinterpret<u64>(x);
  const biased = <i32>(bits >> 52) & 0x7FF;
  let m = bits & ((<u64>1 << 52) - 1);
  let k = -1074;
  if (biased) { m |= <u64>1 << 52; k = biased - 1075; }
  // midpoint = (2m + 1) * 2^(k - 1);  value = digits * 5^exp10 * 2^exp10
  left.copyFrom(digits);
  right.setU64(2 * m + 1);
  if (exp10 >= 0) left.mulPow5(exp10); else right.mulPow5(-exp10);
  const shift = exp10 - (k - 1);
  if (shift > 0) left.shiftLeft(shift); else right.shiftLeft(-shift);
  return BigNat.compare(left, right);
}

// ---- exact shortest formatting (Burger & Dybvig's free-format algorithm)

// @ts-ignore: decorator
@lazy const fmtR = new BigNat();   // remainder, scaled
// @ts-ignore: decorator
@lazy const fmtS = new BigNat();   // scale
// @ts-ignore: decorator
@lazy const fmtUp = new BigNat();  // distance to the upper rounding boundary
// @ts-ignore: decorator
@lazy const fmtDown = new BigNat(); // distance to the lower rounding boundary
// @ts-ignore: decorator
@lazy const fmtSum = new BigNat();
// @ts-ignore: decorator
@lazy const fmtDigits = new StaticArray<u8>(24);

function significantDigits(s: string): i32 {
  let count = 0;
  let leading = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x65) break; // 'e'
    if (c < 0x30 || c > 0x39) continue;
    if (leading && c == 0x30) continue;
    leading = false;
    count++;
  }
  return count;
}

/** True if r + up reaches s: the upper boundary is at or past the next digit position. */
function reachesUp(r: BigNat, up: BigNat, s: BigNat, inclusive: bool): bool {
  fmtSum.setSum(r, up);
  const c = BigNat.compare(fmtSum, s);
  return inclusive ? c >= 0 : c > 0;
}

function exactShortest(x: f64): string {
  const negative = x < 0;
  if (negative) x = -x;
  const bits = reinterpret<u64>(x);
  const biased = <i32>(bits >> 52) & 0x7FF;
  let f = bits & ((<u64>1 << 52) - 1);
  let e = -1074;
  if (biased) { f |= <u64>1 << 52; e = biased - 1075; }
  // Boundaries that still read back as x are inclusive when the mantissa is even.
  const even = (f & 1) == 0;
  // At a power of two the gap below is half the gap above.
  const narrowBelow = biased > 1 && f == <u64>1 << 52;
  // x = r / s, upper boundary (r + up) / s, lower (r - down) / s; twos is a power of two
  // of s still to apply (negative: of r, up and down instead).
  const r = fmtR, s = fmtS, up = fmtUp, down = fmtDown;
  const shift = narrowBelow ? 2 : 1;
  r.setU64(f);
  up.setU64(narrowBelow ? 2 : 1);
  down.setU64(1);
  s.setU64(1);
  let twos = 0;
  if (e >= 0) {
    r.shiftLeft(e + shift);
    up.shiftLeft(e);
    down.shiftLeft(e);
    s.shiftLeft(shift);
  } else {
    r.shiftLeft(shift);
    twos = shift - e;
  }
  // k: the decimal exponent with 10^(k-1) <= upper boundary < 10^k, from an estimate.
  let k = <i32>Math.ceil(Math.log10(x) - 1e-10);
  if (k >= 0) {
    s.mulPow5(k);
  } else {
    r.mulPow5(-k);
    up.mulPow5(-k);
    down.mulPow5(-k);
  }
  twos += k;
  if (twos >= 0) {
    s.shiftLeft(twos);
  } else {
    r.shiftLeft(-twos);
    up.shiftLeft(-twos);
    down.shiftLeft(-twos);
  }
  while (reachesUp(r, up, s, even)) { s.mulAdd(10, 0); k++; }
  // Now r < s. Below 2^124 every step fits in 128 bits (all but extreme magnitudes).
  let count = s.size < 4 || (s.size == 4 && load<u32>(s.ptr + 12) < 1 << 28) ? digits128(even) : digitsBig(even);
  // A last digit of 10 carries into the ones before it.
  const digits = fmtDigits;
  let i = count - 1;
  while (i > 0 && unchecked(digits[i]) == 10) { unchecked(digits[i] = 0); i--; unchecked(digits[i] = digits[i] + 1); }
  if (unchecked(digits[0]) == 10) { unchecked(digits[0] = 1); k++; }
  while (count > 1 && unchecked(digits[count - 1]) == 0) count--;
  return layoutNumber(negative, digits, count, k);
}

/** Last digit d, given whether the rest may be dropped (low) or rounded up (high). */
// @ts-ignore: decorator
@inline function lastDigit(d: i32, low: bool, high: bool, twiceRestVsScale: i32): i32 {
  // Both: the closer of d and d + 1; a tie goes to the even one.
  if (low && high) return twiceRestVsScale > 0 || (twiceRestVsScale == 0 && (d & 1)) ? d + 1 : d;
  return high ? d + 1 : d;
}

// 128-bit values for the usual digit loop, two u64 words each (low first), with helpers
// that the compiler inlines itself (binaryen would not at shrinkLevel 2).
const W_R: usize = memory.data(16);
const W_S: usize = memory.data(16);
const W_UP: usize = memory.data(16);
const W_DOWN: usize = memory.data(16);
const W_SUM: usize = memory.data(16);

// @ts-ignore: decorator
@inline function wideFrom(w: usize, b: BigNat): void { // b has at most 4 limbs
  store<u64>(w, 0);
  store<u64>(w + 8, 0);
  memory.copy(w, b.ptr, <usize>b.size << 2);
}

// @ts-ignore: decorator
@inline function wideTimes10(w: usize): void {
  const lo = load<u64>(w);
  const lo2 = lo << 1;
  const sum = lo2 + (lo << 3);
  store<u64>(w + 8, load<u64>(w + 8) * 10 + (lo >> 63) + (lo >> 61) + <u64>(sum < lo2));
  store<u64>(w, sum);
}

// @ts-ignore: decorator
@inline function wideCompare(a: usize, b: usize): i32 {
  const ah = load<u64>(a + 8), bh = load<u64>(b + 8);
  if (ah != bh) return ah > bh ? 1 : -1;
  const al = load<u64>(a), bl = load<u64>(b);
  return al == bl ? 0 : al > bl ? 1 : -1;
}

// @ts-ignore: decorator
@inline function wideSubtract(a: usize, b: usize): void { // a -= b, b <= a
  const al = load<u64>(a), bl = load<u64>(b);
  store<u64>(a + 8, load<u64>(a + 8) - load<u64>(b + 8) - <u64>(al < bl));
  store<u64>(a, al - bl);
}

// @ts-ignore: decorator
@inline function wideSum(dst: usize, a: usize, b: usize): void {
  const sum = load<u64>(a) + load<u64>(b);
  store<u64>(dst + 8, load<u64>(a + 8) + load<u64>(b + 8) + <u64>(sum < load<u64>(a)));
  store<u64>(dst, sum);
}

/** Digit generation on 128-bit values (s < 2^124, so ten times r, up, down or s fits). */
function digits128(even: bool): i32 {
  wideFrom(W_R, fmtR);
  wideFrom(W_S, fmtS);
  wideFrom(W_UP, fmtUp);
  wideFrom(W_DOWN, fmtDown);
  const digits = fmtDigits;
  let count = 0;
  while (true) {
    wideTimes10(W_R);
    wideTimes10(W_UP);
    wideTimes10(W_DOWN);
    let d = 0;
    while (wideCompare(W_R, W_S) >= 0) { wideSubtract(W_R, W_S); d++; }
    const c = wideCompare(W_R, W_DOWN);
    const low = even ? c <= 0 : c < 0;
    wideSum(W_SUM, W_R, W_UP);
    const h = wideCompare(W_SUM, W_S);
    const high = even ? h >= 0 : h > 0;
    if (!low && !high && count < 17) { unchecked(digits[count++] = <u8>d); continue; }
    wideSum(W_SUM, W_R, W_R);
    unchecked(digits[count++] = <u8>lastDigit(d, low, high, wideCompare(W_SUM, W_S)));
    return count;
  }
}

/** The same on big numbers, for magnitudes far from 1. */
function digitsBig(even: bool): i32 {
  const r = fmtR, s = fmtS, up = fmtUp, down = fmtDown;
  const digits = fmtDigits;
  let count = 0;
  while (true) {
    r.mulAdd(10, 0);
    up.mulAdd(10, 0);
    down.mulAdd(10, 0);
    let d = 0;
    while (BigNat.compare(r, s) >= 0) { r.subtract(s); d++; }
    const c = BigNat.compare(r, down);
    const low = even ? c <= 0 : c < 0;
    const high = reachesUp(r, up, s, even);
    if (!low && !high && count < 17) { unchecked(digits[count++] = <u8>d); continue; }
    fmtSum.setSum(r, r);
    unchecked(digits[count++] = <u8>lastDigit(d, low, high, BigNat.compare(fmtSum, s)));
    return count;
  }
}

// The longest layout: "-0.000000" and 17 digits, or "-" 17 digits "." "e-324".
const LAYOUT: usize = memory.data(64);

/** JavaScript's Number#toString layout of 0.d1d2...dn * 10^k. */
function layoutNumber(negative: bool, digits: StaticArray<u8>, n: i32, k: i32): string {
  let o = LAYOUT;
  if (negative) { store<u16>(o, 0x2D); o += 2; }
  if (0 < k && k <= 21) {                 // 1234.5, 12300
    for (let i = 0; i < max(n, k); i++) {
      if (i == k) { store<u16>(o, 0x2E); o += 2; }
      store<u16>(o, i < n ? 0x30 + <u16>unchecked(digits[i]) : 0x30); o += 2;
    }
  } else if (-6 < k && k <= 0) {          // 0.00123
    store<u32>(o, 0x2E0030); o += 4;      // "0."
    for (let i = 0; i < -k; i++) { store<u16>(o, 0x30); o += 2; }
    for (let i = 0; i < n; i++) { store<u16>(o, 0x30 + <u16>unchecked(digits[i])); o += 2; }
  } else {                                // 1.23e-7, 1e+21
    for (let i = 0; i < n; i++) {
      if (i == 1) { store<u16>(o, 0x2E); o += 2; }
      store<u16>(o, 0x30 + <u16>unchecked(digits[i])); o += 2;
    }
    let exp = k - 1;
    store<u32>(o, exp >= 0 ? 0x2B0065 : 0x2D0065); o += 4; // "e+" or "e-"
    exp = abs(exp);
    if (exp >= 100) { store<u16>(o, 0x30 + <u16>(exp / 100)); o += 2; }
    if (exp >= 10) { store<u16>(o, 0x30 + <u16>(exp / 10 % 10)); o += 2; }
    store<u16>(o, 0x30 + <u16>(exp % 10)); o += 2;
  }
  return String.UTF16.decodeUnsafe(LAYOUT, o - LAYOUT);
}

// ===================================================================== writer

/** Growable UTF-16 buffer behind toString() and jsonQuote(). */
class Utf16Writer {
  buf: ArrayBuffer = new ArrayBuffer(64);
  len: i32 = 0; // bytes used

  private reserve(bytes: i32): usize {
    const need = this.len + bytes;
    if (need > this.buf.byteLength) {
      let cap = this.buf.byteLength << 1;
      while (cap < need) cap <<= 1;
      const bigger = new ArrayBuffer(cap);
      memory.copy(changetype<usize>(bigger), changetype<usize>(this.buf), <usize>this.len);
      this.buf = bigger;
    }
    return changetype<usize>(this.buf) + <usize>this.len;
  }

  char(c: u32): void {
    store<u16>(this.reserve(2), <u16>c);
    this.len += 2;
  }

  ascii(s: string): void {
    const bytes = s.length << 1;
    memory.copy(this.reserve(bytes), changetype<usize>(s), <usize>bytes);
    this.len += bytes;
  }

  /** Copies UTF-16 code units verbatim. */
  units(src: usize, count: i32): void {
    const bytes = count << 1;
    memory.copy(this.reserve(bytes), src, <usize>bytes);
    this.len += bytes;
  }

  /** Writes s as a JSON string literal; lone surrogates become \uXXXX escapes. */
  quoted(s: string): void {
    const n = s.length;
    const src = changetype<usize>(s);
    this.char(0x22);
    let run = 0; // first unit of the pending run that needs no escaping
    for (let i = 0; i < n; i++) {
      const c = <u32>load<u16>(src + (<usize>i << 1));
      if (c >= 0x20 && c != 0x22 && c != 0x5C && (c & 0xF800) != 0xD800) continue;
      if ((c & 0xFC00) == 0xD800 && i + 1 < n && (load<u16>(src + (<usize>(i + 1) << 1)) & 0xFC00) == 0xDC00) {
        i++; // a valid surrogate pair stays in the run
        continue;
      }
      this.units(src + (<usize>run << 1), i - run);
      this.escape(c);
      run = i + 1;
    }
    this.units(src + (<usize>run << 1), n - run);
    this.char(0x22);
  }

  private escape(c: u32): void {
    let short: u32 = 0;
    switch (c) {
      case 0x22: short = 0x22; break;
      case 0x5C: short = 0x5C; break;
      case 0x08: short = 0x62; break;
      case 0x0C: short = 0x66; break;
      case 0x0A: short = 0x6E; break;
      case 0x0D: short = 0x72; break;
      case 0x09: short = 0x74; break;
    }
    if (short) {
      store<u32>(this.reserve(4), 0x5C | (short << 16));
      this.len += 4;
      return;
    }
    const o = this.reserve(12);
    store<u32>(o, 0x5C | (0x75 << 16)); // \u
    for (let i = 0; i < 4; i++) {
      const nibble = (c >> (12 - 4 * i)) & 0xF;
      store<u16>(o + 4 + (<usize>i << 1), <u16>(nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10));
    }
    this.len += 12;
  }

  finish(): string {
    return String.UTF16.decodeUnsafe(changetype<usize>(this.buf), <usize>this.len);
  }
}

// @ts-ignore: decorator
@inline function sameString(a: string, b: string): bool {
  const n = <usize>a.length << 1;
  return changetype<usize>(a) == changetype<usize>(b) ||
    (n == <usize>b.length << 1 && memory.compare(changetype<usize>(a), changetype<usize>(b), n) == 0);
}

/** Array index in a path segment: decimal digits only, else -1. */
function arrayIndex(seg: string): i32 {
  const n = seg.length;
  if (n == 0 || n > 9) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = seg.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
