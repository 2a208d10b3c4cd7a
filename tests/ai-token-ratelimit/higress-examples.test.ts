// The configuration examples of Higress's ai-token-ratelimit and cluster-key-rate-limit READMEs
// (README_EN.md, alibaba/higress plugins/wasm-go/extensions/*), pasted as YAML and loaded unchanged
// (a tab in the x-ca-key example's indentation replaced by spaces), behave as the READMEs describe.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { setup, post, chat, RedisServer } from "./helpers.ts";

let redis: RedisServer;
before(async () => { redis = await RedisServer.start(); });
after(async () => { await redis.down(); });

const load = (yaml: string) => parse(yaml);
const usage46 = () => ({ promptTokens: 13, completionTokens: 33 });   // the README's sample response

test("ai-token-ratelimit: apikey param (exact keys, regexp and * per key)", async () => {
  const { host } = await setup(load(`
rule_name: default_rule
rule_items:
  - limit_by_param: apikey
    limit_keys:
      - key: 9a342114-ba8a-11ec-b1bf-00163e1250b5
        token_per_minute: 10
      - key: a6a6d7f2-ba8a-11ec-bec2-00163e1250b5
        token_per_hour: 100
  - limit_by_per_param: apikey
    limit_keys:
      # Regular expression, matches all strings starting with a, each apikey corresponds to 10 qds
      - key: "regexp:^a.*"
        token_per_second: 10
      # Regular expression, matches all strings starting with b, each apikey corresponds to 100 qd
      - key: "regexp:^b.*"
        token_per_minute: 100
      # Fallback, matches all requests, each apikey corresponds to 1000 qdh
      - key: "*"
        token_per_hour: 1000
redis:
  service_name: redis.static
`), { redisPort: redis.port, reply: usage46 });
  const send = async (key: string) => (await post(host, chat("你好，你是谁？"), { path: `/v1/chat/completions?apikey=${key}` })).status;
  // 10 tokens per minute: one request (46 tokens) uses it up.
  assert.deepEqual([await send("9a342114-ba8a-11ec-b1bf-00163e1250b5"), await send("9a342114-ba8a-11ec-b1bf-00163e1250b5")], [200, 429]);
  // Keys starting with "a": 10 tokens per second each; "a1" and "a2" are counted apart.
  assert.deepEqual([await send("a1"), await send("a1"), await send("a2")], [200, 429, 200]);
  // Anything else: 1000 tokens per hour per key.
  for (let i = 0; i < 5; i++) assert.equal(await send("zzz"), 200);
  host.close();
});

test("ai-token-ratelimit: limit_type request counts requests", async () => {
  const { host } = await setup(load(`
rule_name: default_rule
rule_items:
  - limit_by_param: apikey
    limit_keys:
      - key: 9a342114-ba8a-11ec-b1bf-00163e1250b5
        token_per_minute: 10
        limit_type: request
redis:
  service_name: redis.static
`), { redisPort: redis.port, reply: () => ({ promptTokens: 500, completionTokens: 500 }) });
  const statuses = [];
  for (let i = 0; i < 11; i++) statuses.push((await post(host, chat("x"), { path: "/v1/chat/completions?apikey=9a342114-ba8a-11ec-b1bf-00163e1250b5" })).status);
  assert.deepEqual(statuses, [...Array(10).fill(200), 429]);
  host.close();
});

test("ai-token-ratelimit: x-ca-key header with numeric keys", async () => {
  const { host } = await setup(load(`
rule_name: default_rule
rule_items:
  - limit_by_header: x-ca-key
    limit_keys:
      - key: 102234
        token_per_minute: 10
      - key: 308239
        token_per_hour: 10
  - limit_by_per_header: x-ca-key
    limit_keys:
      - key: "regexp:^a.*"
        token_per_second: 10
      - key: "regexp:^b.*"
        token_per_minute: 100
      - key: "*"
        token_per_hour: 1000
redis:
  service_name: redis.static
`), { redisPort: redis.port, reply: usage46 });
  const send = async (k: string) => (await post(host, chat("x"), { headers: { "x-ca-key": k } })).status;
  assert.deepEqual([await send("102234"), await send("102234"), await send("308239"), await send("308239")], [200, 429, 200, 429]);
  host.close();
});

test("ai-token-ratelimit: client IP from x-forwarded-for (exact IP, CIDR, fallback)", async () => {
  const { host } = await setup(load(`
rule_name: default_rule
rule_items:
  - limit_by_per_ip: from-header-x-forwarded-for
    limit_keys:
      # Exact IP
      - key: 1.1.1.1
        token_per_day: 10
      # IP segment, matching IPs in this segment, each IP 100 qpd
      - key: 1.1.1.0/24
        token_per_day: 100
      # Fallback, i.e., default each IP 1000 qpd
      - key: 0.0.0.0/0
        token_per_day: 1000
redis:
  service_name: redis.static
`), { redisPort: redis.port, reply: usage46 });
  // Each request reserves its prompt (~10) + max_tokens 20 and is charged 46.
  const send = async (ip: string) => (await post(host, chat("x", { max_tokens: 20 }), { headers: { "x-forwarded-for": ip } })).status;
  assert.deepEqual([await send("1.1.1.1"), await send("1.1.1.1")], [200, 429]);            // 10 per day
  assert.deepEqual([await send("1.1.1.2"), await send("1.1.1.2"), await send("1.1.1.2")], [200, 200, 429]); // 100: 46 + 46 + ~30 > 100
  for (let i = 0; i < 5; i++) assert.equal(await send("8.8.8.8"), 200);                      // 1000
  host.close();
});

