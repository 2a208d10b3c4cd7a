// Seed demo 1, the agent assistant: Dify's Higress plugin in front of a model provider. Chat and
// embeddings speak OpenAI's protocol (through the real `openai` client), rerank DashScope's (as the Dify
// plugin sends it); every request is HMAC-signed exactly as the plugin signs; a token limit per
// consumer; a failing model falls back to a second one. Upstream: the simulated DashScope (ai-proxy
// translates), fallback: the simulated OpenAI.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { DIFY_AGENT, type Demo, difyHmacFetch, difyPost, metric, ruleConfig, sseJson, startDemo } from "./helpers.ts";

const TOKEN_LIMIT = 1500;
let demo: Demo;
let client: OpenAI;

before(async () => {
  demo = await startDemo((cfg) => {
    ruleConfig(cfg, "ai-token-ratelimit", "agent").rule_items[0].limit_keys[0].token_per_minute = TOKEN_LIMIT;
  });
  client = new OpenAI({ baseURL: `${demo.url}/agent/v1`, apiKey: "not-sent", fetch: difyHmacFetch(), maxRetries: 0 });
});
after(() => demo.close());

const dashscope = () => demo.sims("dashscope")[0];
const openai = () => demo.sims("openai")[0];

test("chat: OpenAI protocol in, DashScope native out with the gateway's key; the consumer is known", async () => {
  const before = dashscope().requests.length;
  const res = await client.chat.completions.create({ model: "qwen-max", messages: [{ role: "user", content: "Plan my week" }] });
  assert.equal(res.object, "chat.completion");
  assert.ok(res.choices[0].message.content!.length > 0);
  assert.ok(res.usage!.prompt_tokens > 0 && res.usage!.completion_tokens > 0);
  const up = dashscope().requests.slice(before);
  assert.equal(up.length, 1);
  assert.equal(up[0].path, "/api/v1/services/aigc/text-generation/generation");
  assert.equal(up[0].headers.authorization, "Bearer sk-sim-dashscope");
  assert.equal(up[0].body.input.messages[0].content, "Plan my week");
  const rec = await demo.record((r) => r.path === "/agent/v1/chat/completions" && r.tokensOut === res.usage!.completion_tokens);
  assert.equal(rec.consumer, DIFY_AGENT.name);
  assert.equal(rec.route, "higress-system/agent-chat");
  assert.equal(rec.tokensIn, res.usage!.prompt_tokens);
  assert.match(rec.upstream!, /^outbound\|8080\|\|dashscope\.dns\//);
});

test("chat streamed as the Dify plugin sends it (no stream_options): OpenAI chunks end with a finish reason; the access log still has the tokens", async () => {
  const seen = demo.records.length;
  const res = await difyPost(`${demo.url}/agent/v1/chat/completions`, {
    model: "qwen-max", stream: true, messages: [{ role: "user", content: "Summarise the meeting" }],
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /text\/event-stream/);
  const chunks = sseJson(await res.text());
  const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("");
  assert.ok(text.length > 0);
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
  assert.ok(chunks.some((c) => c.choices?.[0]?.finish_reason === "stop"));
  // The rate limiter asked upstream for usage and hid it from this client; it reports it in ai_log instead.
  assert.ok(chunks.every((c) => !c.usage), "no usage chunk for a client that did not ask");
  const rec = await demo.record((r) => demo.records.indexOf(r) >= seen && r.path === "/agent/v1/chat/completions");
  assert.ok(rec.tokensIn! > 0 && rec.tokensOut! > 0, `access record tokens ${rec.tokensIn}/${rec.tokensOut}`);
});

test("chat streamed through the openai client", async () => {
  const stream = await client.chat.completions.create({
    model: "qwen-max", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "Write a haiku" }],
  });
  let text = "";
  let usage: OpenAI.CompletionUsage | null | undefined = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(text.length > 0);
  assert.ok(usage && usage.completion_tokens > 0, "the client asked for usage and gets it");
});

test("embeddings: OpenAI protocol, translated to DashScope's text-embedding", async () => {
  const before = dashscope().requests.length;
  const res = await client.embeddings.create({ model: "text-embedding-v3", input: ["refund policy", "shipping times"], encoding_format: "float" });
  assert.equal(res.data.length, 2);
  assert.deepEqual(res.data.map((d) => d.index), [0, 1]);
  assert.ok(res.data[0].embedding.length > 0);
  assert.notDeepEqual(res.data[0].embedding, res.data[1].embedding);
  const up = dashscope().requests.slice(before);
  assert.equal(up[0].path, "/api/v1/services/embeddings/text-embedding/text-embedding");
  assert.deepEqual(up[0].body.input.texts, ["refund policy", "shipping times"]);
});

