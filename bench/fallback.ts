// ai-fallback's cost. (1) The success path: a healthy primary through ai-fallback against the same route
// with the empty plugin and with none, for a small chat request and a 64 KB prompt, streamed and not.
// (2) The latency a fallback adds over calling the fallback target directly: after a primary 503, with
// the primary's circuit open, and across protocols (DashScope target); in-process upstreams (no
// sockets, so only gateway work is measured) and once over real HTTP with the simulators.
// Run alone: node --import tsx bench/fallback.ts
import { execFileSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { Host, type RequestInit, type UpstreamResponse } from "../host/index.ts";
import { startOpenAI } from "../e2e/sim/providers.ts";

/** µs per request: the best of several rounds of sequential requests (least disturbed by other work). */
async function sequentialUs(host: Host, req: () => RequestInit, check: (status: number) => void, n = 1000, rounds = 5): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const r = await host.request(req());
    if (r.status !== 200) console.error(req().path, r.status, r.details, r.text.slice(0, 300));
    check(r.status);
  }
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await host.request(req());
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e3 / n);
  }
  return best;
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
  return (req: { body: Buffer }): UpstreamResponse => {
    const stream = req.body.includes('"stream":true');
    return stream
      ? { status: 200, headers: { "content-type": "text/event-stream" }, body: sse(model) }
      : { status: 200, headers: { "content-type": "application/json" }, body: completion(model) };
  };
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

const fallbackCfg = (primary: string) => ({
  primary: { name: primary },
  fallbacks: [{ name: "backup", cluster: "backup", model: "gpt-4o-mini" },
    { name: "qwen", cluster: "qwen", model: "qwen-plus", protocol: "dashscope" }],
});

export async function benchFallback(): Promise<void> {
  execFileSync("node", ["scripts/build.mjs", "ai-fallback", "empty"], { stdio: "pipe" });
  await successPath();
  await fallbackLatency();
}

async function successPath(): Promise<void> {
  {
    const host = new Host({ clusters: { llm: { handler: openAi("llama") }, backup: { handler: openAi("gpt-4o-mini") } } });
    await host.addPlugin({ name: "empty", wasm: "dist/empty.wasm" });
    await host.addPlugin({ name: "ai-fallback", wasm: "dist/ai-fallback.wasm", config: fallbackCfg("llm") });
    host.addRoute({ name: "none", match: { prefix: "/none" }, cluster: "llm", plugins: [] });
    host.addRoute({ name: "empty", match: { prefix: "/empty" }, cluster: "llm", plugins: ["empty"] });
    host.addRoute({ name: "fb", match: { prefix: "/fb" }, cluster: "llm", plugins: ["ai-fallback"] });
    const ok = (s: number) => { if (s !== 200) throw new Error(`status ${s}`); };
    const rows: Array<{ name: string; none: number; empty: number; fb: number }> = [];
    for (const [name, bytes, stream] of [["chat 200 B", 200, false], ["chat 200 B stream", 200, true], ["chat 64 KB", 65536, false], ["chat 64 KB stream", 65536, true]] as const) {
      const body = chatBody(bytes, stream);
      const req = (p: string) => () => ({ method: "POST", path: `${p}/v1/chat/completions`, body });
      rows.push({ name, none: await sequentialUs(host, req("/none"), ok), empty: await sequentialUs(host, req("/empty"), ok), fb: await sequentialUs(host, req("/fb"), ok) });
    }
    host.close();
    const h = (s: string, w = 12) => s.padStart(w);
    const f = (x: number, d = 1, w = 12) => x.toFixed(d).padStart(w);
    console.log(`${"success path".padEnd(20)}${h("none µs")}${h("empty µs")}${h("fallback µs")}${h("fb-empty µs", 13)}${h("fb/empty", 10)}`);
    for (const r of rows) console.log(`${r.name.padEnd(20)}${f(r.none)}${f(r.empty)}${f(r.fb)}${f(r.fb - r.empty, 1, 13)}${f(r.fb / r.empty, 2, 10)}`);
    console.log("(best of 5 rounds of 1000 sequential requests; in-process upstream; empty = the no-op plugin, i.e. the host's\n" +
      " cost of any Wasm filter; fb-empty = ai-fallback's own work: keeping and parsing the body, one shared-data read,\n" +
      " the served-by header, and for streams holding the headers until the first event is checked)");
    const [small, smallStream, big, bigStream] = rows;
    console.log(`BENCH fallback success_us=${small.fb.toFixed(1)} empty_plugin_us=${small.empty.toFixed(1)} no_plugin_us=${small.none.toFixed(1)} ` +
      `cost_us=${(small.fb - small.empty).toFixed(1)} stream_cost_us=${(smallStream.fb - smallStream.empty).toFixed(1)} ` +
      `body64k_cost_us=${(big.fb - big.empty).toFixed(1)} body64k_stream_cost_us=${(bigStream.fb - bigStream.empty).toFixed(1)}`);
  }

}

