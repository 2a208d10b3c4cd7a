// ai-load-balancer in cluster mode: counters and the prefix index in a real redis-server started here,
// shared by gateway replicas (separate Host instances).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Host } from "../../host/index.ts";
import {
  CLUSTER, ROUTE, type RedisServer, startRedis, chat, endpointOf, freePort, lbHost, post, redisConfig, scriptedUpstream, until,
} from "./harness.ts";
import { EPS, filler, scoringScenario } from "./scenario.ts";

const TAG = `{${ROUTE}|${CLUSTER}}`;
const inflightKey = (host: string) => `ai-lb:${TAG}:inflight:${host}`;
const METRIC = (h: Host, name: string) => h.metric(`ai_load_balancer.${name}`) ?? 0;
const lastDecision = (h: Host) => h.logs("ai-load-balancer").map((e) => e.message).filter((m) => m.includes(" by ")).at(-1) ?? "";

let redis: RedisServer;
before(async () => { redis = await startRedis(); });
after(async () => { await redis.down(); });

async function gateway(config: object, up: ReturnType<typeof scriptedUpstream>, eps = EPS): Promise<Host> {
  return lbHost(config, eps, { handler: up.handler, redisPort: redis.port });
}

async function inflightTotal(): Promise<number> {
  let n = 0;
  for (const e of EPS) n += await redis.integer("ZCARD", inflightKey(e));
  return n;
}

describe("prefix_cache (cluster mode)", () => {
  it("the Redis script follows the same documented score as local mode", async () => {
    await redis.command("FLUSHALL");
    const up = scriptedUpstream();
    const host = await gateway({ lb_policy: "prefix_cache", lb_config: redisConfig(redis.port) }, up);
    try {
      const pending = await scoringScenario(host, up);
      assert.equal(await redis.integer("ZCARD", inflightKey(EPS[0])), 4);
      up.release();
      for (const r of await Promise.all(pending)) assert.equal((r as any).status, 200);
      await untilAsync(async () => (await inflightTotal()) === 0, "every request to leave the in-flight sets");
      assert.equal(host.trapCount(), 0);
    } finally { host.close(); }
  });

  it("gateway replicas share the prefix index and the in-flight counts", async () => {
    await redis.command("FLUSHALL");
    const up = scriptedUpstream();
    const cfg = { lb_policy: "prefix_cache", lb_config: redisConfig(redis.port) };
    const gw1 = await gateway(cfg, up);
    const gw2 = await gateway(cfg, up);
    try {
      const turn1 = [{ role: "user", content: filler(21, 2000) }];
      const home = endpointOf(await post(gw1, chat(turn1)));
      const turn2 = [...turn1, { role: "assistant", content: "sure" }, { role: "user", content: "and then?" }];
      assert.equal(endpointOf(await post(gw2, chat(turn2))), home, "the other replica knows where the prefix is");
      assert.match(lastDecision(gw2), /matched_tokens=[1-9]/);
      // Two requests held through gw1 occupy two hosts; a fresh prompt through gw2 takes the third.
      up.hold();
      const held = [post(gw1, chat([{ role: "user", content: "one" }])), post(gw1, chat([{ role: "user", content: "two" }]))];
      await until(() => up.waiting === 2, "two held requests");
      const busy = new Set(up.seen.slice(-2).map((s) => s.endpoint));
      assert.equal(busy.size, 2);
      const third = post(gw2, chat([{ role: "user", content: "three" }]));
      await until(() => up.waiting === 3, "third request");
      assert.ok(!busy.has(up.seen[up.seen.length - 1].endpoint), "gw2 saw gw1's in-flight requests");
      up.release();
      await Promise.all([...held, third]);
    } finally { gw1.close(); gw2.close(); }
  });

  it("takes a request out of the in-flight set when it completes or is aborted, even before Redis answered", async () => {
    await redis.command("FLUSHALL");
    const up = scriptedUpstream();
    const host = await gateway({ lb_policy: "prefix_cache", lb_config: redisConfig(redis.port) }, up);
    try {
      up.hold();
      const s = host.stream({ method: "POST", path: "/v1/chat/completions", authority: "gw", headers: { "content-type": "application/json" } });
      s.sendHeaders(false);
      s.sendData(JSON.stringify(chat([{ role: "user", content: "to be aborted" }])), true);
      await until(() => up.waiting === 1, "request upstream");
      assert.equal(await inflightTotal(), 1);
      s.abort();
      await s.response;
      await untilAsync(async () => (await inflightTotal()) === 0, "release after abort");

      // Redis busy (DEBUG SLEEP) while a pick is on its way: the client leaves before the answer.
      const sleeping = redis.command("DEBUG", "SLEEP", "0.3");
      await new Promise((r) => setTimeout(r, 20));
      const s2 = host.stream({ method: "POST", path: "/v1/chat/completions", authority: "gw", headers: { "content-type": "application/json" } });
      s2.sendHeaders(false);
      s2.sendData(JSON.stringify(chat([{ role: "user", content: "left early" }])), true);
      await new Promise((r) => setTimeout(r, 20));
      s2.abort();
      const r2 = await s2.response;
      assert.equal(r2.upstreamRequest, null, "never went upstream");
      await sleeping;
      await untilAsync(async () => (await inflightTotal()) === 0, "release of a pick that was still pending");
      up.release();
    } finally { host.close(); }
  });

  it("expires prefix entries after redisKeyTTL and bounds the index at maxEntries", async () => {
    await redis.command("FLUSHALL");
    const up = scriptedUpstream();
    const host = await gateway({ lb_policy: "prefix_cache", lb_config: redisConfig(redis.port, { redisKeyTTL: 1, maxEntries: 16, blockSize: 64 }) }, up);
    try {
      const turn1 = [{ role: "user", content: filler(31, 3000) }];   // 46 blocks of 64 bytes
      await post(host, chat(turn1));
      const keys = await redis.keys(`ai-lb:${TAG}:p:*`);
      assert.equal(keys.length, 16, "only the 16 most recent blocks are kept");
      assert.equal(await redis.integer("ZCARD", `ai-lb:${TAG}:lru`), 16);
      const ttl = await redis.integer("PTTL", keys[0]);
      assert.ok(ttl > 0 && ttl <= 1000, `block keys expire (${ttl} ms)`);
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await redis.keys(`ai-lb:${TAG}:p:*`)).length, 0, "gone after the TTL");
      await post(host, chat([...turn1, { role: "user", content: "more" }]));
      assert.match(lastDecision(host), /matched_tokens=0\//);
    } finally { host.close(); }
  });

  it("decides from its own counts when Redis cannot be reached", async () => {
    const up = scriptedUpstream();
    const dead = await freePort();
    const host = await lbHost({ lb_policy: "prefix_cache", lb_config: redisConfig(dead, { timeout: 200 }) }, EPS, { handler: up.handler, redisPort: dead });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await post(host, chat([{ role: "user", content: `q${i}` }]))).status, 200);
      assert.ok(METRIC(host, "store_errors") >= 3);
      assert.equal(host.trapCount(), 0);
    } finally { host.close(); }
  });
});

