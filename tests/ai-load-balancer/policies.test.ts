// ai-load-balancer in local mode (shared data), in the host, in front of an in-process upstream that
// answers for every endpoint and records which one each request reached.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { ManualClock, type Host } from "../../host/index.ts";
import { CLUSTER, chat, endpointOf, lbHost, post, scriptedUpstream, until } from "./harness.ts";
import { EPS, filler, scoringScenario } from "./scenario.ts";

const [A, B, C] = EPS;
const METRIC = (h: Host, name: string) => h.metric(`ai_load_balancer.${name}`) ?? 0;
const decisions = (h: Host) => h.logs("ai-load-balancer").map((e) => e.message).filter((m) => m.includes(" by "));
const lastDecision = (h: Host) => decisions(h).at(-1) ?? "";

/** A multi-turn conversation: turn n's messages. */
function conversation(seed: number, turns: number, bytes = 700) {
  const m: Array<{ role: string; content: string }> = [];
  for (let t = 0; t < turns; t++) {
    if (t > 0) m.push({ role: "assistant", content: `answer ${t} ` + filler(seed * 100 + t + 50, bytes) });
    m.push({ role: "user", content: `question ${t} ` + filler(seed * 100 + t, bytes) });
  }
  return m;
}

describe("prefix_cache (local mode)", () => {
  it("follows the documented score: prefix vs load, and the hot-spot guard", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "prefix_cache" }, EPS, { handler: up.handler });
    try {
      const pending = await scoringScenario(host, up);
      up.release();
      for (const r of await Promise.all(pending)) assert.equal((r as any).status, 200);
      assert.equal(METRIC(host, "load_diversions"), 2, "probes 2 and 5 passed over a longer cached prefix because of load");
      assert.equal(host.trapCount(), 0);
    } finally { host.close(); }
  });

  it("keeps every turn of a conversation on the host that served its first turn", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "prefix_cache" }, EPS, { handler: up.handler });
    try {
      up.hold();
      const homes = new Map<number, string>();
      // Three conversations in flight at once, five turns each, turns interleaved across conversations.
      for (let t = 1; t <= 5; t++) {
        const batch = [];
        for (let s = 0; s < 3; s++) batch.push(post(host, chat(conversation(s, t))));
        await until(() => up.waiting === 3, "three requests upstream");
        up.release();
        const rs = await Promise.all(batch);
        up.hold();
        rs.forEach((r, s) => {
          assert.equal(r.status, 200);
          if (t === 1) homes.set(s, endpointOf(r));
          else assert.equal(endpointOf(r), homes.get(s), `conversation ${s} turn ${t}`);
        });
      }
      assert.equal(new Set(homes.values()).size, 3, "concurrent first turns spread over the hosts");
      assert.ok(decisions(host).slice(-3).every((d) => /matched_tokens=[1-9]/.test(d)));
      up.release();
    } finally { host.close(); }
  });

  it("is order-sensitive and scoped by model and route", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "prefix_cache" }, EPS, { handler: up.handler });
    try {
      const a = { role: "user", content: filler(7, 1500) };
      const b = { role: "user", content: filler(8, 1500) };
      assert.equal((await post(host, chat([a, b]))).status, 200);
      await post(host, chat([a, b, { role: "user", content: "again" }]));
      assert.match(lastDecision(host), /matched_tokens=[1-9]\d*\//, "same order: matches");
      await post(host, chat([b, a, { role: "user", content: "again" }]));
      assert.match(lastDecision(host), /matched_tokens=0\//, "swapped order: no match (Higress's XOR keys would collide)");
      await post(host, chat([a, b, { role: "user", content: "again" }], { model: "another-model" }));
      assert.match(lastDecision(host), /matched_tokens=0\//, "another model: no match");
    } finally { host.close(); }
    // Another route on the same cluster has its own scope.
    const host2 = await lbHost({ lb_policy: "prefix_cache" }, EPS, { handler: up.handler, routesFirst: [{ name: "other-route", match: { prefix: "/other" }, cluster: CLUSTER }] });
    try {
      const msgs = [{ role: "user", content: filler(9, 1500) }];
      await post(host2, chat(msgs));
      await post(host2, chat([...msgs, { role: "user", content: "x" }]));
      assert.match(lastDecision(host2), /route llm-route: .* matched_tokens=[1-9]/);
      await host2.request({ method: "POST", path: "/other/v1/chat/completions", authority: "gw", body: chat([...msgs, { role: "user", content: "x" }]) });
      assert.match(lastDecision(host2), /route other-route: .* matched_tokens=0\//);
    } finally { host2.close(); }
  });

  it("skips unhealthy hosts and moves a conversation whose host went down", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "prefix_cache" }, EPS, { handler: up.handler });
    try {
      const first = endpointOf(await post(host, chat(conversation(1, 1))));
      host.setEndpointHealth(CLUSTER, first, false);
      for (let t = 2; t <= 4; t++) {
        const r = await post(host, chat(conversation(1, t)));
        assert.equal(r.status, 200);
        assert.notEqual(endpointOf(r), first);
      }
      for (const e of EPS) host.setEndpointHealth(CLUSTER, e, false);
      const none = await post(host, chat(conversation(1, 5)));
      assert.equal(none.status, 503, "no healthy endpoint: the cluster answers");
      assert.equal(METRIC(host, "no_healthy_host"), 1);
      assert.equal(host.trapCount(), 0);
    } finally { host.close(); }
  });

  it("forgets prefixes older than redisKeyTTL", async () => {
    const clock = new ManualClock();
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "prefix_cache", lb_config: { redisKeyTTL: 60 } }, EPS, { handler: up.handler, clock });
    try {
      await post(host, chat(conversation(2, 1)));
      clock.advance(59_000);
      await post(host, chat(conversation(2, 2)));
      assert.match(lastDecision(host), /matched_tokens=[1-9]/);
      clock.advance(61_000);
      await post(host, chat(conversation(2, 3)));
      assert.match(lastDecision(host), /matched_tokens=0\//);
    } finally { host.close(); }
  });

  it("reads bodies that arrive in several chunks, or with trailers, before deciding", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "prefix_cache" }, EPS, { handler: up.handler });
    try {
      const first = endpointOf(await post(host, chat(conversation(3, 2))));
      const body = JSON.stringify(chat(conversation(3, 3)));
      const third = Math.floor(body.length / 3);
      const r = await host.request({ method: "POST", path: "/v1/chat/completions", authority: "gw",
        headers: { "content-type": "application/json" }, chunks: [body.slice(0, third), body.slice(third, 2 * third), body.slice(2 * third)] });
      assert.equal(endpointOf(r), first);
      assert.equal(r.upstreamRequest?.body.toString(), body, "the body goes upstream unchanged");
      // A body followed by trailers: decided on the trailers, with the whole body.
      const t = await host.request({ method: "POST", path: "/v1/chat/completions", authority: "gw",
        headers: { "content-type": "application/json" }, body: JSON.stringify(chat(conversation(3, 4))), trailers: { "x-checksum": "1" } });
      assert.equal(endpointOf(t), first);
      assert.match(lastDecision(host), /matched_tokens=[1-9]/);
    } finally { host.close(); }
  });

  it("falls back to least request on malformed bodies, never trapping", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "prefix_cache" }, EPS, { handler: up.handler });
    try {
      const bodies: Array<string | Uint8Array> = [
        "{not json", "[1,2,3]", "", "null", '{"messages":"text"}', '{"messages":[]}', '{"messages":[42]}',
        '{"messages":[{"content":"no role"}]}', '{"messages":[{"role":{"x":1},"content":"x"}]}',
        '{"model":7,"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}',
        "[".repeat(100000), '{"messages":[{"role":"user","content":"' + "\\ud800".repeat(50) + '"}]}',
        new Uint8Array([0xff, 0xfe, 0x00, 0x7b, 0x80]), '{"prompt":' + "9".repeat(400) + "}",
      ];
      up.hold();
      const rs = bodies.map((b) => host.request({ method: "POST", path: "/v1/chat/completions", authority: "gw", headers: { "content-type": "application/json" }, body: b }));
      await until(() => up.waiting === bodies.length, "all requests upstream");
      up.release();
      for (const r of await Promise.all(rs)) assert.equal(r.status, 200);
      // Least request with everything in flight at once: the hosts share the work evenly.
      const per = EPS.map((e) => up.seen.filter((s) => s.endpoint === e).length);
      assert.ok(Math.max(...per) - Math.min(...per) <= 1, `even spread ${per}`);
      assert.ok(METRIC(host, "fallbacks") >= 10, `fallbacks counted: ${METRIC(host, "fallbacks")}`);
      assert.equal(host.trapCount(), 0);
    } finally { host.close(); }
  });

  it("a request without a body is balanced in the headers phase", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "prefix_cache" }, EPS, { handler: up.handler });
    try {
      const r = await host.request({ method: "GET", path: "/v1/models", authority: "gw" });
      assert.equal(r.status, 200);
      assert.ok(EPS.includes(endpointOf(r)));
      assert.equal(METRIC(host, "decisions"), 1);
    } finally { host.close(); }
  });
});

