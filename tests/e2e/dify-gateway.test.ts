// Seed demo 3, the gateway in front of Dify: /v1/chat-messages and /v1/workflows/run of a Dify app
// API behind one route (/dify/, rewritten to /), several apps told apart by an x-app-id header, each
// app limited to one request a minute, and the tokens each app spends counted from Dify's own
// streaming events (message_end, workflow_finished).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { type Demo, metric, sseJson, startDemo } from "./helpers.ts";

let demo: Demo;
before(async () => { demo = await startDemo(); });
after(() => demo.close());

const charged = () => metric(demo, "ai_token_ratelimit_dify_apps_charged_tokens");

function difyApi(path: string, appKey: string, body: unknown): Promise<Response> {
  return fetch(`${demo.url}/dify${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${appKey}`, "x-app-id": appKey, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

test("chat app: streamed answer, tokens counted from message_end, second request in the minute refused", async () => {
  const before = await charged();
  const res = await difyApi("/v1/chat-messages", "app-support-bot", { inputs: {}, query: "Where is my order?", response_mode: "streaming", user: "alice" });
  assert.equal(res.status, 200);
  const events = sseJson(await res.text());
  assert.ok(events.some((e) => e.event === "message" && e.answer));
  const end = events.find((e) => e.event === "message_end");
  const total = end.metadata.usage.total_tokens;
  assert.ok(total > 0);
  assert.equal(await charged() - before, total, "the app's budget is charged what Dify reported");
  const rec = await demo.record((r) => r.path === "/dify/v1/chat-messages" && r.status === 200);
  assert.equal(rec.tokensIn, end.metadata.usage.prompt_tokens);
  assert.equal(rec.tokensOut, end.metadata.usage.completion_tokens);
  assert.match(rec.upstream!, /dify\.dns/);
  assert.equal(demo.sims("dify")[0].requests.at(-1)!.path, "/v1/chat-messages", "the /dify prefix is rewritten away");

  const upstreamBefore = demo.sims("dify")[0].requests.length;
  const again = await difyApi("/v1/chat-messages", "app-support-bot", { inputs: {}, query: "And now?", response_mode: "blocking", user: "alice" });
  assert.equal(again.status, 429);
  assert.equal(again.headers.get("x-ratelimit-limit-requests"), "1");
  // Within the window plus one of its 20 buckets: the plugin's sliding window counts a request until
  // the bucket 60 s after its own has passed (plugins/ai-token-ratelimit/window.ts).
  const retry = Number(again.headers.get("retry-after"));
  assert.ok(retry >= 1 && retry <= 63, `retry-after ${retry}`);
  assert.equal(demo.sims("dify")[0].requests.length, upstreamBefore);
});

test("workflow app on the same route: its own budget; tokens counted from workflow_finished", async () => {
  const before = await charged();
  const res = await difyApi("/v1/workflows/run", "app-report-writer", { inputs: { topic: "quarterly sales" }, response_mode: "streaming", user: "bob" });
  assert.equal(res.status, 200);
  const events = sseJson(await res.text());
  const finished = events.find((e) => e.event === "workflow_finished");
  assert.equal(finished.data.status, "succeeded");
  assert.ok(finished.data.total_tokens > 0);
  assert.equal(await charged() - before, finished.data.total_tokens);
  const rec = await demo.record((r) => r.path === "/dify/v1/workflows/run" && r.status === 200);
  assert.equal(rec.tokensTotal, finished.data.total_tokens, "the access log has Dify's workflow total");
  const again = await difyApi("/v1/workflows/run", "app-report-writer", { inputs: { topic: "again" }, response_mode: "streaming", user: "bob" });
  assert.equal(again.status, 429);
});

test("a third app is unaffected by the others' limits; blocking answers are counted too", async () => {
  const before = await charged();
  const res = await difyApi("/v1/chat-messages", "app-helpdesk", { inputs: {}, query: "Reset my password", response_mode: "blocking", user: "carol" });
  assert.equal(res.status, 200);
  const body = await res.json() as any;
  assert.ok(body.answer.length > 0);
  assert.equal(await charged() - before, body.metadata.usage.total_tokens);
});

test("a request without x-app-id is not limited by the per-app rule", async () => {
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${demo.url}/dify/v1/chat-messages`, {
      method: "POST", headers: { authorization: "Bearer app-support-bot", "content-type": "application/json" },
      body: JSON.stringify({ inputs: {}, query: `q${i}`, response_mode: "blocking", user: "dave" }),
    });
    assert.equal(res.status, 200);
  }
});
