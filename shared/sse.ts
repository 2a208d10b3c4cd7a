// Incremental Server-Sent Events parser following the WHATWG event-stream rules.
// Chunks may split the stream at any byte (inside a UTF-8 character, between \r and
// \n); complete events come out as soon as their blank line arrives. Nothing here aborts.

export class SseEvent {
  event: string = "";
  data: string = "";
  id: string = "";    // the last event ID seen so far in the stream (WHATWG semantics)
  retry: i32 = -1;    // this event's retry field, -1 if it had none
  raw: string = "";   // the event's exact text, including comment lines and its blank line
}

const CR: u8 = 0x0D;
const LF: u8 = 0x0A;

/** Growable byte buffer (managed, so a dropped parser frees it). */
class ByteBuf {
  buf: ArrayBuffer = new ArrayBuffer(256);
  len: i32 = 0;

  get ptr(): usize { return changetype<usize>(this.buf); }

  private reserve(n: i32): void {
    const need = this.len + n;
    if (need <= this.buf.byteLength) return;
    let cap = this.buf.byteLength << 1;
    while (cap < need) cap <<= 1;
    const bigger = new ArrayBuffer(cap);
    memory.copy(changetype<usize>(bigger), this.ptr, <usize>this.len);
    this.buf = bigger;
  }

  append(src: usize, n: i32): void {
    this.reserve(n);
    memory.copy(this.ptr + <usize>this.len, src, <usize>n);
    this.len += n;
  }

  push(b: u8): void {
    this.reserve(1);
    store<u8>(this.ptr + <usize>this.len, b);
    this.len++;
  }

  /** Drops the first n bytes. */
  shift(n: i32): void {
    if (n <= 0) return;
    memory.copy(this.ptr, this.ptr + <usize>n, <usize>(this.len - n));
    this.len -= n;
  }

  text(from: i32, to: i32): string {
    return String.UTF8.decodeUnsafe(this.ptr + <usize>from, <usize>(to - from));
  }
}

export class SseParser {
  private maxEventBytes: i32;
  private errorText: string = "";

  // buf holds the current event block from blockStart on; lines before lineStart are read.
  private buf: ByteBuf = new ByteBuf();
  private blockStart: i32 = 0;
  private lineStart: i32 = 0;
  private scanFrom: i32 = 0;          // no line end between lineStart and here

  // Fields of the event being read.
  private data: ByteBuf = new ByteBuf(); // data lines, each followed by \n
  private hasData: bool = false;
  private eventType: string = "";
  private lastId: string = "";
  private retry: i32 = -1;

  private streamStart: bool = true;   // a BOM may still come
  // Dropping an oversized event until its blank line, without buffering it.
  private skipping: bool = false;
  private skipAtLineStart: bool = false;
  private skipAfterCR: bool = false;

  constructor(maxEventBytes: i32 = 1 << 20) {
    this.maxEventBytes = maxEventBytes;
  }

  error(): string { return this.errorText; }

  feed(chunk: ArrayBuffer): SseEvent[] {
    return this.feedRaw(changetype<usize>(chunk), chunk.byteLength);
  }

  feedString(chunk: string): SseEvent[] {
    return this.feed(String.UTF8.encode(chunk));
  }

  /** End of stream: reads a last line without its line end and dispatches a pending event. */
  finish(): SseEvent[] {
    const events: SseEvent[] = [];
    if (!this.skipping) {
      this.streamStart = false; // a lone BOM prefix is just text
      this.readLines(events, true);
    }
    if (!this.skipping) {
      const buf = this.buf;
      if (buf.len > this.lineStart) this.readLine(this.lineStart, buf.len, buf.len, events);
      if (this.hasData) this.dispatch(buf.len, events);
    }
    this.reset();
    return events;
  }

  // --- internals ---