describe("global_least_request (local mode)", () => {
  it("sends each request to the host with the fewest in flight, across VMs", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "global_least_request" }, EPS, { handler: up.handler, vms: 2 });
    try {
      up.hold();
      const rs = [];
      for (let i = 0; i < 6; i++) {
        rs.push(post(host, chat([{ role: "user", content: `q${i}` }])));
        await until(() => up.waiting === i + 1, "request upstream");
      }
      assert.deepEqual(EPS.map((e) => up.seen.filter((s) => s.endpoint === e).length), [2, 2, 2]);
      up.release();
      await Promise.all(rs);
    } finally { host.close(); }
  });

  it("gives the count back when a stream ends, completed or aborted", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "global_least_request", lb_config: { maxRequestCount: 1 } }, [A], { handler: up.handler });
    try {
      up.hold();
      const s = host.stream({ method: "POST", path: "/v1/chat/completions", authority: "gw", headers: { "content-type": "application/json" } });
      s.sendHeaders(false);
      s.sendData(JSON.stringify(chat([{ role: "user", content: "long" }])), true);
      await until(() => up.waiting === 1, "first request upstream");
      const refused = await post(host, chat([{ role: "user", content: "second" }]));
      assert.equal(refused.status, 429);
      assert.match(refused.text, /Exceeded maximum request limit from ai-load-balancer/);
      assert.equal(METRIC(host, "rejected"), 1);
      s.abort();                                   // the client goes away mid-request
      await s.response;
      up.release();
      const ok = await post(host, chat([{ role: "user", content: "third" }]));
      assert.equal(ok.status, 200, "the aborted request no longer counts");
      const again = await post(host, chat([{ role: "user", content: "fourth" }]));
      assert.equal(again.status, 200, "nor does the completed one");
    } finally { host.close(); }
  });
});

