// ai-proxy translation cost per request, against Node doing the least it could: JSON.parse + JSON.stringify
// of the same payloads. Rows: a 10 KB OpenAI chat request translated for Anthropic and DashScope, and a
// 200-event provider stream (DashScope, Anthropic) translated to OpenAI chunks, fed in 512-byte chunks.
// Both sides start from UTF-8 bytes and end with UTF-8 bytes. Goal: ours/node <= 2.
// Run alone: node --import tsx bench/ai-proxy.ts
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OPENAI = 0, ANTHROPIC = 1, DASHSCOPE = 2;

type Exports = {
  memory: WebAssembly.Memory;
  stage(len: number): number;
  translateStagedRequest(provider: number): number;
  translateStagedStream(client: number, provider: number, chunk: number): number;
};

/** The bench entry, optimized as the release plugins are (asconfig.json's release target). */
function compile(): Exports {
  const out = join(mkdtempSync(join(tmpdir(), "bench-ai-proxy-")), "ai-proxy-bench.wasm");
  const release = JSON.parse(readFileSync(join(ROOT, "asconfig.json"), "utf8")).targets.release;
  execFileSync("node_modules/.bin/asc", ["tests/ai-proxy/bench_entry.ts", "--config", "/dev/null", "--runtime", "incremental",
    "--optimizeLevel", String(release.optimizeLevel), "--shrinkLevel", String(release.shrinkLevel), ...(release.converge ? ["--converge"] : []),
    "-o", out], { stdio: "inherit", cwd: ROOT });
  const abort = () => { throw new Error("wasm abort"); };
  return new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), { env: { abort } }).exports as unknown as Exports;
}

const WORDS = ["the", "gateway", "routes", "each", "request", "to", "a", "model", "with", "quota", "and", "latency;",
  "tokens", "are", "counted", "per", "user.", "\"why\"", "retries", "help\n", "人工智能网关", "负载均衡"];
function prose(seed: number, chars: number): string {
  let s = seed >>> 0, out = "";
  while (out.length < chars) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out += WORDS[s % WORDS.length] + " "; }
  return out;
}

/** ~10 KB OpenAI chat request with tools, as agents send them. */
function chatRequest(): Buffer {
  const messages: object[] = [{ role: "system", content: prose(1, 1200) }];
  for (let i = 0; Buffer.byteLength(JSON.stringify(messages)) < 9000; i++) {
    messages.push({ role: "user", content: prose(i + 2, 400) });
    messages.push(i % 3 === 2
      ? { role: "assistant", content: null, tool_calls: [{ id: `call_${i}`, type: "function", function: { name: "search", arguments: JSON.stringify({ q: prose(i, 40) }) } }] }
      : { role: "assistant", content: prose(i + 99, 500) });
    if (i % 3 === 2) messages.push({ role: "tool", tool_call_id: `call_${i}`, content: prose(i + 7, 200) });
  }
  return Buffer.from(JSON.stringify({ model: "gpt-4o", temperature: 0.7, top_p: 0.9, max_tokens: 1024, stream: true, messages,
    tools: [{ type: "function", function: { name: "search", description: "web search", parameters: { type: "object", properties: { q: { type: "string" } } } } }] }));
}

function dashscopeStream(): { bytes: Buffer; payloads: string[] } {
  const payloads: string[] = [];
  let text = "";
  for (let i = 0; i < 200; i++) {
    payloads.push(JSON.stringify({ output: { choices: [{ message: { content: WORDS[i % WORDS.length] + " ", role: "assistant" }, finish_reason: i === 199 ? "stop" : "null" }] },
      usage: { input_tokens: 500, output_tokens: i + 1, total_tokens: 501 + i }, request_id: "5b3a2f9e-1c5d-9d1e-b8b2-6e1f0c2a7d41" }));
    text += `id:${i + 1}\nevent:result\n:HTTP_STATUS/200\ndata:${payloads[i]}\n\n`;
  }
  return { bytes: Buffer.from(text), payloads };
}

