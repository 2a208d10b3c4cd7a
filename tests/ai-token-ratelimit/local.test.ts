// ai-token-ratelimit in local mode (shared data across VMs), through the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setup, post, chat, sleep } from "./helpers.ts";

test("reserves prompt + max_tokens, admits only what fits, then charges the real usage", async () => {
  const { host, clock, upstream } = await setup(
    { rule_name: "r", global_threshold: { token_per_minute: 300 } },
    { reply: () => ({ promptTokens: 20, completionTokens: 30 }) });
  // Each request reserves about 10 (prompt estimate) + 100 (max_tokens) and is charged 50 afterwards.
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await post(host, chat("hello there", { max_tokens: 100 }))).status);
  // 4 x 50 = 200 charged; the 5th needs ~110 more, over 300 (charging reservations instead would stop at 2).
  assert.deepEqual(statuses, [200, 200, 200, 200, 429]);
  assert.equal(upstream.received.length, 4);
  // A whole window later everything is free again.
  clock!.advance(64_000);
  assert.equal((await post(host, chat("hello", { max_tokens: 100 }))).status, 200);
  host.close();
});

test("rejection: plain 429 before any upstream byte, OpenAI error body and rate-limit headers", async () => {
  const { host, upstream } = await setup({ rule_name: "r", global_threshold: { token_per_minute: 100 } },
    { reply: () => ({ promptTokens: 60, completionTokens: 30 }) });
  assert.equal((await post(host, chat("hi", { max_tokens: 40 }))).status, 200);
  const r = await post(host, chat("hi again", { max_tokens: 40 }));
  assert.equal(r.status, 429);
  assert.equal(upstream.received.length, 1);
  assert.equal(r.localReply, true);
  assert.equal(r.details, "ai-token-ratelimit.rejected");
  const body = r.json<any>();
  assert.equal(body.error.message, "Too many requests");
  assert.equal(body.error.type, "tokens");
  assert.equal(body.error.code, "rate_limit_exceeded");
  assert.equal(r.headers["x-ratelimit-limit-tokens"], "100");
  assert.equal(r.headers["x-ratelimit-remaining-tokens"], "10");
  assert.ok(Number(r.headers["retry-after"]) >= 1 && Number(r.headers["retry-after"]) <= 63);
  assert.ok(Number(r.headers["x-tokenratelimit-reset"]) >= 60 && Number(r.headers["x-tokenratelimit-reset"]) <= 63);
  assert.match(r.headers["x-ratelimit-reset-tokens"], /^1m[0-3]s$/);
  host.close();
});

test("no 2x burst where the window turns over (sliding window)", async () => {
  const { host, clock } = await setup({ rule_name: "r", global_threshold: { token_per_minute: 1000 } },
    { reply: () => ({ promptTokens: 90, completionTokens: 10 }) });
  // Fill the limit just before a minute boundary, then try again just after it.
  clock!.advance(59_000 - (clock!.nowMs() % 60_000));
  let admitted = 0;
  for (let i = 0; i < 15; i++) if ((await post(host, chat("x", { max_tokens: 10 }))).status === 200) admitted++;
  assert.equal(admitted, 10);
  clock!.advance(2_000);                     // a fixed window would be empty now
  for (let i = 0; i < 15; i++) if ((await post(host, chat("x", { max_tokens: 10 }))).status === 200) admitted++;
  assert.equal(admitted, 10, "nothing more inside the same 60 s");
  clock!.advance(61_000);
  for (let i = 0; i < 15; i++) if ((await post(host, chat("x", { max_tokens: 10 }))).status === 200) admitted++;
  assert.equal(admitted, 20);
  host.close();
});

