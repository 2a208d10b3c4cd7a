// ai-proxy plugin behaviour through the host with in-process upstreams: what reaches the provider
// (host, path, auth, model mapping, token rotation, protocol original, base path), and what the client
// gets when the provider misbehaves (non-JSON answers, broken or truncated streams). Zero traps throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { Host, type UpstreamRequest, type UpstreamResponse } from "../../host/index.ts";

const WASM = process.env.AI_PROXY_WASM ?? "dist/ai-proxy.wasm";
if (!process.env.AI_PROXY_WASM) execFileSync("node", ["scripts/build.mjs", "ai-proxy"], { stdio: "pipe" });

async function setup(provider: object, respond: (req: UpstreamRequest) => UpstreamResponse = () => ({ status: 200, headers: { "content-type": "application/json" }, body: "{}" })) {
  const seen: UpstreamRequest[] = [];
  const host = new Host({ logLevel: "info" });
  host.addCluster("up", { handler: (req) => { seen.push(req); return respond(req); } });
  host.addRoute({ name: "r", match: { prefix: "/" }, cluster: "up" });
  await host.addPlugin({ name: "ai-proxy", wasm: WASM, config: { provider } });
  return { host, seen, header: (i: number, k: string) => new Map(seen[i].headers).get(k) };
}

const chat = (model: string) => ({ model, messages: [{ role: "user", content: "hi" }] });

test("model mapping: exact, prefix*, ~regex in order, * fallback, empty value keeps the name", async () => {
  const { host, seen } = await setup({ type: "openai", apiTokens: ["k"], modelMapping: {
    "gpt-4o": "exact-target", "gpt-4*": "prefix-target", "~^claude-(3|4)": "regex-target", "keep-*": "", "*": "fallback" } });
  const models = ["gpt-4o", "gpt-4-turbo", "claude-4-opus", "keep-me", "other"];
  for (const m of models) await host.request({ method: "POST", path: "/v1/chat/completions", body: chat(m) });
  assert.deepEqual(seen.map((r) => JSON.parse(r.body.toString()).model), ["exact-target", "prefix-target", "regex-target", "keep-me", "fallback"]);
  assert.equal(host.trapCount(), 0);
});

test("apiTokens rotate; Anthropic gets x-api-key + anthropic-version, others Bearer; :authority is the provider's", async () => {
  const a = await setup({ type: "claude", apiTokens: ["a1", "a2"] }, () => ({ status: 200, headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "m", type: "message", role: "assistant", model: "c", content: [{ type: "text", text: "ok" }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 1 } }) }));
  for (let i = 0; i < 3; i++) await a.host.request({ method: "POST", path: "/v1/chat/completions", headers: { authorization: "Bearer client" }, body: chat("c") });
  assert.deepEqual([0, 1, 2].map((i) => a.header(i, "x-api-key")), ["a1", "a2", "a1"]);
  assert.equal(a.header(0, "authorization"), undefined);
  assert.equal(a.header(0, "anthropic-version"), "2023-06-01");
  assert.equal(a.seen[0].authority, "api.anthropic.com");
  assert.equal(a.seen[0].path, "/v1/messages");

  const q = await setup({ type: "qwen", apiTokens: ["q1"], qwenDomain: "dashscope-intl.aliyuncs.com" });
  await q.host.request({ method: "POST", path: "/prefix/v1/chat/completions", body: { ...chat("qwen-plus"), stream: true } });
  assert.equal(q.header(0, "authorization"), "Bearer q1");
  assert.equal(q.header(0, "x-dashscope-sse"), "enable");
  assert.equal(q.seen[0].authority, "dashscope-intl.aliyuncs.com");
  assert.equal(q.seen[0].path, "/api/v1/services/aigc/text-generation/generation");
});

test("same protocol and protocol original: body passes (model mapped only), base path prepended, route prefix cut", async () => {
  const o = await setup({ type: "openai", apiTokens: ["k"], providerDomain: "llm.internal", basePath: "/compatible-mode/", modelMapping: { "*": "m2" } });
  await o.host.request({ method: "POST", path: "/dify-prefix/v1/chat/completions?x=1", body: { ...chat("m1"), custom_field: 1 } });
  assert.equal(o.seen[0].path, "/compatible-mode/v1/chat/completions?x=1");
  assert.deepEqual(JSON.parse(o.seen[0].body.toString()), { model: "m2", messages: [{ role: "user", content: "hi" }], custom_field: 1 });
  assert.equal(o.seen[0].authority, "llm.internal");

  const orig = await setup({ type: "qwen", apiTokens: ["k"], protocol: "original" });
  const body = { model: "qwen-plus", input: { messages: [{ role: "user", content: "hi" }] }, parameters: { foo: 1 } };
  await orig.host.request({ method: "POST", path: "/api/v1/services/aigc/text-generation/generation", body });
  assert.deepEqual(JSON.parse(orig.seen[0].body.toString()), body);
});

test("a provider answer that is not JSON becomes 502 in the client's shape", async () => {
  const { host } = await setup({ type: "qwen", apiTokens: ["k"] }, () => ({ status: 200, headers: { "content-type": "application/json" }, body: "<html>oops" }));
  const r = await host.request({ method: "POST", path: "/v1/messages", body: { model: "x", max_tokens: 5, messages: [{ role: "user", content: "hi" }] } });
  assert.equal(r.status, 502);
  assert.equal((r.json() as any).type, "error");
  assert.equal(host.trapCount(), 0);
});