test("ai-token-ratelimit: cookie with a custom rejection (rejected_code 200, JSON body)", async () => {
  const { host } = await setup(load(`
rule_name: default_rule
rule_items:
  - limit_by_cookie: key1
    limit_keys:
      - key: value1
        token_per_minute: 10
      - key: value2
        token_per_hour: 100
rejected_code: 200
rejected_msg: '{"code":-1,"msg":"Too many requests"}'
redis:
  service_name: redis.static
`), { redisPort: redis.port, reply: usage46 });
  assert.equal((await post(host, chat("x"), { headers: { cookie: "key1=value1" } })).status, 200);
  const r = await post(host, chat("x"), { headers: { cookie: "key1=value1" } });
  assert.equal(r.status, 200);
  assert.equal(r.text, '{"code":-1,"msg":"Too many requests"}');
  assert.equal(r.localReply, true);
  host.close();
});

test("ai-token-ratelimit: the complete example (redis.dns:6379, 200 tokens per minute for apikey 123456)", async () => {
  const wasmPlugin = load(`
apiVersion: extensions.higress.io/v1alpha1
kind: WasmPlugin
metadata:
  name: ai-token-ratelimit
  namespace: higress-system
spec:
  defaultConfig:
    rule_name: default_limit_by_param_apikey
    rule_items:
    - limit_by_param: apikey
      limit_keys:
      - key: 123456
        token_per_minute: 200
    redis:
      service_name: redis.dns
      service_port: 6379
  phase: UNSPECIFIED_PHASE
  priority: 600
`);
  const { host } = await setup(wasmPlugin.spec.defaultConfig, { redisPort: redis.port, reply: usage46 });
  const body = { model: "gpt-3", messages: [{ role: "user", content: "你好，你是谁？" }], stream: false };
  const first = await post(host, body, { path: "/v1/chat/completions?apikey=123456" });
  assert.equal(first.status, 200);
  assert.equal(first.json<any>().usage.total_tokens, 46);
  const second = await post(host, body, { path: "/v1/chat/completions?apikey=123456" });
  assert.equal(second.status, 429);
  assert.equal(second.json<any>().error.message, "Too many requests");   // "Too many requests  # 限流成功"
  host.close();
});

test("cluster-key-rate-limit: global route limit with quota headers", async () => {
  const { host } = await setup(load(`
rule_name: routeA-global-limit-rule
global_threshold:
  query_per_minute: 1000 # Maximum 1000 requests per minute for the entire route
redis:
  service_name: redis.static
show_limit_quota_header: true
`), { redisPort: redis.port });
  const r = await post(host, chat("x"));
  assert.equal(r.status, 200);
  assert.equal(r.headers["x-ratelimit-limit"], "1000");
  assert.equal(r.headers["x-ratelimit-remaining"], "999");
  host.close();
});

test("cluster-key-rate-limit: client IP limits per day", async () => {
  const { host } = await setup(load(`
rule_name: routeA-client-ip-limit-rule
rule_items:
- limit_by_per_ip: from-header-x-forwarded-for
  limit_keys:
  # Exact IP match
  - key: 1.1.1.1
    query_per_day: 10
  # CIDR block match; 100 requests per day for each IP in the block
  - key: 1.1.1.0/24
    query_per_day: 100
  # Fallback rule for all IPs; 1000 requests per day for each IP
  - key: 0.0.0.0/0
    query_per_day: 1000
redis:
  service_name: redis.static
show_limit_quota_header: true
`), { redisPort: redis.port });
  const statuses = [];
  for (let i = 0; i < 11; i++) statuses.push((await post(host, chat("x"), { headers: { "x-forwarded-for": "1.1.1.1" } })).status);
  assert.deepEqual(statuses, [...Array(10).fill(200), 429]);
  const r = await post(host, chat("x"), { headers: { "x-forwarded-for": "1.1.1.7" } });
  assert.equal(r.headers["x-ratelimit-limit"], "100");
  assert.equal(r.headers["x-ratelimit-remaining"], "99");
  host.close();
});

test("cluster-key-rate-limit: per-route and per-domain rules (_rules_)", async () => {
  const config = load(`
_rules_:
  - _match_route_:
      - route-a
      - route-b
    rule_name: route-a_and_route-b_limit_rule
    rule_items:
      - limit_by_param: apikey
        limit_keys:
          - key: 9a342114-ba8a-11ec-b1bf-00163e1250b5
            query_per_minute: 10
    redis:
      service_name: redis.static
    show_limit_quota_header: true
  - _match_domain_:
      - "*.example.com"
      - test.com
    rule_name: "*.example.com_and_test.com_limit_rule"
    rule_items:
      - limit_by_header: x-ca-key
        limit_keys:
          - key: 102234
            query_per_minute: 1
    redis:
      service_name: redis.static
    show_limit_quota_header: true
`);
  const { host } = await setup(config, { redisPort: redis.port });
  // The helper's route is "chat": neither rule matches it by route; the domain rule matches by host.
  const byDomain = (h: string) => host.request({ method: "POST", path: "/v1/chat/completions", authority: h, headers: { "x-ca-key": "102234" }, body: chat("x") });
  assert.equal((await byDomain("api.example.com")).status, 200);
  assert.equal((await byDomain("api.example.com")).status, 429);
  assert.equal((await byDomain("other.org")).status, 200, "no rule matches: no limit");
  assert.equal((await byDomain("other.org")).status, 200);
  host.close();
});
