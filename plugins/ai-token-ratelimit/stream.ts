// Response streams: usage is read from every SSE event; when this plugin asked the upstream for usage
// (stream_options.include_usage) that the client did not ask for, the client gets the stream it
// expects: the usage-only chunk is removed and `"usage":null` is dropped from the other chunks.
// Events are split on raw bytes, so untouched events pass through byte for byte.
import { StreamUsageTracker } from "../../shared/usage";
import { logWarn } from "../../shared/proxy/hostcalls";

const LF: u8 = 10;
const CR: u8 = 13;

/** Appends bytes to a growable byte buffer. */
class Bytes {
  buf: Uint8Array = new Uint8Array(256);
  len: i32 = 0;
  append(src: usize, n: i32): void {
    if (n <= 0) return;
    if (this.len + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.len + n) cap *= 2;
      const nb = new Uint8Array(cap);
      memory.copy(nb.dataStart, this.buf.dataStart, this.len);
      this.buf = nb;
    }
    memory.copy(this.buf.dataStart + this.len, src, n);
    this.len += n;
  }
  appendBuffer(b: ArrayBuffer): void { this.append(changetype<usize>(b), b.byteLength); }
  appendString(s: string): void { this.appendBuffer(String.UTF8.encode(s)); }
  take(): ArrayBuffer {
    const out = new ArrayBuffer(this.len);
    memory.copy(changetype<usize>(out), this.buf.dataStart, this.len);
    this.len = 0;
    return out;
  }
  /** Drops the first n bytes. */
  shift(n: i32): void {
    if (n <= 0) return;
    memory.copy(this.buf.dataStart, this.buf.dataStart + n, this.len - n);
    this.len -= n;
  }
}

/**
 * Longest event read for usage. The bytes of an event that grows past this (an upstream that never sends
 * a blank line, a huge payload in one event) are passed on as they come, unread, so what is held stays
 * bounded instead of growing until the VM runs out of memory.
 */
export const MAX_EVENT_BYTES: i32 = 8 << 20;

/** Splits an SSE byte stream into events, feeds them to the usage tracker and (if asked) rewrites them. */
export class SseUsageFilter {
  readonly tracker: StreamUsageTracker = new StreamUsageTracker();
  private pending: Bytes = new Bytes();
  private out: Bytes = new Bytes();
  /** Leading bytes of `pending` already searched for an event end (each chunk is searched once). */
  private scanned: i32 = 0;
  /** `pending` starts inside an event over MAX_EVENT_BYTES whose beginning has been passed on. */
  private oversized: bool = false;

  /** `hideInjectedUsage`: the client did not ask for usage; remove what include_usage added. */
  constructor(public hideInjectedUsage: bool) {}

  /** Bytes held back, waiting for the end of their event. */
  get buffered(): i32 { return this.pending.len; }

  /** Consumes a body chunk; returns the bytes to send on (complete events; a partial event waits). */
  push(chunk: ArrayBuffer, end: bool): ArrayBuffer {
    this.pending.appendBuffer(chunk);
    const base = this.pending.buf.dataStart;
    let start = 0;
    const n = this.pending.len;
    let i = this.scanned;
    while (i < n) {
      // An event ends at a blank line: \n\n, \r\n\r\n (or \r\r).
      const c = load<u8>(base + i);
      let endLen = 0;
      if (c == LF && i + 1 < n && load<u8>(base + i + 1) == LF) endLen = 2;
      else if (c == CR && i + 3 < n && load<u8>(base + i + 1) == LF && load<u8>(base + i + 2) == CR && load<u8>(base + i + 3) == LF) endLen = 4;
      else if (c == CR && i + 1 < n && load<u8>(base + i + 1) == CR) endLen = 2;
      if (endLen == 0) { i++; continue; }
      if (this.oversized) { this.out.append(base + start, i + endLen - start); this.oversized = false; }
      else this.event(base + start, i - start, i + endLen - start);
      i += endLen;
      start = i;
    }
    if (end && start < n) {
      if (this.oversized) this.out.append(base + start, n - start);
      else this.event(base + start, n - start, n - start);
      this.oversized = false;
      start = n;
    } else if ((this.oversized || n - start > MAX_EVENT_BYTES) && n - 3 > start) {
      // Pass the event's bytes on unread, all but the last three: they may begin the blank line
      // that the next chunk completes.
      if (!this.oversized) logWarn("an event stream event exceeds " + MAX_EVENT_BYTES.toString() + " bytes: passed on without reading its usage");
      this.oversized = true;
      this.out.append(base + start, n - 3 - start);
      start = n - 3;
    }
    this.pending.shift(start);
    // A position whose next three bytes were all here has been decided; the last three are looked at again.
    this.scanned = n - 3 > start ? n - 3 - start : 0;
    return this.out.take();
  }