test("several windows on one key are all enforced; request limits (query_per_*) too", async () => {
  const cfg = {
    rule_name: "multi",
    rule_items: [{ limit_by_header: "x-app", limit_keys: [{ key: "a1", token_per_minute: 10000, token_per_hour: 150, query_per_minute: 100 }] }],
  };
  const { host, clock } = await setup(cfg, { reply: () => ({ promptTokens: 40, completionTokens: 10 }) });
  const send = () => post(host, chat("x", { max_tokens: 10 }), { headers: { "x-app": "a1" } });
  assert.equal((await send()).status, 200);
  assert.equal((await send()).status, 200);
  assert.equal((await send()).status, 200);
  const r = await send();                     // 150/hour spent although 10000/minute is far away
  assert.equal(r.status, 429);
  assert.equal(r.headers["x-ratelimit-limit-tokens"], "150");
  clock!.advance(61_000);
  assert.equal((await send()).status, 429, "the hour window still counts");
  // Request limits: 2 per minute for app b2.
  const cfg2 = { rule_name: "req", rule_items: [{ limit_by_header: "x-app", limit_keys: [{ key: "b2", query_per_minute: 2 }] }], show_limit_quota_header: true };
  const s2 = await setup(cfg2);
  const send2 = () => post(s2.host, chat("x"), { headers: { "x-app": "b2" } });
  const ok = await send2();
  assert.equal(ok.status, 200);
  assert.equal(ok.headers["x-ratelimit-limit"], "2");
  assert.equal(ok.headers["x-ratelimit-remaining"], "1");
  assert.equal((await send2()).status, 200);
  const no = await send2();
  assert.equal(no.status, 429);
  assert.equal(no.json<any>().error.type, "requests");
  assert.equal(no.headers["x-ratelimit-limit-requests"], "2");
  assert.equal(no.headers["x-ratelimit-remaining"], "0");
  assert.ok(no.headers["x-ratelimit-reset"]);
  assert.equal((await post(s2.host, chat("x"), { headers: { "x-app": "other" } })).status, 200, "unmatched keys are not limited");
  host.close(); s2.host.close();
});

test("streams without include_usage: usage is asked for upstream and hidden from the client", async () => {
  const { host, upstream } = await setup({ rule_name: "r", global_threshold: { token_per_minute: 1000 } },
    { reply: () => ({ promptTokens: 300, completionTokens: 200, pieces: ["a", "b", "c"] }) });
  const r = await post(host, chat("hi", { stream: true }));
  assert.equal(r.status, 200);
  // Upstream was asked for usage...
  assert.equal(upstream.received[0].body.stream_options.include_usage, true);
  // ...the client sees no usage chunk and no "usage":null members.
  assert.ok(!r.text.includes("usage"), r.text);
  const events = r.text.split("\n\n").filter((e) => e.length);
  assert.equal(events.length, 6);             // role, 3 pieces, finish, [DONE]
  assert.equal(events[events.length - 1], "data: [DONE]");
  for (const e of events.slice(0, -1)) assert.equal(JSON.parse(e.slice(6)).object, "chat.completion.chunk");
  // The usage the client cannot see reaches the access log (Higress's ai_log filter state).
  assert.deepEqual(JSON.parse(String(r.filterState.get("ai_log"))), { input_token: 300, output_token: 200 });
  // 500 real tokens were charged: a request reserving ~260 no longer fits in 1000.
  assert.equal((await post(host, chat("hi", { stream: true }))).status, 200);
  const rejected = await post(host, chat("hi", { stream: true }));
  assert.equal(rejected.status, 429);
  assert.deepEqual(JSON.parse(String(rejected.filterState.get("ai_log"))), { token_ratelimit_status: "limited" });
  host.close();
});

test("a client that asked for usage gets the usage chunk unchanged", async () => {
  const { host, upstream } = await setup({ rule_name: "r", global_threshold: { token_per_minute: 1000 } },
    { reply: () => ({ promptTokens: 5, completionTokens: 7 }) });
  const r = await post(host, chat("hi", { stream: true, stream_options: { include_usage: true } }));
  assert.equal(upstream.received[0].body.stream_options.include_usage, true);
  assert.match(r.text, /"usage":\{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12\}/);
  assert.match(r.text, /"usage":null/);
  host.close();
});