test("provider error status and body are mapped (DashScope 400 -> Anthropic invalid_request_error)", async () => {
  const { host } = await setup({ type: "qwen", apiTokens: ["k"] }, () => ({ status: 400, headers: { "content-type": "application/json" },
    body: JSON.stringify({ code: "InvalidParameter", message: "Range of max_tokens should be [1, 8192]", request_id: "x" }) }));
  const r = await host.request({ method: "POST", path: "/v1/messages", body: { model: "x", max_tokens: 99999, messages: [{ role: "user", content: "hi" }] } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.json(), { type: "error", error: { type: "invalid_request_error", message: "Range of max_tokens should be [1, 8192]" } });
});

const sseHeaders = { "content-type": "text/event-stream" };

test("a broken upstream stream ends in the client protocol's error event, not a hang or trap", async () => {
  const { host } = await setup({ type: "openai", apiTokens: ["k"] }, () => ({ status: 200, headers: sseHeaders,
    body: ['data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n', "data: {not json\n\n", 'data: {"choices":[]}\n\n'] }));
  const r = await host.request({ method: "POST", path: "/v1/messages", body: { model: "x", max_tokens: 5, stream: true, messages: [{ role: "user", content: "hi" }] } });
  assert.equal(r.status, 200);
  const events = r.text.split("\n\n").filter(Boolean);
  assert.match(events.at(-1)!, /^event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"upstream sent a malformed stream event"\}\}$/);
  assert.ok(r.text.includes('"text":"Hel"'));
  assert.equal(host.trapCount(), 0);
});

test("a truncated DashScope stream (no finish) ends with an OpenAI error chunk and no [DONE]", async () => {
  const { host } = await setup({ type: "qwen", apiTokens: ["k"] }, () => ({ status: 200, headers: sseHeaders,
    body: ['id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"choices":[{"message":{"content":"Hi","role":"assistant"},"finish_reason":"null"}]},"request_id":"r"}\n\n'] }));
  const r = await host.request({ method: "POST", path: "/v1/chat/completions", body: { ...chat("qwen-plus"), stream: true } });
  assert.ok(r.text.includes('"content":"Hi"'));
  assert.ok(!r.text.includes("[DONE]"));
  const last = JSON.parse(r.text.trim().split("\n\n").at(-1)!.slice(6));
  assert.equal(last.error.message, "upstream stream ended before a finish_reason");
});

test("a DashScope error event mid-stream reaches an Anthropic client as an error event with its status kind", async () => {
  const { host } = await setup({ type: "qwen", apiTokens: ["k"] }, () => ({ status: 200, headers: sseHeaders,
    body: ['id:1\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling.RateQuota","message":"Requests rate limit exceeded","request_id":"r"}\n\n'] }));
  const r = await host.request({ method: "POST", path: "/v1/messages", body: { model: "x", max_tokens: 5, stream: true, messages: [{ role: "user", content: "hi" }] } });
  assert.ok(r.text.endsWith('event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"Requests rate limit exceeded"}}\n\n'));
});

test("garbage request bodies and configs: clear 400s and config refusals, zero traps", async () => {
  const { host } = await setup({ type: "claude", apiTokens: ["k"] });
  const bodies = ["", "null", "{", "[1,2]", '{"messages":"x"}', '{"model":1,"messages":[1,null,{"role":7,"content":{"a":1}}]}', "\u0000\u00ff", '{"a":' + "[".repeat(5000) + "]".repeat(5000) + "}"];
  for (const path of ["/v1/chat/completions", "/api/v1/services/aigc/text-generation/generation", "/v1/embeddings", "/v1/rerank", "/api/v1/services/aigc/multimodal-generation/generation"]) {
    for (const b of bodies) {
      const r = await host.request({ method: "POST", path, headers: { "content-type": "application/json" }, body: b });
      assert.ok(r.status === 400 || r.status === 200, `${path} ${JSON.stringify(b).slice(0, 40)} -> ${r.status}`);
    }
  }
  assert.equal(host.trapCount(), 0);
  for (const bad of [{ provider: { type: "nope" } }, { provider: { type: "openai", modelMapping: { "~(": "x" } } }, { provider: { type: "qwen", protocol: "x" } }, {}]) {
    const h = new Host({ logLevel: "error" });
    await assert.rejects(h.addPlugin({ name: "p", wasm: WASM, config: bad }));
  }
});

test("spec.yaml: its example validates against its schema; spec and WasmPlugin configs are accepted by the plugin", async () => {
  const { parse } = await import("yaml");
  const { readFileSync } = await import("node:fs");
  const Ajv = (await import("ajv")).default;
  const spec = parse(readFileSync("plugins/ai-proxy/spec.yaml", "utf8"));
  assert.equal(spec.spec.phase, "default");
  assert.equal(spec.spec.priority, 100);
  const schema = spec.spec.configSchema.openAPIV3Schema;
  const { example, ...plain } = schema;
  const validate = new Ajv({ strict: false }).compile(plain);
  assert.ok(validate(example), JSON.stringify(validate.errors));
  const wp = parse(readFileSync("plugins/ai-proxy/wasmplugin.yaml", "utf8"));
  const configs = [example, wp.spec.defaultConfig, ...wp.spec.matchRules.map((r: any) => r.config)];
  for (const config of configs) {
    assert.ok(validate(config), JSON.stringify(validate.errors));
    const h = new Host({ logLevel: "error" });
    await h.addPlugin({ name: "p", wasm: WASM, config });
  }
});
