// Test-only module for the node tests, calibration and bench of shared/tokens.ts and
// shared/usage.ts. JS writes UTF-16 text into the buffer `input(units)` returns, then
// `setText()` makes it the current string that the other exports work on.
import { estimateTokens, estimateChatPromptTokens, TokenEstimator, TokenFeature } from "../../shared/tokens";
import { Usage, usageFromJson, StreamUsageTracker } from "../../shared/usage";
import { parseJson } from "../../shared/json";

let inBuf = new Uint16Array(0);
let text = "";
let eventName = "";
const features = new TokenEstimator();
let tracker = new StreamUsageTracker();
const usageOut = new StaticArray<i64>(7);

export function input(units: i32): usize {
  inBuf = new Uint16Array(units);
  return inBuf.dataStart;
}
export function setText(): void { text = String.UTF16.decodeUnsafe(inBuf.dataStart, inBuf.byteLength); }

export function estimate(): i32 { return estimateTokens(text); }
/** Runs estimateTokens `times` times (benchmark loop without call overhead). */
export function estimateRepeat(times: i32): i32 {
  let r = 0;
  for (let i = 0; i < times; i++) r = estimateTokens(text);
  return r;
}
/** Adds the current text to a running estimate (after `reset` true) and returns its tokens. */
export function estimateAdd(reset: bool): i32 {
  if (reset) features.reset();
  features.add(text);
  return features.tokens();
}
export function featureCount(): i32 { return TokenFeature.Count; }
/** Counts features of the current text; returns the address of the i32 counts. */
export function countFeatures(): usize {
  features.reset();
  features.add(text);
  return changetype<usize>(features.counts);
}

/** estimateChatPromptTokens of the current text parsed as JSON; -1 if it is not JSON. */
export function chatPrompt(): i32 {
  const body = parseJson(text);
  return body ? estimateChatPromptTokens(body) : -1;
}

// Usage fields in this order: input, output, total, cacheRead, cacheWrite, images, totalTokens().
function writeUsage(u: Usage): usize {
  usageOut[0] = u.input; usageOut[1] = u.output; usageOut[2] = u.total; usageOut[3] = u.cacheRead;
  usageOut[4] = u.cacheWrite; usageOut[5] = u.images; usageOut[6] = u.totalTokens();
  return changetype<usize>(usageOut);
}
/** usageFromJson of the current text (all -1 if it is not JSON); returns the address of the fields. */
export function usageOf(): usize {
  const body = parseJson(text);
  return writeUsage(body ? usageFromJson(body) : new Usage());
}

export function trackerReset(): void { tracker = new StreamUsageTracker(); }
/** Makes the current text the event name of the next trackerEvent. */
export function setEventName(): void { eventName = text; }
/** Feeds the current text as an event's data. */
export function trackerEvent(): void { tracker.onEvent(eventName, text); }
export function trackerUsage(): usize { return writeUsage(tracker.usage()); }
export function trackerOutputText(): i32 { return tracker.outputText(); }
