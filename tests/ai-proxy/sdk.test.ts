// Real clients through the host: the `openai` and `@anthropic-ai/sdk` packages (and Dify-shaped DashScope
// requests) call ai-proxy routes whose upstreams are the simulated OpenAI, Anthropic and DashScope
// providers (e2e/sim). The SDKs' own parsers must accept every translated answer and stream, tool calls included.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { Host, serve, type Served } from "../../host/index.ts";
import { startAnthropic, startDashScope, startOpenAI, type SimServer } from "../../e2e/sim/providers.ts";

const WASM = process.env.AI_PROXY_WASM ?? "dist/ai-proxy.wasm";
const KEYS = { openai: "sk-openai-test", anthropic: "sk-ant-test", dashscope: "sk-ds-test" };
const PROVIDERS = [
  { name: "openai", type: "openai", model: "gpt-4o" },
  { name: "anthropic", type: "claude", model: "claude-sonnet-4-5" },
  { name: "dashscope", type: "qwen", model: "qwen-plus" },
] as const;

let sims: Record<string, SimServer> = {};
let dashscopeToolRequests: any[] = [];

/**
 * The DashScope simulator does not call tools; this in-process upstream answers tool requests the way
 * DashScope documents it (use-qwen-by-calling-api, function calling): result_format=message with
 * tool_calls, and with incremental_output=true the arguments streamed in pieces.
 */
function dashscopeToolUpstream(req: { path: string; headers: [string, string][]; body: Buffer }) {
  const b = JSON.parse(req.body.toString());
  dashscopeToolRequests.push({ path: req.path, body: b });
  const name = b.parameters?.tools?.[0]?.function?.name;
  if (!Array.isArray(b.input?.messages) || !name || b.parameters?.result_format !== "message") {
    return { status: 400, headers: { "content-type": "application/json" }, body: JSON.stringify({ code: "InvalidParameter", message: "bad tool request", request_id: "t0" }) };
  }
  const usage = (out: number) => ({ input_tokens: 50, output_tokens: out, total_tokens: 50 + out });
  const sse = new Map(req.headers).get("x-dashscope-sse") === "enable";
  if (!sse) {
    return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({
      output: { choices: [{ finish_reason: "tool_calls", message: { role: "assistant", content: "",
        tool_calls: [{ index: 0, id: "call_ds_9", type: "function", function: { name, arguments: "{\"city\": \"Paris\"}" } }] } }] },
      usage: usage(12), request_id: "ds-tools-1" }) };
  }
  const pieces = ["", "{\"city\"", ": \"Par", "is\"}"];
  const events = pieces.map((args, i) => `id:${i + 1}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify({
    output: { choices: [{ finish_reason: "null", message: { role: "assistant", content: "",
      tool_calls: [{ index: 0, id: i === 0 ? "call_ds_9" : "", type: "function", function: i === 0 ? { name, arguments: args } : { arguments: args } }] } }] },
    usage: usage(i + 1), request_id: "ds-tools-2" })}\n\n`);
  events.push(`id:9\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify({ output: { choices: [{ finish_reason: "tool_calls", message: { role: "assistant", content: "" } }] }, usage: usage(12), request_id: "ds-tools-2" })}\n\n`);
  return { status: 200, headers: { "content-type": "text/event-stream" }, body: events };
}
let host: Host;
let served: Served;