test("streams from providers that report no usage are counted with the estimator", async () => {
  const long = Array.from({ length: 50 }, (_, i) => `word${i} `);
  const { host } = await setup({ rule_name: "r", global_threshold: { token_per_minute: 400 }, expected_output_tokens: 10 },
    { reply: () => ({ noUsage: true, pieces: long }) });
  const before = host.metric("ai_token_ratelimit.r.charged_tokens") ?? 0;
  assert.equal((await post(host, chat("count me", { stream: true }))).status, 200);
  const charged = (host.metric("ai_token_ratelimit.r.charged_tokens") ?? 0) - before;
  // 50 words of streamed text (~100 tokens) plus the prompt estimate, not the 10 reserved.
  assert.ok(charged >= 80 && charged <= 160, `charged ${charged}`);
  host.close();
});

test("client abort mid-stream: charged for the prompt and what was streamed, reservation released", async () => {
  const pieces = Array.from({ length: 40 }, (_, i) => `token${i} `);
  const { host } = await setup({ rule_name: "r", global_threshold: { token_per_minute: 2000 }, expected_output_tokens: 1500 },
    { manualClock: false, reply: () => ({ promptTokens: 10, completionTokens: 400, pieces, delayMs: 5 }) });
  const s = host.stream({ method: "POST", path: "/v1/chat/completions", authority: "gw", headers: { "content-type": "application/json" } });
  let got = 0;
  s.listen({ data: () => { if (++got === 10) s.abort(); } });
  s.sendHeaders(false);
  s.sendData(Buffer.from(JSON.stringify(chat("abort me", { stream: true }))), true);
  const r = await s.response;
  assert.equal(r.reset, true);
  await sleep(50);
  const charged = host.metric("ai_token_ratelimit.r.charged_tokens") ?? 0;
  assert.ok(charged > 5 && charged < 100, `charged ${charged}`);
  // The 1500-token reservation is gone: another request reserving ~1500 fits again.
  assert.equal((await post(host, chat("next"))).status, 200);
  host.close();
});

test("several VMs share the counters", async () => {
  const { host } = await setup({ rule_name: "r", global_threshold: { query_per_minute: 10 } }, { vms: 4 });
  let ok = 0;
  for (let i = 0; i < 20; i++) if ((await post(host, chat("x"))).status === 200) ok++;
  assert.equal(ok, 10);
  host.close();
});

test("upstream errors charge nothing", async () => {
  const { host } = await setup({ rule_name: "r", global_threshold: { token_per_minute: 300 } }, { reply: () => ({ status: 500 }) });
  for (let i = 0; i < 5; i++) assert.equal((await post(host, chat("x", { max_tokens: 200 }))).status, 500);
  assert.equal(host.metric("ai_token_ratelimit.r.charged_tokens") ?? 0, 0);
  host.close();
});

test("a request larger than the whole limit goes only into an empty window, and the refusal says why", async () => {
  const { host, clock, upstream } = await setup({ rule_name: "r", global_threshold: { token_per_minute: 50 } },
    { reply: () => ({ promptTokens: 5, completionTokens: 5 }) });
  assert.equal((await post(host, chat("hi", { max_tokens: 5 }))).status, 200);     // 10 of 50 used
  const r = await post(host, chat("word ".repeat(200)));
  assert.equal(r.status, 429);
  assert.match(r.json<any>().error.message, /prompt alone is about \d+ tokens, more than the limit of 50/);
  assert.equal(upstream.received.length, 1);
  clock!.advance(64_000);
  assert.equal((await post(host, chat("word ".repeat(200)))).status, 200, "alone in its window it may go");
  host.close();
});

