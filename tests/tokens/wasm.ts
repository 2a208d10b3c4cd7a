// Compiles tests/tokens/tokens_entry.ts like a release plugin build (optimizeLevel 3,
// shrinkLevel 2, incremental runtime) and wraps its exports for node.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

export interface UsageFields { input: number; output: number; total: number; cacheRead: number; cacheWrite: number; images: number; totalTokens: number }

export interface TokensWasm {
  /** Makes `text` the current text of the module. */
  setText(text: string): void;
  estimate(): number;
  estimateRepeat(times: number): number;
  /** Estimate of the pieces added one by one to one TokenEstimator. */
  estimatePieces(pieces: string[]): number;
  features(): number[];
  chatPrompt(json: string): number;
  usageOf(json: string): UsageFields;
  /** Feeds [event name, data] pairs to a new StreamUsageTracker. */
  track(events: [string, string][]): { usage: UsageFields; outputText: number };
}

export function loadTokensWasm(): TokensWasm {
  const out = join(mkdtempSync(join(tmpdir(), "tokens-wasm-")), "tokens.wasm");
  // --config /dev/null: the project asconfig routes abort to proxy_log; here abort must throw.
  execFileSync(join(root, "node_modules/.bin/asc"), ["tests/tokens/tokens_entry.ts", "--config", "/dev/null",
    "--runtime", "incremental", "--optimizeLevel", "3", "--shrinkLevel", "2", "--converge", "-o", out],
  { cwd: root, stdio: "inherit" });
  const abort = () => { throw new Error("wasm abort"); };
  const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), { env: { abort } }).exports as any;
  const memory = x.memory as WebAssembly.Memory;
  const setText = (text: string) => {
    const p = x.input(text.length) >>> 0;
    const units = new Uint16Array(memory.buffer, p, text.length);
    for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
    x.setText();
  };
  const usageAt = (p: number): UsageFields => {
    const [input, output, total, cacheRead, cacheWrite, images, totalTokens] =
      Array.from(new BigInt64Array(memory.buffer, p >>> 0, 7), Number);
    return { input, output, total, cacheRead, cacheWrite, images, totalTokens };
  };
  return {
    setText,
    estimate: () => x.estimate(),
    estimateRepeat: (times) => x.estimateRepeat(times),
    estimatePieces(pieces) {
      let n = 0;
      pieces.forEach((piece, i) => { setText(piece); n = x.estimateAdd(i === 0); });
      return n;
    },
    features() {
      const p = x.countFeatures() >>> 0;
      return Array.from(new Int32Array(memory.buffer, p, x.featureCount()));
    },
    chatPrompt(json) { setText(json); return x.chatPrompt(); },
    usageOf(json) { setText(json); return usageAt(x.usageOf()); },
    track(events) {
      x.trackerReset();
      for (const [name, data] of events) {
        setText(name); x.setEventName();
        setText(data); x.trackerEvent();
      }
      return { usage: usageAt(x.trackerUsage()), outputText: x.trackerOutputText() };
    },
  };
}