  private feedRaw(src: usize, n: i32): SseEvent[] {
    const events: SseEvent[] = [];
    let i = 0;
    if (this.skipping) i = this.skip(src, 0, n);
    if (i < n) {
      this.buf.append(src + <usize>i, n - i);
      this.readLines(events, false);
      this.compact();
    }
    return events;
  }

  /** Reads every complete line in buf. A final \r waits for the next byte unless atEnd. */
  private readLines(events: SseEvent[], atEnd: bool): void {
    const buf = this.buf;
    if (this.streamStart) {
      const p = buf.ptr;
      const n = buf.len;
      // Wait while the bytes so far could still be the start of a BOM (EF BB BF).
      if (n < 3 && !atEnd && (n == 0 || load<u8>(p) == 0xEF) && (n < 2 || load<u8>(p + 1) == 0xBB)) return;
      if (n >= 3 && load<u8>(p) == 0xEF && load<u8>(p + 1) == 0xBB && load<u8>(p + 2) == 0xBF) {
        this.blockStart = this.lineStart = this.scanFrom = 3;
      }
      this.streamStart = false;
    }
    const base = buf.ptr;
    let i = this.scanFrom;
    const n = buf.len;
    while (true) {
      i = findLineEnd(base, i, n);
      if (i >= n) break;
      const c = load<u8>(base + <usize>i);
      let next = i + 1;
      if (c == CR) {
        if (next == n && !atEnd) break; // is it \r or \r\n? the next chunk tells
        if (next < n && load<u8>(base + <usize>next) == LF) next++;
      }
      this.readLine(this.lineStart, i, next, events);
      this.lineStart = next;
      i = next;
    }
    this.scanFrom = i;
    if (buf.len - this.blockStart > this.maxEventBytes) this.dropOversized();
  }

  /** One line: content in [from, to), line end up to next. */
  private readLine(from: i32, to: i32, next: i32, events: SseEvent[]): void {
    const buf = this.buf;
    if (from == to) { // blank line: the event is complete
      this.dispatch(next, events);
      return;
    }
    const p = buf.ptr;
    if (load<u8>(p + <usize>from) == 0x3A) return; // ":comment", also ":HTTP_STATUS/200"
    let colon = from;
    while (colon < to && load<u8>(p + <usize>colon) != 0x3A) colon++;
    let value = colon < to ? colon + 1 : to;
    if (value < to && load<u8>(p + <usize>value) == 0x20) value++; // one leading space is dropped
    const nameLen = colon - from;
    const name = p + <usize>from;
    if (nameLen == 4 && load<u32>(name) == 0x61746164) { // "data"
      this.data.append(p + <usize>value, to - value);
      this.data.push(LF);
      this.hasData = true;
    } else if (nameLen == 5 && load<u32>(name) == 0x6E657665 && load<u8>(name + 4) == 0x74) { // "event"
      this.eventType = buf.text(value, to);
    } else if (nameLen == 2 && load<u16>(name) == 0x6469) { // "id"
      let hasNul = false;
      for (let k = value; k < to; k++) if (load<u8>(p + <usize>k) == 0) { hasNul = true; break; }
      if (!hasNul) this.lastId = buf.text(value, to);
    } else if (nameLen == 5 && load<u32>(name) == 0x72746572 && load<u8>(name + 4) == 0x79) { // "retry"
      let ms: i64 = 0;
      let digits = value < to;
      for (let k = value; k < to && digits; k++) {
        const d = <i32>load<u8>(p + <usize>k) - 0x30;
        if (d < 0 || d > 9) digits = false;
        else ms = min<i64>(ms * 10 + d, i32.MAX_VALUE);
      }
      if (digits) this.retry = <i32>ms;
    }
    // Other field names are ignored.
  }