before(async () => {
  if (!process.env.AI_PROXY_WASM) execFileSync("node", ["scripts/build.mjs", "ai-proxy"], { stdio: "inherit" });
  const o = { timeScale: 0.001, seed: 7 };
  sims = {
    openai: await startOpenAI({ ...o, apiKeys: [KEYS.openai] }),
    anthropic: await startAnthropic({ ...o, apiKeys: [KEYS.anthropic] }),
    dashscope: await startDashScope({ ...o, apiKeys: [KEYS.dashscope] }),
  };
  host = new Host({ logLevel: "info" });
  const rules: object[] = PROVIDERS.map((p) => ({
    _match_route_: [`to-${p.name}`],
    provider: { type: p.type, apiTokens: [(KEYS as any)[p.name]], modelMapping: { "*": p.model } },
  }));
  rules.push({ _match_route_: ["to-dashscope-tools"], provider: { type: "qwen", apiTokens: ["k"], modelMapping: { "*": "qwen-plus" } } });
  for (const p of PROVIDERS) {
    host.addCluster(p.name, { endpoints: [`127.0.0.1:${sims[p.name].port}`] });
    host.addRoute({ name: `to-${p.name}`, match: { prefix: `/to-${p.name}/` }, cluster: p.name });
  }
  host.addCluster("dashscope-tools", { handler: dashscopeToolUpstream as any });
  host.addRoute({ name: "to-dashscope-tools", match: { prefix: "/to-dashscope-tools/" }, cluster: "dashscope-tools" });
  await host.addPlugin({ name: "ai-proxy", wasm: WASM, config: { _rules_: rules }, phase: "default", priority: 100 });
  served = await serve(host);
});

after(async () => {
  await served?.close();
  for (const s of Object.values(sims)) await s.close();
  assert.equal(host.trapCount(), 0, "no traps");
});

