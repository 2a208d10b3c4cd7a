// Bench entry for bench/json-sse.ts: runs shared/json.ts and shared/sse.ts on UTF-8 that
// the host wrote into guest memory, the way a plugin receives a body.
import { parseJsonBytes } from "../../shared/json";
import { SseParser } from "../../shared/sse";

let staging = new ArrayBuffer(0);

/** Makes a len-byte buffer and returns where the host should write it. */
export function stage(len: i32): usize {
  if (staging.byteLength != len) staging = new ArrayBuffer(len);
  return changetype<usize>(staging);
}

/** Parses the staged bytes; returns the top-level length, or -1 if they are not JSON. */
export function parseStaged(): i32 {
  const v = parseJsonBytes(staging);
  return v ? v.length : -1;
}

/**
 * Feeds the staged stream to a new SseParser in chunks of 1..maxChunk bytes (each copied
 * into its own buffer, as the host hands body chunks over); returns the event count.
 */
export function parseStagedStream(maxChunk: i32, seed: u32): i32 {
  const parser = new SseParser();
  const n = staging.byteLength;
  let events = 0;
  let at = 0;
  while (at < n) {
    seed = seed * 1664525 + 1013904223;
    const size = min(n - at, <i32>((seed >> 8) % <u32>maxChunk) + 1);
    events += parser.feed(staging.slice(at, at + size)).length;
    at += size;
  }
  return events + parser.finish().length;
}
