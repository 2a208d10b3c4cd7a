// plugins/ai-token-ratelimit/stream.ts: usage from SSE streams, and hiding the usage the plugin asked for.
import { SseUsageFilter } from "../../plugins/ai-token-ratelimit/stream";

const CHUNK1 = "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"héllo\"}}],\"usage\":null}\n\n";
const CHUNK2 = "data: {\"id\":\"x\",\"usage\":null,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
const USAGE = "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\n";
const DONE = "data: [DONE]\n\n";
const CLEAN1 = "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"héllo\"}}]}\n\n";
const CLEAN2 = "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";

/** Feeds `text` split every `step` bytes (also inside multi-byte characters) and returns what went out. */
function run(f: SseUsageFilter, text: string, step: i32): string {
  const all = Uint8Array.wrap(String.UTF8.encode(text));
  let out = "";
  const parts = new Array<u8>();
  for (let i = 0; i < all.length; i += step) {
    const end = min(i + step, all.length);
    const piece = all.slice(i, end);
    const o = Uint8Array.wrap(f.push(piece.buffer, end == all.length));
    for (let k = 0; k < o.length; k++) parts.push(o[k]);
  }
  const buf = new Uint8Array(parts.length);
  for (let k = 0; k < parts.length; k++) buf[k] = parts[k];
  out = String.UTF8.decode(buf.buffer);
  return out;
}

describe("ratelimit stream filter", () => {
  it("hides the usage chunk and usage:null members it asked for, in any chunking", () => {
    const steps: i32[] = [1, 3, 7, 64, 1000];
    for (let s = 0; s < steps.length; s++) {
      const f = new SseUsageFilter(true);
      expect(run(f, CHUNK1 + CHUNK2 + USAGE + DONE, steps[s])).toBe(CLEAN1 + CLEAN2 + DONE);
      expect(f.tracker.usage().totalTokens()).toBe(10);
    }
  });

  it("passes a stream through byte for byte when the client asked for usage", () => {
    const f = new SseUsageFilter(false);
    const text = CHUNK1 + "event: x\r\ndata: {\"a\":1}\r\n\r\n" + USAGE + DONE;
    expect(run(f, text, 5)).toBe(text);
    expect(f.tracker.usage().totalTokens()).toBe(10);
  });

  it("estimates the streamed text when no usage comes", () => {
    const f = new SseUsageFilter(true);
    const piece = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" the quick brown fox jumps\"}}]}\n\n";
    run(f, piece + piece + DONE, 4);
    expect(f.tracker.usage().totalTokens()).toBe(-1);
    expect(f.tracker.outputText()).toBeGreaterThanOrEqual(8);
    expect(f.tracker.outputText()).toBeLessThanOrEqual(14);
  });

  it("leaves malformed events alone", () => {
    const f = new SseUsageFilter(true);
    const text = "data: {\"usage\":null,\n\ndata: not json usage\n\n";
    expect(run(f, text, 2)).toBe(text);
  });
});