const weatherTool = { name: "get_weather", description: "Weather of a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };

/** Tool calls against DashScope go to the in-process tool upstream (the simulator has no tools). */
function toolRoute(provider: string): string { return provider === "dashscope" ? "dashscope-tools" : provider; }

function openaiClient(provider: string) {
  return new OpenAI({ apiKey: "client-key", baseURL: `${served.url}/to-${provider}/v1`, maxRetries: 0 });
}
function anthropicClient(provider: string) {
  return new Anthropic({ apiKey: "client-key", baseURL: `${served.url}/to-${provider}`, maxRetries: 0 });
}

for (const p of PROVIDERS) {
  test(`openai SDK -> ${p.name}: chat, answer parsed, usage`, async () => {
    const r = await openaiClient(p.name).chat.completions.create({ model: "any", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello there" }], max_tokens: 20 });
    assert.equal(r.object, "chat.completion");
    assert.ok((r.choices[0].message.content ?? "").length > 0);
    assert.ok(r.usage && r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
    assert.equal(sims[p.name].requests.at(-1)!.path.startsWith(p.name === "dashscope" ? "/api/v1/services/" : "/v1/"), true);
  });

  test(`openai SDK -> ${p.name}: streamed tool call assembled by the SDK`, async () => {
    const stream = openaiClient(toolRoute(p.name)).chat.completions.stream({
      model: "any", stream_options: { include_usage: true }, max_tokens: 64,
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [{ type: "function", function: weatherTool }], tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0].message.tool_calls?.[0];
    assert.ok(call, "a tool call");
    assert.equal(call!.type === "function" && call!.function.name, "get_weather");
    assert.equal(typeof JSON.parse((call as any).function.arguments), "object");
    assert.equal(final.choices[0].finish_reason, "tool_calls");
    assert.ok(final.usage && final.usage.total_tokens > 0);
  });

  test(`openai SDK -> ${p.name}: plain stream, text and usage`, async () => {
    const chunks = await openaiClient(p.name).chat.completions.create({ model: "any", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Tell me something" }], max_tokens: 12 });
    let text = "", usage: any = null, finish = "";
    for await (const c of chunks) { text += c.choices[0]?.delta?.content ?? ""; if (c.usage) usage = c.usage; if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason; }
    assert.ok(text.length > 0);
    assert.equal(finish, "length");
    assert.equal(usage?.completion_tokens, 12);
  });

  test(`anthropic SDK -> ${p.name}: message with tool use`, async () => {
    const m = await anthropicClient(toolRoute(p.name)).messages.create({
      model: "any", max_tokens: 64, messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [{ name: weatherTool.name, description: weatherTool.description, input_schema: weatherTool.parameters as any }], tool_choice: { type: "tool", name: "get_weather" },
    });
    assert.equal(m.type, "message");
    const tu = m.content.find((b) => b.type === "tool_use");
    assert.ok(tu && tu.type === "tool_use" && tu.name === "get_weather" && typeof tu.input === "object");
    assert.equal(m.stop_reason, "tool_use");
    assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
  });

  test(`anthropic SDK -> ${p.name}: stream assembled by MessageStream`, async () => {
    const s = anthropicClient(p.name).messages.stream({ model: "any", max_tokens: 10, system: "Be brief.", messages: [{ role: "user", content: "Say something" }] });
    const final = await s.finalMessage();
    const text = final.content.filter((b) => b.type === "text").map((b: any) => b.text).join("");
    assert.ok(text.length > 0);
    assert.equal(final.stop_reason, "max_tokens");
    assert.equal(final.usage.output_tokens, 10);
    assert.ok(final.usage.input_tokens > 0);
  });

  test(`anthropic SDK -> ${p.name}: streamed tool input`, async () => {
    const s = anthropicClient(toolRoute(p.name)).messages.stream({
      model: "any", max_tokens: 64, messages: [{ role: "user", content: "Weather in Rome?" }],
      tools: [{ name: weatherTool.name, description: weatherTool.description, input_schema: weatherTool.parameters as any }], tool_choice: { type: "any" },
    });
    const final = await s.finalMessage();
    const tu = final.content.find((b) => b.type === "tool_use");
    assert.ok(tu && tu.type === "tool_use" && tu.name === "get_weather");
    assert.equal(typeof tu.input, "object");
    assert.equal(final.stop_reason, "tool_use");
  });
}

test("openai SDK: provider errors arrive as the SDK's typed errors (401 from DashScope)", async () => {
  const h = new Host({ logLevel: "warn" });
  h.addCluster("ds", { endpoints: [`127.0.0.1:${sims.dashscope.port}`] });
  h.addRoute({ name: "bad", match: { prefix: "/" }, cluster: "ds" });
  await h.addPlugin({ name: "ai-proxy", wasm: WASM, config: { provider: { type: "qwen", apiTokens: ["wrong-key"] } } });
  const s = await serve(h);
  try {
    const c = new OpenAI({ apiKey: "x", baseURL: `${s.url}/v1`, maxRetries: 0 });
    await assert.rejects(c.chat.completions.create({ model: "qwen-plus", messages: [{ role: "user", content: "hi" }] }), (e: any) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    const a = new Anthropic({ apiKey: "x", baseURL: s.url, maxRetries: 0 });
    await assert.rejects(a.messages.create({ model: "qwen-plus", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }), (e: any) => e instanceof Anthropic.AuthenticationError && e.status === 401);
    assert.equal(h.trapCount(), 0);
  } finally { await s.close(); }
});

// ---- DashScope-native clients (the Higress Dify plugin's requests) to an OpenAI-style backend

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(`${served.url}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer dify", ...headers }, body: JSON.stringify(body) });
  return { status: r.status, json: await r.json() as any };
}

test("Dify rerank (nested body) -> OpenAI-style /v1/rerank -> output.results the plugin reads", async () => {
  const docs = ["Paris is the capital of France.", "Bananas are yellow.", "France is in Europe."];
  const r = await post("/to-openai/prefix/api/v1/services/rerank/text-rerank/text-rerank",
    { model: "gte-rerank-v2", input: { query: "capital of France", documents: docs }, parameters: { return_documents: true, top_n: 2 } });
  assert.equal(r.status, 200);
  assert.equal(r.json.code, undefined);
  const results = r.json.output.results;
  assert.equal(results.length, 2);
  for (const x of results) {
    assert.equal(typeof x.relevance_score, "number");
    assert.equal(x.document.text, docs[x.index]);
  }
  assert.equal(sims.openai.requests.at(-1)!.path, "/v1/rerank");
});

test("Dify rerank (flat qwen3-rerank body) -> OpenAI-style backend", async () => {
  const docs = ["alpha", "beta"];
  const r = await post("/to-openai/api/v1/services/rerank/text-rerank/text-rerank", { model: "qwen3-rerank", query: "alpha", documents: docs, top_n: 1 });
  assert.equal(r.status, 200);
  assert.equal(r.json.output.results.length, 1);
  assert.equal(typeof r.json.output.results[0].index, "number");
});

test("Dify image generation (qwen-image body) -> OpenAI /v1/images/generations -> output.choices[0].message.content[].image", async () => {
  const r = await post("/to-openai/api/v1/services/aigc/multimodal-generation/generation", {
    model: "qwen-image-plus", input: { messages: [{ role: "user", content: [{ text: "a red bicycle" }] }] },
    parameters: { negative_prompt: "", prompt_extend: true, watermark: false, size: "1328*1328" },
  });
  assert.equal(r.status, 200);
  const images = r.json.output.choices[0].message.content.map((c: any) => c.image);
  assert.ok(images.length >= 1 && images.every((u: string) => /^(https?:|data:image)/.test(u)));
  assert.ok(r.json.request_id);
  assert.equal(sims.openai.requests.at(-1)!.path, "/v1/images/generations");
});

test("DashScope embeddings -> OpenAI /v1/embeddings, and the openai SDK's base64 embeddings from DashScope", async () => {
  const r = await post("/to-openai/api/v1/services/embeddings/text-embedding/text-embedding", { model: "text-embedding-v4", input: { texts: ["a", "b"] }, parameters: { dimension: 8 } });
  assert.equal(r.status, 200);
  assert.equal(r.json.output.embeddings.length, 2);
  assert.equal(r.json.output.embeddings[1].embedding.length, 8);
  const e = await openaiClient("dashscope").embeddings.create({ model: "text-embedding-v4", input: ["x", "y", "z"], dimensions: 16 });
  assert.equal(e.data.length, 3);
  assert.equal(e.data[2].embedding.length, 16);
  assert.ok(e.data[0].embedding.every((v) => Number.isFinite(v)));
});

test("DashScope native chat stream (X-DashScope-SSE) -> Anthropic provider: DashScope events back", async () => {
  const res = await fetch(`${served.url}/to-anthropic/api/v1/services/aigc/text-generation/generation`, {
    method: "POST", headers: { "content-type": "application/json", "x-dashscope-sse": "enable" },
    body: JSON.stringify({ model: "qwen-plus", input: { messages: [{ role: "user", content: "hi" }] }, parameters: { incremental_output: true, max_tokens: 8 } }),
  });
  assert.equal(res.status, 200);
  const text = await res.text();
  const events = text.split("\n\n").filter((b) => b.trim());
  assert.ok(events.length >= 2);
  assert.ok(events.every((e) => e.includes("event:result") && e.includes(":HTTP_STATUS/200")));
  const last = JSON.parse(events.at(-1)!.split("\ndata:")[1]);
  assert.equal(last.output.finish_reason, "length");
  assert.equal(last.usage.output_tokens, 8);
});

test("malformed client JSON -> 400 in the client's shape, no trap", async () => {
  const r = await fetch(`${served.url}/to-anthropic/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: "{\"model\": \"x\", \"messages\": [" });
  assert.equal(r.status, 400);
  const j: any = await r.json();
  assert.match(j.error.message, /not a JSON object/);
  const r2 = await fetch(`${served.url}/to-openai/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: "[]" });
  assert.equal(r2.status, 400);
  const j2: any = await r2.json();
  assert.equal(j2.type, "error");
  assert.equal(j2.error.type, "invalid_request_error");
});
