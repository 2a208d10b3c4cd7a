// shared/json.ts against Node's JSON.parse on OpenAI chat requests (1 KB, 10 KB, 100 KB),
// and shared/sse.ts throughput on a 200-event OpenAI stream fed in random chunk sizes.
// Both sides start from UTF-8 bytes: ours copies them into guest memory (as the host does
// with a body) and parses; Node decodes them to a string and parses. Ours is built with
// the release target of asconfig.json and, for comparison, with shrinkLevel 1 (binaryen
// inlines the runtime's GC helpers only below shrinkLevel 2). Times are CPU time of this
// process (best of interleaved rounds), which other load on the machine barely affects.
// Run alone: node --import tsx bench/json-sse.ts
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

type Exports = {
  memory: WebAssembly.Memory;
  stage(len: number): number;
  parseStaged(): number;
  parseStagedStream(maxChunk: number, seed: number): number;
};

type Build = { optimizeLevel: number; shrinkLevel: number; converge: boolean };

const RELEASE: Build = JSON.parse(readFileSync(join(ROOT, "asconfig.json"), "utf8")).targets.release;

function compile(b: Build): Exports {
  const out = join(mkdtempSync(join(tmpdir(), "bench-json-")), "json-bench.wasm");
  // abort stays a plain import here.
  execFileSync("node_modules/.bin/asc", ["bench/wasm/json-bench.ts", "--config", "/dev/null", "--runtime", "incremental",
    "--optimizeLevel", String(b.optimizeLevel), "--shrinkLevel", String(b.shrinkLevel), ...(b.converge ? ["--converge"] : []),
    "-o", out], { stdio: ["ignore", "ignore", "inherit"], cwd: ROOT });
  const abort = () => { throw new Error("wasm abort"); };
  return new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), { env: { abort } }).exports as unknown as Exports;
}

/** Deterministic pseudo-random numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
}

const WORDS = ["the", "gateway", "routes", "each", "request", "to", "a", "model", "with", "enough", "quota", "and",
  "low", "latency;", "tokens", "are", "counted", "per", "user.", "Answer", "briefly:", "\"why\"", "retries", "help\n"];
const CJK = ["人工智能网关", "请总结以下内容", "负载均衡", "日本語のテキスト", "令牌限流", "한국어 문장"];

function prose(rnd: () => number, chars: number): string {
  const out: string[] = [];
  let len = 0;
  while (len < chars) {
    const w = rnd() < 0.1 ? CJK[Math.floor(rnd() * CJK.length)] : WORDS[Math.floor(rnd() * WORDS.length)];
    out.push(w);
    len += w.length + 1;
  }
  return out.join(" ");
}

/** An OpenAI chat request of about `size` bytes: system prompt, then user/assistant turns. */
function chatRequest(size: number): Buffer {
  const rnd = random(size);
  const req = {
    model: "gpt-4o-mini", stream: true, temperature: 0.7, top_p: 0.95, max_tokens: 1024, user: "user-1234",
    stream_options: { include_usage: true },
    messages: [{ role: "system", content: prose(rnd, Math.min(400, size / 8)) }],
  };
  const bytes = () => Buffer.byteLength(JSON.stringify(req));
  for (let turn = 0; bytes() < size; turn++) {
    const room = size - bytes() - 40;
    req.messages.push({ role: turn % 2 ? "assistant" : "user", content: prose(rnd, Math.max(10, Math.min(room, 200 + rnd() * 1500))) });
  }
  return Buffer.from(JSON.stringify(req));
}

/** A 200-event OpenAI chat completion stream, as its server sends it. */
function openAiStream(events: number): Buffer {
  const rnd = random(7);
  const head = '{"id":"chatcmpl-AbC123","object":"chat.completion.chunk","created":1718000000,"model":"gpt-4o-mini",' +
    '"system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":';
  let s = "data: " + head + '{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n';
  for (let i = 0; i < events - 3; i++) {
    s += "data: " + head + JSON.stringify({ content: prose(rnd, 2 + rnd() * 12) }) + ',"logprobs":null,"finish_reason":null}]}\n\n';
  }
  s += "data: " + head + '{},"logprobs":null,"finish_reason":"stop"}]}\n\n';
  s += "data: [DONE]\n\n";
  return Buffer.from(s);
}

