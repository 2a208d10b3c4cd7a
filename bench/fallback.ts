// ai-fallback's cost.
// (1) The success path: a healthy primary through ai-fallback against the same route with the empty
//     plugin and with none (CPU µs per request of the whole gateway process), for a small chat request
//     and a 64 KB prompt, streamed and not; and the plugin's own Wasm time per request (time inside its
//     callbacks minus the host calls they make), which is what it would cost in Envoy too.
// (2) The latency a fallback adds over calling the fallback target directly: after a primary 503, with
//     the primary's circuit open, across protocols (a DashScope target); in-process upstreams (no
//     sockets: only gateway work), and once over real HTTP with the simulators.
// Run alone: node --import tsx bench/fallback.ts [success|latency]
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { Host, type RequestInit, type UpstreamResponse } from "../host/index.ts";
import { startOpenAI } from "../e2e/sim/providers.ts";

const ROUNDS = 5;

async function warm(host: Host, req: () => RequestInit, n = 200): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await host.request(req());
    if (r.status !== 200) throw new Error(`${req().path}: ${r.status} ${r.text.slice(0, 200)}`);
  }
}

/** Per request, best round of `n` sequential requests: wall µs and process CPU µs (user + system). */
async function measure(host: Host, req: () => RequestInit, n = 1000): Promise<{ wall: number; cpu: number }> {
  let wall = Infinity;
  let cpu = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await host.request(req());
    wall = Math.min(wall, Number(process.hrtime.bigint() - t0) / 1e3 / n);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / n);
  }
  return { wall, cpu };
}

