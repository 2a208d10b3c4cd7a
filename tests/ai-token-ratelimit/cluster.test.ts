// Cluster mode: Redis scripts shared by several gateway instances, and Redis trouble.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { setup, post, chat, sleep, RedisServer, SlowProxy } from "./helpers.ts";

let redis: RedisServer;
before(async () => { redis = await RedisServer.start(); });
after(async () => { await redis.down(); });

const redisCfg = (extra: object = {}) => ({ service_name: "redis.static", timeout: 300, ...extra });

test("two gateway instances share one budget; streaming and non-streaming are reconciled", async () => {
  const cfg = { rule_name: "shared", global_threshold: { token_per_minute: 1000 }, redis: redisCfg() };
  const reply = () => ({ promptTokens: 150, completionTokens: 100 });
  const a = await setup(cfg, { redisPort: redis.port, reply });
  const b = await setup(cfg, { redisPort: redis.port, reply });
  const results: number[] = [];
  // Each request reserves ~10 + 100 and is charged 250: four fit into 1000, then a reservation no longer does.
  results.push((await post(a.host, chat("x", { max_tokens: 100 }))).status);
  results.push((await post(b.host, chat("x", { max_tokens: 100, stream: true }))).status);
  await sleep(30);   // reconciliation is fire-and-forget
  results.push((await post(a.host, chat("x", { max_tokens: 100, stream: true }))).status);
  results.push((await post(b.host, chat("x", { max_tokens: 100 }))).status);
  await sleep(30);
  results.push((await post(a.host, chat("x", { max_tokens: 100 }))).status);
  assert.deepEqual(results, [200, 200, 200, 200, 429]);
  const s = await post(b.host, chat("x", { stream: true }));
  assert.equal(s.status, 429);
  assert.ok(!b.upstream.received.some((r) => r.body?.stream && !r.body.stream_options?.include_usage));
  a.host.close(); b.host.close();
});

test("the script is re-sent after Redis forgot it (NOSCRIPT)", async () => {
  const { host } = await setup({ rule_name: "noscript", global_threshold: { query_per_minute: 2 }, redis: redisCfg() }, { redisPort: redis.port });
  assert.equal((await post(host, chat("x"))).status, 200);
  await redis.command("SCRIPT", "FLUSH");
  assert.equal((await post(host, chat("x"))).status, 200);
  assert.equal((await post(host, chat("x"))).status, 429, "the counter survived; the limit still holds");
  host.close();
});

test("redis with a password and a database", async () => {
  const secured = await RedisServer.start(["--requirepass", "s3cret"]);
  try {
    const { host } = await setup({ rule_name: "auth", global_threshold: { query_per_minute: 1 },
      redis: redisCfg({ password: "s3cret", database: 3 }) }, { redisPort: secured.port });
    assert.equal((await post(host, chat("x"))).status, 200);
    assert.equal((await post(host, chat("x"))).status, 429, "without AUTH the store would fail open and admit");
    host.close();
  } finally { await secured.down(); }
});

test("redis down: fail open by default, fail closed when configured", async () => {
  const dead = await RedisServer.start();
  await dead.down();
  const open = await setup({ rule_name: "down", global_threshold: { query_per_minute: 1 }, redis: redisCfg() }, { redisPort: dead.port, manualClock: false });
  for (let i = 0; i < 3; i++) assert.equal((await post(open.host, chat("x"))).status, 200);
  assert.equal(open.host.metric("ai_token_ratelimit.down.store_failures"), 3);
  open.host.close();
  const closed = await setup({ rule_name: "down2", global_threshold: { query_per_minute: 1 }, redis: redisCfg(), failure_policy: "closed" },
    { redisPort: dead.port, manualClock: false });
  const r = await post(closed.host, chat("x"));
  assert.equal(r.status, 503);
  assert.equal(r.json<any>().error.code, "ratelimit_unavailable");
  assert.equal(closed.upstream.received.length, 0);
  closed.host.close();
});

test("slow redis: the timeout applies the failure policy instead of stalling requests", async () => {
  const proxy = new SlowProxy(redis.port);
  const port = await proxy.listen();
  try {
    const { host, upstream } = await setup({ rule_name: "slow", global_threshold: { token_per_minute: 100000 }, redis: redisCfg({ timeout: 200 }) },
      { redisPort: port, manualClock: false });
    assert.equal((await post(host, chat("x"))).status, 200);               // fast path works through the proxy
    proxy.delayMs = 1500;
    const t0 = Date.now();
    const r = await post(host, chat("x", { stream: true }));
    const took = Date.now() - t0;
    assert.equal(r.status, 200);
    assert.ok(took < 1200, `waited ${took} ms`);
    assert.equal(upstream.received.length, 2);
    assert.ok((host.metric("ai_token_ratelimit.slow.store_failures") ?? 0) >= 1);
    host.close();
  } finally { proxy.close(); }
});

test("client abort mid-stream in cluster mode: the reservation is replaced by what was streamed", async () => {
  const pieces = Array.from({ length: 40 }, (_, i) => `token${i} `);
  const { host } = await setup({ rule_name: "abort", global_threshold: { token_per_minute: 2000 }, expected_output_tokens: 1500, redis: redisCfg() },
    { redisPort: redis.port, manualClock: false, reply: () => ({ promptTokens: 10, completionTokens: 400, pieces, delayMs: 5 }) });
  const s = host.stream({ method: "POST", path: "/v1/chat/completions", authority: "gw", headers: { "content-type": "application/json" } });
  let got = 0;
  s.listen({ data: () => { if (++got === 10) s.abort(); } });
  s.sendHeaders(false);
  s.sendData(Buffer.from(JSON.stringify(chat("abort me", { stream: true }))), true);
  assert.equal((await s.response).reset, true);
  await sleep(50);
  const charged = host.metric("ai_token_ratelimit.abort.charged_tokens") ?? 0;
  assert.ok(charged > 5 && charged < 100, `charged ${charged}`);
  const held = await redis.command("HVALS", "ai-token-ratelimit:{abort}:global_threshold:token:60");
  assert.match(held, new RegExp(`\\$\\d+\\r\\n${charged}\\r\\n`), `redis holds ${JSON.stringify(held)}`);
  assert.equal((await post(host, chat("next"))).status, 200, "another ~1500-token reservation fits again");
  host.close();
});