  /** One event: `len` bytes of fields, `rawLen` including its terminator. */
  private event(p: usize, len: i32, rawLen: i32): void {
    const text = String.UTF8.decodeUnsafe(p, len);
    let name = "";
    let data = "";
    let dataLines = 0;
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i];
      if (line.endsWith("\r")) line = line.substring(0, line.length - 1);
      if (line.startsWith("data:")) {
        let v = line.substring(5);
        if (v.startsWith(" ")) v = v.substring(1);
        data = dataLines == 0 ? v : data + "\n" + v;
        dataLines++;
      } else if (line.startsWith("event:")) {
        name = line.substring(6).trim();
      }
    }
    this.tracker.onEvent(name, data);
    if (!this.hideInjectedUsage || dataLines != 1 || data.indexOf("\"usage\"") < 0) {
      this.out.append(p, rawLen);
      return;
    }
    const m = new Members(data);
    if (!m.ok) { this.out.append(p, rawLen); return; }
    if (m.usageOnly()) return;                         // the chunk include_usage added: not for this client
    const stripped = m.withoutNullUsage();
    if (stripped == null) { this.out.append(p, rawLen); return; }
    this.out.appendString(text.replace(data, stripped));
    this.out.append(p + len, rawLen - len);             // the original terminator
  }
}

/** Top-level members of a JSON object text, located without building a tree. */
class Members {
  ok: bool = false;
  usageStart: i32 = -1;      // the member "usage": from its key to the end of its value
  usageEnd: i32 = -1;
  usageValue: string = "";
  choicesValue: string = "";
  commaBefore: i32 = -1;     // separator positions around the usage member
  commaAfter: i32 = -1;

  constructor(public s: string) { this.ok = this.scan(s); }

  private scan(s: string): bool {
    const n = s.length;
    let i = skipWs(s, 0);
    if (i >= n || s.charCodeAt(i) != 123) return false;           // {
    i++;
    let lastComma = -1;
    while (true) {
      i = skipWs(s, i);
      if (i >= n) return false;
      if (s.charCodeAt(i) == 125) break;                    // }
      const keyStart = i;
      const keyEnd = skipValue(s, i);
      if (keyEnd < 0 || s.charCodeAt(keyStart) != 34) return false;
      i = skipWs(s, keyEnd);
      if (i >= n || s.charCodeAt(i) != 58) return false;          // :
      const vStart = skipWs(s, i + 1);
      const vEnd = skipValue(s, vStart);
      if (vEnd < 0) return false;
      const key = s.substring(keyStart + 1, keyEnd - 1);
      i = skipWs(s, vEnd);
      const comma = i < n && s.charCodeAt(i) == 44 ? i : -1;
      if (key == "usage") {
        this.usageStart = keyStart; this.usageEnd = vEnd;
        this.usageValue = s.substring(vStart, vEnd);
        this.commaBefore = lastComma; this.commaAfter = comma;
      } else if (key == "choices") {
        this.choicesValue = s.substring(vStart, vEnd);
      }
      if (comma < 0) {
        if (i >= n || s.charCodeAt(i) != 125) return false;
        break;
      }
      lastComma = comma;
      i = comma + 1;
    }
    return true;
  }

  /** `{"choices":[],"usage":{...}}`: the extra chunk of include_usage. */
  usageOnly(): bool {
    return this.usageValue.startsWith("{") && this.choicesValue.length > 0 &&
      this.choicesValue.substring(1, this.choicesValue.length - 1).trim().length == 0;
  }

  /** The text without a `"usage":null` member; null when there is none. */
  withoutNullUsage(): string | null {
    if (this.usageStart < 0 || this.usageValue != "null") return null;
    const s = this.s;
    if (this.commaAfter >= 0) return s.substring(0, this.usageStart) + s.substring(skipWs(s, this.commaAfter + 1));
    if (this.commaBefore >= 0) return s.substring(0, this.commaBefore) + s.substring(this.usageEnd);
    return s.substring(0, this.usageStart) + s.substring(this.usageEnd);
  }
}

function skipWs(s: string, i: i32): i32 {
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c != 32 && c != 9 && c != 10 && c != 13) break;
    i++;
  }
  return i;
}

/** End (exclusive) of the JSON value starting at i; -1 if it is not one. Nesting is counted, not recursed. */
function skipValue(s: string, i: i32): i32 {
  const n = s.length;
  if (i >= n) return -1;
  let depth = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c == 34) {                                   // string
      i++;
      while (i < n) {
        const d = s.charCodeAt(i);
        if (d == 92) i += 2;
        else if (d == 34) break;
        else i++;
      }
      if (i >= n) return -1;
      i++;
    } else if (c == 123 || c == 91) { depth++; i++; }
    else if (c == 125 || c == 93) {
      if (depth == 0) return i;                      // end of an enclosing container: scalar done
      depth--; i++;
    } else if (depth == 0 && (c == 44 || c == 32 || c == 9 || c == 10 || c == 13 || c == 58)) return i;
    else i++;
    if (depth == 0 && (c == 34 || c == 125 || c == 93)) return i;
  }
  return depth == 0 ? i : -1;
}