/** CPU microseconds per call of each function: the best of short interleaved rounds. */
function cpuUs(fns: (() => void)[], rounds = 15, roundUs = 30000): number[] {
  const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
  for (const fn of fns) for (let i = 0; i < 50; i++) fn();
  const best = fns.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, i) => {
      let calls = 0;
      const start = cpu();
      let used = 0;
      while (used < roundUs) {
        for (let k = 0; k < 5; k++) fn();
        calls += 5;
        used = cpu() - start;
      }
      best[i] = Math.min(best[i], used / calls);
    });
  }
  return best;
}

export async function benchJsonSse(): Promise<void> {
  const release = compile(RELEASE);
  const shrink1 = compile({ ...RELEASE, shrinkLevel: 1 });
  const load = (wasm: Exports, b: Buffer) => {
    const p = wasm.stage(b.length) >>> 0; // may grow memory: take the buffer afterwards
    new Uint8Array(wasm.memory.buffer, p, b.length).set(b);
  };

  const rows: { size: string; bytes: number; ours: number; ours1: number; node: number }[] = [];
  for (const [size, n] of [["1k", 1024], ["10k", 10 * 1024], ["100k", 100 * 1024]] as const) {
    const body = chatRequest(n);
    const top = Object.keys(JSON.parse(body.toString("utf8"))).length;
    for (const wasm of [release, shrink1]) {
      load(wasm, body);
      if (wasm.parseStaged() !== top) throw new Error(`our parse of the ${size} request disagrees with JSON.parse`);
    }
    const [ours, ours1, node] = cpuUs([
      () => { load(release, body); release.parseStaged(); },
      () => { load(shrink1, body); shrink1.parseStaged(); },
      () => JSON.parse(body.toString("utf8")),
    ]);
    rows.push({ size, bytes: body.length, ours, ours1, node });
  }

  const stream = openAiStream(200);
  load(release, stream);
  const maxChunk = 512;
  const count = release.parseStagedStream(maxChunk, 1);
  if (count !== 200) throw new Error(`expected 200 SSE events, got ${count}`);
  let seed = 1;
  const [sseUs] = cpuUs([() => release.parseStagedStream(maxChunk, seed++)]);
  const mbS = stream.length / sseUs;
  const eventsS = 200 / (sseUs / 1e6);

  const f = (x: number, w = 11, d = 1) => x.toFixed(d).padStart(w);
  const s = `s${RELEASE.shrinkLevel}`;
  console.log(`${"json".padEnd(6)}${"bytes".padStart(8)}${`ours ${s} us`.padStart(14)}${"node us".padStart(11)}${"ratio".padStart(8)}` +
    `${"ours s1 us".padStart(14)}${"ratio".padStart(8)}`);
  for (const r of rows) {
    console.log(`${r.size.padEnd(6)}${String(r.bytes).padStart(8)}${f(r.ours, 14)}${f(r.node)}${f(r.ours / r.node, 8, 2)}` +
      `${f(r.ours1, 14)}${f(r.ours1 / r.node, 8, 2)}`);
  }
  console.log(`(ours = copy into guest memory + parseJsonBytes, O${RELEASE.optimizeLevel} with the release shrinkLevel ${RELEASE.shrinkLevel} ` +
    "and with shrinkLevel 1; node = utf8 decode + JSON.parse; ratio = ours/node, target <= 1.5)");
  console.log(`sse (release build): ${stream.length} bytes, 200 events, chunks of 1..${maxChunk} bytes: ${sseUs.toFixed(0)} us per stream, ` +
    `${mbS.toFixed(1)} MB/s, ${Math.round(eventsS)} events/s`);
  for (const r of rows) {
    console.log(`BENCH json size=${r.size} ours_us=${r.ours.toFixed(2)} node_us=${r.node.toFixed(2)} ratio=${(r.ours / r.node).toFixed(3)} ` +
      `ours_s1_us=${r.ours1.toFixed(2)} ratio_s1=${(r.ours1 / r.node).toFixed(3)}`);
  }
  console.log(`BENCH sse mb_s=${mbS.toFixed(1)} events_s=${Math.round(eventsS)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await benchJsonSse();