test("metrics count admitted and rejected requests by rule", async () => {
  const { host } = await setup({ rule_name: "m", global_threshold: { query_per_minute: 2 } });
  for (let i = 0; i < 3; i++) await post(host, chat("x"));
  assert.equal(host.metric("ai_token_ratelimit.m.admitted_requests"), 2);
  assert.equal(host.metric("ai_token_ratelimit.m.rejected_requests"), 1);
  host.close();
});

test("usage of other formats is read too: Dify app streams and Anthropic streams", async () => {
  const dify = [
    `data: {"event":"message","answer":"Hi"}\n\n`,
    `data: {"event":"message_end","metadata":{"usage":{"prompt_tokens":300,"completion_tokens":250,"total_tokens":550}}}\n\n`,
  ];
  const anthropic = [
    `event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":400,"output_tokens":1}}}\n\n`,
    `event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}\n\n`,
    `event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":150}}\n\n`,
  ];
  for (const [events, path, expected] of [[dify, "/v1/chat-messages", 550], [anthropic, "/v1/messages", 550]] as const) {
    const { host } = await setup({ rule_name: "fmt", global_threshold: { token_per_minute: 100000 } }, {
      handler: () => ({ status: 200, headers: { "content-type": "text/event-stream" }, body: events as unknown as string[] }),
    });
    const r = await post(host, { query: "hello", inputs: {}, response_mode: "streaming", stream: true, user: "u" }, { path });
    assert.equal(r.status, 200);
    assert.equal(r.text, (events as readonly string[]).join(""), "passed through unchanged");
    assert.equal(host.metric("ai_token_ratelimit.fmt.charged_tokens"), expected);
    host.close();
  }
});

test("a stream that outgrows its reservation is charged while it runs", async () => {
  const pieces = Array.from({ length: 120 }, (_, i) => `token${i} `);
  const { host } = await setup({ rule_name: "grow", global_threshold: { token_per_minute: 600 }, expected_output_tokens: 10 },
    { manualClock: false, reply: (_req, body) => body?.stream ? { noUsage: true, pieces, delayMs: 3 } : { promptTokens: 10, completionTokens: 10 } });
  const s = host.stream({ method: "POST", path: "/v1/chat/completions", authority: "gw", headers: { "content-type": "application/json" } });
  let got = 0;
  let second: Promise<number> | null = null;
  s.listen({ data: () => { if (++got === 100) second = post(host, chat("x", { max_tokens: 480 })).then((r) => r.status); } });
  s.sendHeaders(false);
  s.sendData(Buffer.from(JSON.stringify(chat("long answer please", { stream: true }))), true);
  await s.response;
  // ~100 pieces (about 230 tokens, charged in steps of 64) were held when the second request came:
  // at least ~170 + ~490 > 600. Had only the 20-token reservation been held, it would have fitted.
  assert.equal(await second, 429);
  host.close();
});

test("hostile numbers and bodies neither trap nor unlock the limit", async () => {
  const { host, upstream } = await setup({ rule_name: "r", global_threshold: { token_per_minute: 1000 } });
  for (const body of [
    chat("x", { max_tokens: 1e300, n: 128 }),
    chat("x", { max_tokens: -5 }),
    chat("x", { max_tokens: "lots", stream: "yes" }),
    { messages: "not a list", stream_options: 7, stream: true },
  ]) await post(host, body);
  await host.request({ method: "POST", path: "/v1/chat/completions", authority: "gw", body: "{\"messages\": [ \xff\xfe broken json" });
  assert.equal(host.trapCount(), 0);
  // The absurd max_tokens was cut to the limit (admitted into the then empty window) and its real
  // usage charged; the plugin still limits normally afterwards.
  assert.equal(upstream.received[0].body.n, 128);
  const ok = await post(host, chat("x", { max_tokens: 10 }));
  assert.equal(ok.status, 200);
  assert.equal(host.trapCount(), 0);
  host.close();
});