const completion = (model: string) => JSON.stringify({
  id: "chatcmpl-1", object: "chat.completion", created: 1, model,
  choices: [{ index: 0, message: { role: "assistant", content: "Hello there, how can I help?" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
});
const words = ["Hello", " there,", " how", " can", " I", " help", "?"];
const sse = (model: string) => words.map((w) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model,
  choices: [{ index: 0, delta: { content: w }, finish_reason: null }] })}\n\n`)
  .concat([`data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`, "data: [DONE]\n\n"]);

/** An OpenAI-compatible upstream answering at once (a whole JSON, or an SSE stream chunk by chunk). */
function openAi(model: string) {
  return (req: { body: Buffer }): UpstreamResponse => req.body.includes('"stream":true')
    ? { status: 200, headers: { "content-type": "text/event-stream" }, body: sse(model) }
    : { status: 200, headers: { "content-type": "application/json" }, body: completion(model) };
}
/** A DashScope-native upstream (non-streamed answers). */
const dashScope = (): UpstreamResponse => ({
  status: 200, headers: { "content-type": "application/json" },
  body: JSON.stringify({ request_id: "r1", output: { choices: [{ finish_reason: "stop", message: { role: "assistant", content: "Hello there, how can I help?" } }] },
    usage: { input_tokens: 12, output_tokens: 7, total_tokens: 19 } }),
});
const overloaded = (): UpstreamResponse => ({ status: 503, headers: { "content-type": "application/json" },
  body: JSON.stringify({ error: { message: "The engine is currently overloaded", type: "server_error" } }) });

function chatBody(promptBytes: number, stream: boolean): object {
  return { model: "llama", stream, max_tokens: 64, messages: [{ role: "user", content: "x".repeat(promptBytes) }] };
}
const post = (path: string, body: object, headers: Record<string, string> = {}) => (): RequestInit => ({ method: "POST", path, headers, body });

const fallbackCfg = (primary: string) => ({
  primary: { name: primary },
  fallbacks: [{ name: "backup", cluster: "backup", model: "gpt-4o-mini" },
    { name: "qwen", cluster: "qwen", model: "qwen-plus", protocol: "dashscope" }],
});

/**
 * Times a plugin's Wasm work: while `add` instantiates it, its exports are wrapped to time every callback
 * and its imports to time every host call; Wasm time = callbacks − host calls inside them.
 */
async function instrumented(add: () => Promise<unknown>) {
  const stats = { callbackNs: 0, hostNs: 0, hostCalls: 0, reset() { this.callbackNs = 0; this.hostNs = 0; this.hostCalls = 0; } };
  const Original = WebAssembly.Instance;
  const Wrapped = function (module: WebAssembly.Module, imports: WebAssembly.Imports) {
    const env = { ...(imports.env as Record<string, unknown>) };
    for (const [k, f] of Object.entries(env)) {
      if (typeof f !== "function") continue;
      env[k] = (...a: unknown[]) => {
        const t = process.hrtime.bigint();
        try { return (f as (...x: unknown[]) => unknown)(...a); } finally { stats.hostNs += Number(process.hrtime.bigint() - t); stats.hostCalls++; }
      };
    }
    const inst = new Original(module, { ...imports, env: env as WebAssembly.ModuleImports });
    const exports: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(inst.exports)) {
      exports[k] = typeof f === "function" && k.startsWith("proxy_on_") ? (...a: unknown[]) => {
        const t = process.hrtime.bigint();
        try { return (f as (...x: unknown[]) => unknown)(...a); } finally { stats.callbackNs += Number(process.hrtime.bigint() - t); }
      } : f;
    }
    return { exports };
  } as unknown as typeof WebAssembly.Instance;
  (WebAssembly as { Instance: typeof WebAssembly.Instance }).Instance = Wrapped;
  try { await add(); } finally { (WebAssembly as { Instance: typeof WebAssembly.Instance }).Instance = Original; }
  return stats;
}

/** Median Wasm µs per request (callbacks − host calls) and host calls per request, over `n` requests. */
async function wasmPerRequest(host: Host, stats: Awaited<ReturnType<typeof instrumented>>, req: () => RequestInit, n = 2000) {
  const samples: number[] = [];
  let calls = 0;
  for (let i = 0; i < n; i++) {
    stats.reset();
    await host.request(req());
    samples.push((stats.callbackNs - stats.hostNs) / 1e3);
    calls += stats.hostCalls;
  }
  samples.sort((a, b) => a - b);
  return { us: samples[n >> 1], calls: calls / n };
}

export async function benchFallback(): Promise<void> {
  execFileSync("node", ["scripts/build.mjs", "ai-fallback", "empty"], { stdio: "pipe" });
  await successPath();
  await fallbackLatency();
}

async function successPath(): Promise<void> {
  const host = new Host({ clusters: { llm: { handler: openAi("llama") }, backup: { handler: openAi("gpt-4o-mini") } } });
  await host.addPlugin({ name: "empty", wasm: "dist/empty.wasm" });
  await host.addPlugin({ name: "ai-fallback", wasm: "dist/ai-fallback.wasm", config: fallbackCfg("llm") });
  const wasm = await instrumented(() => host.addPlugin({ name: "ai-fallback-timed", wasm: "dist/ai-fallback.wasm", config: fallbackCfg("llm-t") }));
  host.addRoute({ name: "none", match: { prefix: "/none" }, cluster: "llm", plugins: [] });
  host.addRoute({ name: "empty", match: { prefix: "/empty" }, cluster: "llm", plugins: ["empty"] });
  host.addRoute({ name: "fb", match: { prefix: "/fb" }, cluster: "llm", plugins: ["ai-fallback"] });
  host.addRoute({ name: "timed", match: { prefix: "/timed" }, cluster: "llm", plugins: ["ai-fallback-timed"] });
  const rows = [];
  for (const [name, bytes, stream] of [["chat 200 B", 200, false], ["chat 200 B stream", 200, true], ["chat 64 KB", 65536, false], ["chat 64 KB stream", 65536, true]] as const) {
    const body = chatBody(bytes, stream);
    const at = (p: string) => post(`${p}/v1/chat/completions`, body);
    for (const p of ["/none", "/empty", "/fb", "/timed"]) await warm(host, at(p));
    const none = await measure(host, at("/none"));
    const empty = await measure(host, at("/empty"));
    const fb = await measure(host, at("/fb"));
    // The median is robust to the process being descheduled in the middle of a callback.
    const w = await wasmPerRequest(host, wasm, at("/timed"));
    rows.push({ name, none: none.cpu, empty: empty.cpu, fb: fb.cpu, wasmUs: w.us, calls: w.calls });
  }
  host.close();
  const h = (s: string, w = 12) => s.padStart(w);
  const f = (x: number, d = 1, w = 12) => x.toFixed(d).padStart(w);
  console.log(`${"success path".padEnd(19)}${h("none")}${h("empty")}${h("ai-fallback")}${h("fb-empty")}${h("fb/empty", 9)}${h("wasm µs")}${h("host calls")}`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(19)}${f(r.none)}${f(r.empty)}${f(r.fb)}${f(r.fb - r.empty)}${f(r.fb / r.empty, 2, 9)}${f(r.wasmUs)}${f(r.calls)}`);
  }
  console.log("(CPU µs per request of the whole gateway process, best of 5 rounds of 1000 sequential requests, in-process\n" +
    " upstream; empty = the no-op plugin, the host's cost of any Wasm filter; fb-empty = what ai-fallback adds: keeping\n" +
    " the body, reading model/stream, two shared-data reads, response.code_details, the served-by header, holding a 2xx\n" +
    " until its JSON is complete or its first event is checked. wasm µs = median time in ai-fallback's own code per\n" +
    " request (its callbacks minus the host calls they make); host calls are JavaScript here, C++ in Envoy)");
  const [small, smallStream, big, bigStream] = rows;
  console.log(`BENCH fallback success_cpu_us=${small.fb.toFixed(1)} empty_plugin_cpu_us=${small.empty.toFixed(1)} no_plugin_cpu_us=${small.none.toFixed(1)} ` +
    `added_cpu_us=${(small.fb - small.empty).toFixed(1)} stream_added_cpu_us=${(smallStream.fb - smallStream.empty).toFixed(1)} ` +
    `body64k_added_cpu_us=${(big.fb - big.empty).toFixed(1)} body64k_stream_added_cpu_us=${(bigStream.fb - bigStream.empty).toFixed(1)} ` +
    `wasm_us=${small.wasmUs.toFixed(1)} stream_wasm_us=${smallStream.wasmUs.toFixed(1)} body64k_wasm_us=${big.wasmUs.toFixed(1)} host_calls=${small.calls.toFixed(0)}`);
}