function anthropicStream(): { bytes: Buffer; payloads: string[] } {
  const ev: [string, object][] = [["message_start", { type: "message_start", message: { id: "msg_01", type: "message", role: "assistant", model: "claude", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 500, output_tokens: 1 } } }],
    ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }]];
  for (let i = 0; i < 195; i++) ev.push(["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: WORDS[i % WORDS.length] + " " } }]);
  ev.push(["content_block_stop", { type: "content_block_stop", index: 0 }], ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 196 } }], ["message_stop", { type: "message_stop" }]);
  const payloads = ev.map(([, d]) => JSON.stringify(d));
  return { bytes: Buffer.from(ev.map(([e], i) => `event: ${e}\ndata: ${payloads[i]}\n\n`).join("")), payloads };
}

/** Mean µs per call over one ~ms-long round. */
function round(fn: () => void, ms: number): number {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) { for (let i = 0; i < 10; i++) fn(); n += 10; }
  return ((performance.now() - t0) * 1000) / n;
}

/** Ours and Node's in alternating rounds (fair on a busy machine); the best round of each. */
function compare(ours: () => void, node: () => void, rounds = 9): { ours: number; node: number } {
  for (let i = 0; i < 30; i++) { ours(); node(); }
  let o = Infinity, n = Infinity;
  for (let r = 0; r < rounds; r++) { o = Math.min(o, round(ours, 80)); n = Math.min(n, round(node, 80)); }
  return { ours: o, node: n };
}

export async function benchAiProxy(): Promise<void> {
  const w = compile();
  const put = (b: Buffer) => { const at = w.stage(b.length); new Uint8Array(w.memory.buffer, at, b.length).set(b); };
  const req = chatRequest();
  const rows: { name: string; bytes: number; ours: number; node: number }[] = [];

  for (const [name, provider] of [["request->anthropic", ANTHROPIC], ["request->dashscope", DASHSCOPE]] as const) {
    const t = compare(() => { put(req); if (w.translateStagedRequest(provider) < 0) throw new Error("translate failed"); },
      () => { Buffer.from(JSON.stringify(JSON.parse(req.toString("utf8")))); });
    rows.push({ name, bytes: req.length, ...t });
  }
  for (const [name, provider, s] of [["stream dashscope->openai", DASHSCOPE, dashscopeStream()], ["stream anthropic->openai", ANTHROPIC, anthropicStream()]] as const) {
    const t = compare(() => { put(s.bytes); if (w.translateStagedStream(OPENAI, provider, 512) <= 0) throw new Error("stream failed"); }, () => {
      for (let at = 0; at < s.bytes.length; at += 512) s.bytes.toString("utf8", at, Math.min(s.bytes.length, at + 512));
      for (const p of s.payloads) Buffer.from("data: " + JSON.stringify(JSON.parse(p)) + "\n\n");
    });
    rows.push({ name, bytes: s.bytes.length, ...t });
  }

  const f = (x: number, w = 12, d = 1) => x.toFixed(d).padStart(w);
  console.log(`${"ai-proxy".padEnd(26)}${"bytes".padStart(8)}${"ours us".padStart(12)}${"node us".padStart(12)}${"ours/node".padStart(12)}`);
  for (const r of rows) console.log(`${r.name.padEnd(26)}${String(r.bytes).padStart(8)}${f(r.ours)}${f(r.node)}${f(r.ours / r.node, 12, 2)}`);
  console.log("(best of 9 alternating rounds; ours = copy into guest memory + parse + translate + serialize + utf8 size; node = utf8 decode + JSON.parse + JSON.stringify + utf8 encode; goal ours/node <= 2)");
  for (const r of rows) console.log(`BENCH ai-proxy case=${r.name.replace(/[^a-z>-]+/g, "_")} bytes=${r.bytes} ours_us=${r.ours.toFixed(2)} node_us=${r.node.toFixed(2)} ratio=${(r.ours / r.node).toFixed(3)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchAiProxy();