describe("round_robin", () => {
  it("cycles over the healthy hosts, weighted smoothly", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "round_robin", lb_config: { weights: { [A]: 3, [B]: 1, [C]: 0 } } }, EPS, { handler: up.handler, vms: 2 });
    try {
      const got: string[] = [];
      for (let i = 0; i < 8; i++) got.push(endpointOf(await post(host, chat([{ role: "user", content: `q${i}` }]))));
      assert.deepEqual(got, [A, A, B, A, A, A, B, A]);
    } finally { host.close(); }
    const host2 = await lbHost({ lb_policy: "round_robin" }, EPS, { handler: up.handler });
    try {
      host2.setEndpointHealth(CLUSTER, B, false);
      const got: string[] = [];
      for (let i = 0; i < 4; i++) got.push(endpointOf(await post(host2, chat([{ role: "user", content: `q${i}` }]))));
      assert.deepEqual(got.sort(), [A, A, C, C]);
    } finally { host2.close(); }
  });
});

describe("consistent_hash", () => {
  it("pins a session header to a host and moves only the sessions of a host that goes away", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "consistent_hash", lb_config: { hash_header: "X-Session-Id" } }, EPS, { handler: up.handler });
    try {
      const pinned = new Map<string, string>();
      for (let i = 0; i < 60; i++) {
        const id = `session-${i}`;
        const r1 = await post(host, chat([{ role: "user", content: "a" }]), { "x-session-id": id });
        const r2 = await post(host, chat([{ role: "user", content: "b" }]), { "x-session-id": id });
        assert.equal(endpointOf(r1), endpointOf(r2));
        pinned.set(id, endpointOf(r1));
      }
      const per = EPS.map((e) => [...pinned.values()].filter((v) => v === e).length);
      assert.ok(per.every((n) => n >= 10), `sessions spread over the hosts: ${per}`);
      host.setEndpointHealth(CLUSTER, B, false);
      for (const [id, was] of pinned) {
        const now = endpointOf(await post(host, chat([{ role: "user", content: "c" }]), { "x-session-id": id }));
        if (was !== B) assert.equal(now, was, `${id} stays`);
        else assert.notEqual(now, B);
      }
      const noHeader = await post(host, chat([{ role: "user", content: "d" }]));
      assert.equal(noHeader.status, 200);
      assert.equal(METRIC(host, "fallbacks"), 1, "no header: least request");
    } finally { host.close(); }
  });
});