async function fallbackLatency(): Promise<void> {
  {
    const host = new Host({ clusters: {
      dead: { handler: overloaded }, backup: { handler: openAi("gpt-4o-mini") }, qwen: { handler: dashScope },
    } });
    const onlyQwen = { primary: { name: "dead-q" }, fallbacks: [{ name: "qwen", cluster: "qwen", model: "qwen-plus", protocol: "dashscope" }] };
    await host.addPlugin({ name: "fb", wasm: "dist/ai-fallback.wasm", config: { ...fallbackCfg("dead"), circuit_breaker: { failure_threshold: 0 } } });
    await host.addPlugin({ name: "fb-open", wasm: "dist/ai-fallback.wasm", config: { ...fallbackCfg("dead-open"), circuit_breaker: { failure_threshold: 1, open_ms: 3600000 } } });
    await host.addPlugin({ name: "fb-qwen", wasm: "dist/ai-fallback.wasm", config: { ...onlyQwen, circuit_breaker: { failure_threshold: 0 } } });
    host.addRoute({ name: "direct", match: { prefix: "/direct" }, cluster: "backup", plugins: [] });
    host.addRoute({ name: "after503", match: { prefix: "/after503" }, cluster: "dead", plugins: ["fb"] });
    host.addRoute({ name: "open", match: { prefix: "/open" }, cluster: "dead", plugins: ["fb-open"] });
    host.addRoute({ name: "qwen", match: { prefix: "/qwen" }, cluster: "dead", plugins: ["fb-qwen"] });
    const ok = (s: number) => { if (s !== 200) throw new Error(`status ${s}`); };
    const rows: Array<{ name: string; us: number }> = [];
    for (const stream of [false, true]) {
      const body = chatBody(200, stream);
      const req = (p: string) => () => ({ method: "POST", path: `${p}/v1/chat/completions`, body });
      const sfx = stream ? " stream" : "";
      rows.push({ name: `direct to backup${sfx}`, us: await sequentialUs(host, req("/direct"), ok) });
      rows.push({ name: `503, then backup${sfx}`, us: await sequentialUs(host, req("/after503"), ok) });
      rows.push({ name: `circuit open${sfx}`, us: await sequentialUs(host, req("/open"), ok) });
    }
    rows.push({ name: "503, then DashScope", us: await sequentialUs(host, () => ({ method: "POST", path: "/qwen/v1/chat/completions", body: chatBody(200, false) }), ok) });
    host.close();

    // Over real sockets: the OpenAI simulator answering at once, direct vs through a failing primary.
    const sim = await startOpenAI({ ttftMs: 0, tokenMs: 0, timeScale: 0 });
    const failing = await startOpenAI({ failures: [{ status: 503 }] });
    const net = new Host({ clusters: { sim: { endpoints: [`127.0.0.1:${sim.port}`] }, failing: { endpoints: [`127.0.0.1:${failing.port}`] } } });
    await net.addPlugin({ name: "fb", wasm: "dist/ai-fallback.wasm", config: {
      primary: { name: "failing" }, fallbacks: [{ name: "sim", cluster: "sim", model: "gpt-4o-mini" }], circuit_breaker: { failure_threshold: 0 } } });
    // Both routes serve the simulator's own path; a header picks the route.
    net.addRoute({ name: "direct", match: { headers: { "x-route": "direct" } }, cluster: "sim", plugins: [] });
    net.addRoute({ name: "fb", match: { headers: { "x-route": "fb" } }, cluster: "failing", plugins: ["fb"] });
    const simBody = { model: "gpt-4o-mini", max_tokens: 8, messages: [{ role: "user", content: "hello" }] };
    const simReq = (route: string) => () => ({ method: "POST", path: "/v1/chat/completions", headers: { "x-route": route }, body: simBody });
    const netDirect = await sequentialUs(net, simReq("direct"), ok, 300, 3);
    const netFb = await sequentialUs(net, simReq("fb"), ok, 300, 3);
    net.close();
    await sim.close();
    await failing.close();

    const base = rows[0].us;
    const baseStream = rows[3].us;
    console.log(`\n${"fallback latency".padEnd(26)}${"µs".padStart(10)}${"added µs".padStart(12)}${"ratio".padStart(8)}`);
    for (const r of rows) {
      const b = r.name.endsWith("stream") ? baseStream : base;
      console.log(`${r.name.padEnd(26)}${r.us.toFixed(1).padStart(10)}${(r.us - b).toFixed(1).padStart(12)}${(r.us / b).toFixed(2).padStart(8)}`);
    }
    console.log(`${"HTTP: direct to sim".padEnd(26)}${netDirect.toFixed(1).padStart(10)}`);
    console.log(`${"HTTP: 503, then sim".padEnd(26)}${netFb.toFixed(1).padStart(10)}${(netFb - netDirect).toFixed(1).padStart(12)}${(netFb / netDirect).toFixed(2).padStart(8)}`);
    console.log("(added = over the direct call to the same fallback target without the plugin; the 503 rows include the primary's\n" +
      " own round trip; circuit open = the primary is skipped, so only the callout and local reply remain)");
    console.log(`BENCH fallback direct_us=${base.toFixed(1)} after_503_us=${rows[1].us.toFixed(1)} added_us=${(rows[1].us - base).toFixed(1)} ` +
      `circuit_open_added_us=${(rows[2].us - base).toFixed(1)} stream_added_us=${(rows[4].us - baseStream).toFixed(1)} ` +
      `dashscope_added_us=${(rows[6].us - base).toFixed(1)} http_direct_us=${netDirect.toFixed(1)} http_added_us=${(netFb - netDirect).toFixed(1)}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const part = process.argv[2];
  if (part === "success") await successPath();
  else if (part === "latency") await fallbackLatency();
  else await benchFallback();
}