async function fallbackLatency(): Promise<void> {
  const host = new Host({ clusters: { dead: { handler: overloaded }, backup: { handler: openAi("gpt-4o-mini") }, qwen: { handler: dashScope } } });
  const onlyQwen = { primary: { name: "dead-q" }, fallbacks: [{ name: "qwen", cluster: "qwen", model: "qwen-plus", protocol: "dashscope" }] };
  const after503Wasm = await instrumented(() => host.addPlugin({ name: "fb", wasm: "dist/ai-fallback.wasm",
    config: { ...fallbackCfg("dead"), circuit_breaker: { failure_threshold: 0 } } }));
  const openWasm = await instrumented(() => host.addPlugin({ name: "fb-open", wasm: "dist/ai-fallback.wasm",
    config: { ...fallbackCfg("dead-open"), circuit_breaker: { failure_threshold: 1, open_ms: 3600000 } } }));
  const qwenWasm = await instrumented(() => host.addPlugin({ name: "fb-qwen", wasm: "dist/ai-fallback.wasm",
    config: { ...onlyQwen, circuit_breaker: { failure_threshold: 0 } } }));
  host.addRoute({ name: "direct", match: { prefix: "/direct" }, cluster: "backup", plugins: [] });
  host.addRoute({ name: "after503", match: { prefix: "/after503" }, cluster: "dead", plugins: ["fb"] });
  host.addRoute({ name: "open", match: { prefix: "/open" }, cluster: "dead", plugins: ["fb-open"] });
  host.addRoute({ name: "qwen", match: { prefix: "/qwen" }, cluster: "dead", plugins: ["fb-qwen"] });
  const rows: Array<{ name: string; us: number; base: number; wasm?: number }> = [];
  for (const stream of [false, true]) {
    const body = chatBody(200, stream);
    const at = (p: string) => post(`${p}/v1/chat/completions`, body);
    for (const p of ["/direct", "/after503", "/open"]) await warm(host, at(p));
    const sfx = stream ? " stream" : "";
    const direct = (await measure(host, at("/direct"))).wall;
    rows.push({ name: `direct to backup${sfx}`, us: direct, base: direct });
    rows.push({ name: `503, then backup${sfx}`, us: (await measure(host, at("/after503"))).wall, base: direct,
      wasm: (await wasmPerRequest(host, after503Wasm, at("/after503"), 1000)).us });
    rows.push({ name: `circuit open${sfx}`, us: (await measure(host, at("/open"))).wall, base: direct,
      wasm: (await wasmPerRequest(host, openWasm, at("/open"), 1000)).us });
  }
  const qwenReq = post("/qwen/v1/chat/completions", chatBody(200, false));
  await warm(host, qwenReq);
  rows.push({ name: "503, then DashScope", us: (await measure(host, qwenReq)).wall, base: rows[0].us,
    wasm: (await wasmPerRequest(host, qwenWasm, qwenReq, 1000)).us });
  host.close();

  // Over real sockets: the OpenAI simulator answering at once, direct vs through an always-failing primary.
  const sim = await startOpenAI({ ttftMs: 0, tokenMs: 0, timeScale: 0 });
  const failing = await startOpenAI({ failures: [{ status: 503 }] });
  const net = new Host({ clusters: { sim: { endpoints: [`127.0.0.1:${sim.port}`] }, failing: { endpoints: [`127.0.0.1:${failing.port}`] } } });
  await net.addPlugin({ name: "fb", wasm: "dist/ai-fallback.wasm", config: {
    primary: { name: "failing" }, fallbacks: [{ name: "sim", cluster: "sim", model: "gpt-4o-mini" }], circuit_breaker: { failure_threshold: 0 } } });
  // Both routes serve the simulator's own path; a header picks the route.
  net.addRoute({ name: "direct", match: { headers: { "x-route": "direct" } }, cluster: "sim", plugins: [] });
  net.addRoute({ name: "fb", match: { headers: { "x-route": "fb" } }, cluster: "failing", plugins: ["fb"] });
  const simBody = { model: "gpt-4o-mini", max_tokens: 8, messages: [{ role: "user", content: "hello" }] };
  const simReq = (route: string) => post("/v1/chat/completions", simBody, { "x-route": route });
  await warm(net, simReq("direct"), 100);
  await warm(net, simReq("fb"), 100);
  const netDirect = (await measure(net, simReq("direct"), 300)).wall;
  const netFb = (await measure(net, simReq("fb"), 300)).wall;
  net.close();
  await sim.close();
  await failing.close();
  rows.push({ name: "HTTP: direct to sim", us: netDirect, base: netDirect });
  rows.push({ name: "HTTP: 503, then sim", us: netFb, base: netDirect });

  console.log(`\n${"fallback latency".padEnd(26)}${"µs".padStart(10)}${"added µs".padStart(12)}${"ratio".padStart(8)}${"wasm µs".padStart(10)}`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(26)}${r.us.toFixed(1).padStart(10)}${(r.us - r.base).toFixed(1).padStart(12)}${(r.us / r.base).toFixed(2).padStart(8)}` +
      `${r.wasm === undefined ? "" : r.wasm.toFixed(1).padStart(10)}`);
  }
  console.log("(wall µs per request, best of 5 rounds of sequential requests; added = over the direct call to the same target\n" +
    " without the plugin; the 503 rows include the primary's own round trip; circuit open = the primary is skipped,\n" +
    " leaving the callout and the local reply; wasm µs = median time in ai-fallback's own code for the request)");
  const by = (n: string) => rows.find((r) => r.name === n)!;
  const added = (n: string) => (by(n).us - by(n).base).toFixed(1);
  console.log(`BENCH fallback direct_us=${by("direct to backup").us.toFixed(1)} after_503_us=${by("503, then backup").us.toFixed(1)} ` +
    `added_us=${added("503, then backup")} circuit_open_added_us=${added("circuit open")} stream_added_us=${added("503, then backup stream")} ` +
    `dashscope_added_us=${added("503, then DashScope")} http_direct_us=${netDirect.toFixed(1)} http_added_us=${added("HTTP: 503, then sim")} ` +
    `fallback_wasm_us=${by("503, then backup").wasm!.toFixed(1)} dashscope_wasm_us=${by("503, then DashScope").wasm!.toFixed(1)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const part = process.argv[2];
  execFileSync("node", ["scripts/build.mjs", "ai-fallback", "empty"], { stdio: "pipe" });
  if (part !== "latency") await successPath();
  if (part !== "success") await fallbackLatency();
}