describe("endpoint_metrics", () => {
  const prom = (waiting: number, running: number, kv: number) =>
    `# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name="m"} ${waiting}\n` +
    `vllm:num_requests_running{model_name="m"} ${running}\nvllm:gpu_cache_usage_perc{model_name="m"} ${kv}\n`;

  it("default: least queue, then least KV-cache use, as the hosts report them", async () => {
    const up = scriptedUpstream();
    const eps = [
      { address: A, metrics: prom(5, 10, 0.2) },
      { address: B, metrics: prom(0, 10, 0.9) },
      { address: C, metrics: prom(0, 12, 0.3) },
    ];
    const host = await lbHost({ lb_policy: "endpoint_metrics" }, eps, { handler: up.handler });
    try {
      for (let i = 0; i < 5; i++) assert.equal(endpointOf(await post(host, chat([{ role: "user", content: `q${i}` }]))), C);
    } finally { host.close(); }
  });

  it("least / most of a target metric, and rate_limit spreads a favourite's share", async () => {
    const up = scriptedUpstream();
    const eps = [
      { address: A, metrics: prom(0, 3, 0.5) },
      { address: B, metrics: prom(0, 9, 0.5) },
      { address: C, metrics: prom(0, 6, 0.5) },
    ];
    const least = await lbHost({ lb_policy: "endpoint_metrics", lb_config: { metric_policy: "least", target_metric: "vllm:num_requests_running" } }, eps, { handler: up.handler });
    const most = await lbHost({ lb_policy: "endpoint_metrics", lb_config: { metric_policy: "most", target_metric: "vllm:num_requests_running" } }, eps, { handler: up.handler });
    const limited = await lbHost({ lb_policy: "endpoint_metrics", lb_config: { metric_policy: "least", target_metric: "vllm:num_requests_running", rate_limit: 0.5 } }, eps, { handler: up.handler });
    try {
      assert.equal(endpointOf(await post(least, chat([{ role: "user", content: "x" }]))), A);
      assert.equal(endpointOf(await post(most, chat([{ role: "user", content: "x" }]))), B);
      const got: string[] = [];
      for (let i = 0; i < 40; i++) got.push(endpointOf(await post(limited, chat([{ role: "user", content: `q${i}` }]))));
      const shareA = got.filter((e) => e === A).length / got.length;
      assert.ok(shareA > 0.4 && shareA <= 0.55, `A's share is held near 0.5: ${shareA}`);
    } finally { least.close(); most.close(); limited.close(); }
  });

  it("falls back to least request when no host reports metrics", async () => {
    const up = scriptedUpstream();
    const host = await lbHost({ lb_policy: "endpoint_metrics" }, EPS, { handler: up.handler });
    try {
      assert.equal((await post(host, chat([{ role: "user", content: "x" }]))).status, 200);
      assert.equal(METRIC(host, "fallbacks"), 1);
    } finally { host.close(); }
  });
});

describe("configuration", () => {
  it("refuses what it cannot do, naming the field", async () => {
    const bad: Array<[object, RegExp]> = [
      [{}, /lb_policy: is required/],
      [{ lb_policy: "magic" }, /lb_policy: unknown policy/],
      [{ lb_type: "cluster", lb_policy: "cluster_metrics" }, /lb_type/],
      [{ lb_policy: "prefix_cache", lb_config: { hotSpotFactor: 0.5 } }, /lb_config.hotSpotFactor/],
      [{ lb_policy: "prefix_cache", lb_config: { serviceFQDN: "redis.dns" } }, /lb_config.servicePort/],
      [{ lb_policy: "higress_prefix_cache" }, /lb_config.serviceFQDN/],
      [{ lb_policy: "endpoint_metrics", lb_config: { metric_policy: "least" } }, /lb_config.target_metric/],
      [{ lb_policy: "round_robin", lb_config: { weights: { [A]: -1 } } }, /lb_config.weights/],
      [{ lb_policy: "round_robin", lb_config: "x" }, /lb_config: must be an object/],
    ];
    for (const [config, why] of bad) {
      await assert.rejects(lbHost(config, EPS), (e: Error) => why.test(e.message), JSON.stringify(config));
    }
  });

  it("accepts the examples of spec.yaml and wasmplugin.yaml", async () => {
    const spec = YAML.parse(readFileSync("plugins/ai-load-balancer/spec.yaml", "utf8"));
    const wp = YAML.parse(readFileSync("plugins/ai-load-balancer/wasmplugin.yaml", "utf8")).spec;
    // Higress's controller hands the plugin defaultConfig plus matchRules as _rules_.
    const rules = wp.matchRules.map((r: any) => ({ ...r.config, _match_route_: r.ingress }));
    for (const config of [spec.spec.configSchema.openAPIV3Schema.example, { ...wp.defaultConfig, _rules_: rules }]) {
      const host = await lbHost(config, EPS);
      host.close();
    }
  });

  it("accepts Higress's own examples", async () => {
    for (const config of [
      { lb_policy: "global_least_request", lb_config: { serviceFQDN: "redis.static", servicePort: 6379, username: "default", password: "123456" } },
      { lb_policy: "prefix_cache", lb_config: { serviceFQDN: "redis.static", servicePort: 6379, username: "default", password: "123456", redisKeyTTL: 60 } },
      { lb_type: "endpoint", lb_policy: "metrics_based", lb_config: { metric_policy: "least", target_metric: "vllm:num_requests_waiting", rate_limit: 0.6 } },
    ]) {
      const host = await lbHost(config, EPS);
      host.close();
    }
  });
});
