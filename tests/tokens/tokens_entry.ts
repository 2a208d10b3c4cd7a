// Test-only module for the node tests, calibration and bench of shared/tokens.ts and
// shared/usage.ts. JS writes UTF-16 text into the buffer `input(units)` returns, then
// `setText()` makes it the current string that the other exports work on.
import { estimateTokens, TokenEstimator, TokenFeature } from "../../shared/tokens";

let inBuf = new Uint16Array(0);
let text = "";
const features = new TokenEstimator();

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