  /** Ends the block at `end` (after its blank line), emitting an event if it has data. */
  private dispatch(end: i32, events: SseEvent[]): void {
    const size = end - this.blockStart;
    if (size > this.maxEventBytes) {
      this.errorText = "event of " + size.toString() + " bytes exceeds maxEventBytes " + this.maxEventBytes.toString();
    } else if (this.hasData) {
      const ev = new SseEvent();
      ev.event = this.eventType;
      ev.data = this.data.text(0, this.data.len - 1); // without the last \n
      ev.id = this.lastId;
      ev.retry = this.retry;
      ev.raw = this.buf.text(this.blockStart, end);
      events.push(ev);
    }
    this.clearFields();
    this.blockStart = end;
  }

  /** The block outgrew maxEventBytes before its blank line: drop it and skip to its end. */
  private dropOversized(): void {
    this.errorText = "event exceeds maxEventBytes " + this.maxEventBytes.toString();
    this.clearFields();
    this.skipping = true;
    this.skipAtLineStart = true;
    this.skipAfterCR = false;
    // The unread rest is one partial line (a final \r at most): let skip() track it.
    const buf = this.buf;
    this.skip(buf.ptr + <usize>this.lineStart, 0, buf.len - this.lineStart);
    buf.len = 0;
    this.blockStart = this.lineStart = this.scanFrom = 0;
  }

  /** Skips bytes of an oversized event; returns where its blank line ended (or n). */
  private skip(src: usize, i: i32, n: i32): i32 {
    while (i < n) {
      const c = load<u8>(src + <usize>i);
      i++;
      if (this.skipAfterCR) {
        this.skipAfterCR = false;
        if (c == LF) continue; // second half of \r\n
      }
      if (c == CR || c == LF) {
        this.skipAfterCR = c == CR;
        if (this.skipAtLineStart) { // blank line: the dropped event ends
          this.skipping = false;
          return i;
        }
        this.skipAtLineStart = true;
      } else {
        this.skipAtLineStart = false;
      }
    }
    return n;
  }

  private clearFields(): void {
    this.data.len = 0;
    this.hasData = false;
    this.eventType = "";
    this.retry = -1;
  }

  /** Moves the unfinished block to the front of buf. */
  private compact(): void {
    const start = this.blockStart;
    this.buf.shift(start);
    this.blockStart = 0;
    this.lineStart -= start;
    this.scanFrom -= start;
  }

  private reset(): void {
    this.buf.len = 0;
    this.blockStart = this.lineStart = this.scanFrom = 0;
    this.clearFields();
    this.lastId = "";
    this.streamStart = true;
    this.skipping = false;
  }
}

const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

/** Index of the first \r or \n in [i, n) of the bytes at base, or n. */
function findLineEnd(base: usize, i: i32, n: i32): i32 {
  while (i + 8 <= n) { // 8 bytes at a time while none is a line end
    const x = load<u64>(base + <usize>i);
    const lf = x ^ (ONES * LF);
    const cr = x ^ (ONES * CR);
    if ((((lf - ONES) & ~lf) | ((cr - ONES) & ~cr)) & HIGHS) break;
    i += 8;
  }
  while (i < n) {
    const c = load<u8>(base + <usize>i);
    if (c == LF || c == CR) return i;
    i++;
  }
  return n;
}

/** One event in wire form; multi-line data becomes several data: lines. */
export function formatSseEvent(data: string, event: string = "", id: string = ""): string {
  const parts: string[] = [];
  // A line break inside event or id would start a new field: drop it.
  if (event.length > 0) parts.push("event: " + withoutLineBreaks(event) + "\n");
  if (id.length > 0) parts.push("id: " + withoutLineBreaks(id) + "\n");
  let start = 0;
  const n = data.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? data.charCodeAt(i) : -1;
    if (c == 0x0D || c == 0x0A || c == -1) {
      parts.push("data: " + data.substring(start, i) + "\n");
      if (c == 0x0D && i + 1 < n && data.charCodeAt(i + 1) == 0x0A) i++;
      start = i + 1;
    }
  }
  parts.push("\n");
  return parts.join("");
}

function withoutLineBreaks(s: string): string {
  return s.replaceAll("\r", "").replaceAll("\n", "");
}
