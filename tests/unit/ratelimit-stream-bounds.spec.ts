// plugins/ai-token-ratelimit/stream.ts: an event that never ends (no blank line) must not be held
// without bound: it is passed on unread once it exceeds MAX_EVENT_BYTES, and the stream recovers
// at the next event end.
import { SseUsageFilter, MAX_EVENT_BYTES } from "../../plugins/ai-token-ratelimit/stream";

const USAGE = "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\n";
const CHUNK = "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n";
const CLEAN = "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";

function filled(n: i32, c: u8): ArrayBuffer {
  const b = new ArrayBuffer(n);
  memory.fill(changetype<usize>(b), c, <usize>n);
  return b;
}

/** Concatenation of the outputs, compared as bytes. */
class Sink {
  bytes: i64 = 0;
  tail: string = "";
  add(b: ArrayBuffer): void {
    this.bytes += b.byteLength;
    // Keep the text of small outputs (the events after the long one) to check them.
    if (b.byteLength < 4096) this.tail += String.UTF8.decode(b);
  }
}

describe("ratelimit stream filter bounds", () => {
  it("passes an endless event on once it is over the limit, and holds little", () => {
    const f = new SseUsageFilter(true);
    const sink = new Sink();
    const step = 256 << 10;
    const head = String.UTF8.encode("data: ");
    sink.add(f.push(head, false));
    let sent: i64 = head.byteLength;
    // Twice the limit, in 256 KiB chunks, with no blank line anywhere.
    for (let i = 0; i < (2 * MAX_EVENT_BYTES) / step; i++) {
      sink.add(f.push(filled(step, 0x61), false));
      sent += step;
      expect(f.buffered).toBeLessThanOrEqual(MAX_EVENT_BYTES + step);
    }
    // Everything past the limit has gone on already.
    expect(sink.bytes).toBeGreaterThanOrEqual(sent - <i64>MAX_EVENT_BYTES - <i64>step);
    // The long event ends; the next events are read (and rewritten) again.
    sink.tail = "";
    sink.add(f.push(String.UTF8.encode("\n\n" + CHUNK + USAGE), true));
    expect(sink.bytes).toBe(sent + 2 + <i64>CLEAN.length);
    expect(sink.tail.endsWith("aa\n\n" + CLEAN)).toBe(true);
    expect(f.tracker.usage().totalTokens()).toBe(10);
    expect(f.buffered).toBe(0);
  });

  it("finds an event end split over chunks after a long event", () => {
    const f = new SseUsageFilter(true);
    const sink = new Sink();
    sink.add(f.push(filled(MAX_EVENT_BYTES + 10, 0x62), false));
    // "\r\n\r\n" cut after every byte.
    const end = "\r\n\r\n";
    for (let i = 0; i < end.length; i++) sink.add(f.push(String.UTF8.encode(end.charAt(i)), false));
    sink.tail = "";
    sink.add(f.push(String.UTF8.encode(CHUNK), false));
    expect(sink.tail).toBe(CLEAN);
    expect(sink.bytes).toBe(<i64>MAX_EVENT_BYTES + 10 + 4 + <i64>CLEAN.length);
  });

  it("reads a long but bounded event whole", () => {
    const f = new SseUsageFilter(false);
    const sink = new Sink();
    const text = "data: {\"choices\":[{\"delta\":{\"content\":\"" + "x".repeat(300000) + "\"}}]}\n\n";
    const bytes = Uint8Array.wrap(String.UTF8.encode(text));
    for (let i = 0; i < bytes.length; i += 1000) sink.add(f.push(bytes.slice(i, min(i + 1000, bytes.length)).buffer, false));
    sink.add(f.push(new ArrayBuffer(0), true));
    expect(sink.bytes).toBe(<i64>bytes.length);
    expect(f.tracker.outputText()).toBeGreaterThan(1000);
  });
});