describe("global_least_request (cluster mode)", () => {
  it("counts across replicas, refuses past maxRequestCount with Higress's 429, and releases on abort", async () => {
    await redis.command("FLUSHALL");
    const up = scriptedUpstream();
    const cfg = { lb_policy: "global_least_request", lb_config: redisConfig(redis.port, { maxRequestCount: 1 }) };
    const gw1 = await gateway(cfg, up, [EPS[0]]);
    const gw2 = await gateway(cfg, up, [EPS[0]]);
    try {
      up.hold();
      const s = gw1.stream({ method: "POST", path: "/v1/chat/completions", authority: "gw", headers: { "content-type": "application/json" } });
      s.sendHeaders(false);
      s.sendData(JSON.stringify(chat([{ role: "user", content: "long" }])), true);
      await until(() => up.waiting === 1, "first request upstream");
      const refused = await post(gw2, chat([{ role: "user", content: "second" }]));
      assert.equal(refused.status, 429);
      assert.match(refused.text, /Exceeded maximum request limit from ai-load-balancer/);
      s.abort();
      await s.response;
      await untilAsync(async () => (await redis.integer("ZCARD", inflightKey(EPS[0]))) === 0, "release after abort");
      up.release();
      assert.equal((await post(gw2, chat([{ role: "user", content: "third" }]))).status, 200);
    } finally { gw1.close(); gw2.close(); }
  });
});

describe("higress_prefix_cache (the baseline)", () => {
  it("piles a hot prefix onto one host whatever its load; ours spreads it", async () => {
    const prefix = [{ role: "system", content: "Answer briefly." }, { role: "user", content: "Document: " + filler(41, 3000) },
      { role: "assistant", content: "Read it." }];
    const counts = async (policy: string) => {
      await redis.command("FLUSHALL");
      const up = scriptedUpstream();
      const host = await gateway({ lb_policy: policy, lb_config: redisConfig(redis.port) }, up);
      try {
        up.hold();
        const rs = [];
        for (let i = 0; i < 9; i++) {
          rs.push(post(host, chat([...prefix, { role: "user", content: `question ${i}` }])));
          await until(() => up.waiting === i + 1, "request upstream");
        }
        const per = EPS.map((e) => up.seen.filter((s) => s.endpoint === e).length);
        up.release();
        await Promise.all(rs);
        return per;
      } finally { host.close(); }
    };
    const higress = await counts("higress_prefix_cache");
    assert.equal(Math.max(...higress), 9, `Higress sends all nine to the prefix's host: ${higress}`);
    const ours = await counts("prefix_cache");
    assert.ok(Math.max(...ours) <= 5 && ours.filter((n) => n > 0).length >= 2, `ours spreads the hot prefix: ${ours}`);
  });

  it("reproduces the XOR keys' false match and gives its counts back", async () => {
    await redis.command("FLUSHALL");
    const up = scriptedUpstream();
    const host = await gateway({ lb_policy: "higress_prefix_cache", lb_config: redisConfig(redis.port) }, up);
    try {
      const X = { role: "user", content: "X " + filler(51, 400) };
      const Y = { role: "user", content: "Y " + filler(52, 400) };
      await post(host, chat([Y]));
      const xy = endpointOf(await post(host, chat([X, Y])));
      // [Y, X, Z] was never seen, but its second key XOR(Y, X) equals [X, Y]'s: Higress follows it.
      assert.equal(endpointOf(await post(host, chat([Y, X, { role: "user", content: "Z" }]))), xy);
      assert.equal((await redis.keys("ai-lb:*")).length, 0, "the baseline keeps Higress's own key layout");
      const table = `higress:global_least_request_table:${ROUTE}:${CLUSTER}`;
      await untilAsync(async () => (await redis.array("HVALS", table)).every((v) => v === "0"), "counts back to zero");
      assert.equal((await redis.array("HVALS", table)).length >= 1, true);
    } finally { host.close(); }
  });
});

async function untilAsync(cond: () => Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