test("rerank in both of the Dify plugin's DashScope shapes", async () => {
  const url = `${demo.url}/agent/api/v1/services/rerank/text-rerank/text-rerank`;
  const docs = ["the gateway routes model traffic", "bananas are yellow", "a gateway adds authentication"];
  const classic = await difyPost(url, { model: "gte-rerank-v2", input: { query: "what does the gateway do", documents: docs }, parameters: { return_documents: true, top_n: 2 } });
  assert.equal(classic.status, 200);
  const c = await classic.json() as any;
  assert.equal(c.code, undefined, "the Dify plugin treats any top-level code as an error");
  assert.equal(c.output.results.length, 2);
  assert.ok(c.output.results[0].relevance_score >= c.output.results[1].relevance_score);
  assert.ok(docs.includes(c.output.results[0].document.text));
  assert.notEqual(c.output.results[0].document.text, "bananas are yellow");

  const flat = await difyPost(url, { model: "qwen3-rerank", query: "what does the gateway do", documents: docs, top_n: 3 });
  assert.equal(flat.status, 200);
  const f = await flat.json() as any;
  assert.equal(f.output.results.length, 3);
  assert.deepEqual(f.output.results.map((r: any) => r.index).sort(), [0, 1, 2]);
});

test("HMAC: unsigned requests get 401, a wrong secret 400 with the server's string to sign; neither reaches the provider", async () => {
  const before = dashscope().requests.length;
  const unsigned = await fetch(`${demo.url}/agent/v1/chat/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "qwen-max", messages: [{ role: "user", content: "x" }] }),
  });
  assert.equal(unsigned.status, 401);
  const forged = await difyPost(`${demo.url}/agent/v1/embeddings`, { model: "text-embedding-v3", input: "x" }, { ...DIFY_AGENT, secret: "guessed" });
  assert.equal(forged.status, 400);
  assert.match(forged.headers.get("x-ca-error-message") ?? "", /^Server StringToSign:`POST#\*\/\*##application\/json#/);
  assert.equal(dashscope().requests.length, before);
  const keyed = await fetch(`${demo.url}/agent/v1/embeddings`, {
    method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${DIFY_AGENT.apiKey}` },
    body: JSON.stringify({ model: "text-embedding-v3", input: "api_key mode" }),
  });
  assert.equal(keyed.status, 200, "the Dify plugin's api_key mode: Authorization: Bearer <key>");
});

test("a failing model falls back to the second one (OpenAI's gpt-4o-mini), streamed or not", async () => {
  const fallbacksBefore = await metric(demo, "ai_fallback_fallbacks");
  dashscope().inject({ status: 503, times: 1, paths: ["/api/v1/services/aigc/text-generation/generation"] });
  const before = openai().requests.length;
  const { data, response } = await client.chat.completions.create({ model: "qwen-max", messages: [{ role: "user", content: "Are you there?" }] }).withResponse();
  assert.equal(response.status, 200);
  assert.match(response.headers.get("x-ai-served-by") ?? "", /gpt-4o-mini/);
  assert.ok(data.choices[0].message.content!.length > 0);
  const up = openai().requests.slice(before);
  assert.equal(up.length, 1);
  assert.equal(up[0].path, "/v1/chat/completions");
  assert.equal(up[0].body.model, "gpt-4o-mini");
  assert.equal(up[0].headers.authorization, "Bearer sk-sim-openai");
  const rec = await demo.record((r) => r.fallback !== null && r.status === 200);
  assert.match(rec.fallback!, /dashscope\.dns=503/);

  dashscope().inject({ status: 503, times: 1, paths: ["/api/v1/services/aigc/text-generation/generation"] });
  const res = await difyPost(`${demo.url}/agent/v1/chat/completions`, { model: "qwen-max", stream: true, messages: [{ role: "user", content: "Still there?" }] });
  assert.equal(res.status, 200);
  const chunks = sseJson(await res.text());
  assert.ok(chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("").length > 0);
  assert.equal(openai().requests.at(-1)!.body.stream, true);
  assert.equal(await metric(demo, "ai_fallback_fallbacks"), fallbacksBefore + 2);
});

// Last: it spends the consumer's budget.
test("token limit per consumer: admitted requests never charge more than the limit, then 429 before the provider", async () => {
  let rejected: InstanceType<typeof OpenAI.RateLimitError> | null = null;
  let admitted = 0;
  for (let i = 0; i < 40 && !rejected; i++) {
    try {
      await client.chat.completions.create({ model: "qwen-max", messages: [{ role: "user", content: `Question number ${i} about the roadmap` }] });
      admitted++;
    } catch (e) {
      if (e instanceof OpenAI.RateLimitError) rejected = e;
      else throw e;
    }
  }
  assert.ok(rejected, "the limit was reached");
  assert.ok(admitted >= 2);
  assert.equal(rejected.status, 429);
  assert.ok(Number(rejected.headers?.get("retry-after")) >= 1);
  const charged = await metric(demo, "ai_token_ratelimit_agent_tokens_charged_tokens");
  assert.ok(charged > 0 && charged <= TOKEN_LIMIT, `charged ${charged} tokens, limit ${TOKEN_LIMIT}`);
  const before = dashscope().requests.length;
  const again = await difyPost(`${demo.url}/agent/v1/chat/completions`, { model: "qwen-max", messages: [{ role: "user", content: "one more" }] });
  assert.equal(again.status, 429, "Dify shows a non-200 first response as the error");
  assert.equal(dashscope().requests.length, before);
});
