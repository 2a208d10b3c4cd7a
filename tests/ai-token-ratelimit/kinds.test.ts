// Every limit_by_* kind, in local mode and in cluster mode against a real redis-server.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { setup, post, chat, RedisServer } from "./helpers.ts";

let redis: RedisServer;
before(async () => { redis = await RedisServer.start(); });
after(async () => { await redis.down(); });

interface Kind {
  name: string;
  item: object;
  /** Request options carrying identity `v`. */
  as: (v: string) => { path?: string; headers?: Record<string, string>; source?: string };
  /** Two identities the rule limits, and one it does not. */
  a: string; b: string; free: string | null;
}

const kinds: Kind[] = [
  { name: "limit_by_header", item: { limit_by_header: "x-ca-key", limit_keys: [{ key: "k1", query_per_minute: 2 }, { key: "k2", query_per_minute: 2 }] },
    as: (v) => ({ headers: { "x-ca-key": v } }), a: "k1", b: "k2", free: "k3" },
  { name: "limit_by_param", item: { limit_by_param: "apikey", limit_keys: [{ key: "p1", query_per_minute: 2 }, { key: 12345, query_per_minute: 2 }] },
    as: (v) => ({ path: `/v1/chat/completions?x=1&apikey=${v}` }), a: "p1", b: "12345", free: "p3" },
  { name: "limit_by_cookie", item: { limit_by_cookie: "key1", limit_keys: [{ key: "value1", query_per_minute: 2 }, { key: "value2", query_per_minute: 2 }] },
    as: (v) => ({ headers: { cookie: `a=b; key1=${v}` } }), a: "value1", b: "value2", free: "value3" },
  { name: "limit_by_consumer", item: { limit_by_consumer: "", limit_keys: [{ key: "consumer1", query_per_minute: 2 }, { key: "consumer2", query_per_minute: 2 }] },
    as: (v) => ({ headers: { "x-mse-consumer": v } }), a: "consumer1", b: "consumer2", free: "consumer3" },
  { name: "limit_by_per_header", item: { limit_by_per_header: "x-ca-key", limit_keys: [{ key: "regexp:^a.*", query_per_minute: 2 }] },
    as: (v) => ({ headers: { "x-ca-key": v } }), a: "a1", b: "a2", free: "b1" },
  { name: "limit_by_per_param", item: { limit_by_per_param: "apikey", limit_keys: [{ key: "*", query_per_minute: 2 }] },
    as: (v) => ({ path: `/v1/chat/completions?apikey=${v}` }), a: "x1", b: "x2", free: null },
  { name: "limit_by_per_cookie", item: { limit_by_per_cookie: "sid", limit_keys: [{ key: "regexp:^s[0-9]+$", query_per_minute: 2 }] },
    as: (v) => ({ headers: { cookie: `sid=${v}` } }), a: "s1", b: "s2", free: "t1" },
  { name: "limit_by_per_consumer", item: { limit_by_per_consumer: "", limit_keys: [{ key: "*", query_per_minute: 2 }] },
    as: (v) => ({ headers: { "x-mse-consumer": v } }), a: "c1", b: "c2", free: null },
  { name: "limit_by_per_ip (header)", item: { limit_by_per_ip: "from-header-x-forwarded-for", limit_keys: [{ key: "10.0.0.0/8", query_per_minute: 2 }] },
    as: (v) => ({ headers: { "x-forwarded-for": `${v}, 192.168.1.1` } }), a: "10.1.2.3", b: "10.9.9.9", free: "11.0.0.1" },
  { name: "limit_by_per_ip (remote addr)", item: { limit_by_per_ip: "from-remote-addr", limit_keys: [{ key: "2001:db8::/32", query_per_minute: 2 }, { key: "1.1.1.1", query_per_minute: 2 }] },
    as: (v) => ({ source: v }), a: "[2001:db8::1]:5000", b: "1.1.1.1:443", free: "8.8.8.8:1000" },
];

for (const mode of ["local", "cluster"] as const) {
  for (const k of kinds) {
    test(`${mode}: ${k.name}`, async () => {
      const config: any = { rule_name: `kinds-${mode}-${k.name}`, rule_items: [k.item] };
      if (mode === "cluster") config.redis = { service_name: "redis.static", timeout: 1000 };
      const { host } = await setup(config, { redisPort: redis.port });
      const send = async (v: string) => (await post(host, chat("x"), k.as(v))).status;
      assert.deepEqual([await send(k.a), await send(k.a), await send(k.a)], [200, 200, 429], "a has 2 per minute");
      assert.deepEqual([await send(k.b), await send(k.b), await send(k.b)], [200, 200, 429], "b has its own 2");
      if (k.free) for (let i = 0; i < 4; i++) assert.equal(await send(k.free), 200, "an identity no key matches is not limited");
      host.close();
    });
  }
}

test("cluster mode keeps its counters in Redis under the rule's hash tag", async () => {
  const { host } = await setup({ rule_name: "tagged", global_threshold: { token_per_minute: 1000 }, redis: { service_name: "redis.static" } },
    { redisPort: redis.port });
  assert.equal((await post(host, chat("x", { max_tokens: 5 }))).status, 200);
  const keys = await redis.command("KEYS", "ai-token-ratelimit:{tagged}:*");
  assert.match(keys, /ai-token-ratelimit:\{tagged\}:global_threshold:token:60/);
  host.close();
});
