// Who gets in: Higress's consumers / allow / global_auth rules, legacy credentials, API-key
// consumers, IP allow and deny lists, the X-Mse-Consumer header and hide_credentials.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { Host } from "../../host/index.ts";
import { sign } from "./signer.ts";
import { CONSUMERS, WASM, assertDenied, buildPlugin, gateway } from "./harness.ts";

const [DIFY, OPS] = CONSUMERS;
const by = (who: { key: string; secret: string }, path = "/x", method = "GET") => sign({ method, path, key: who.key, secret: who.secret }).headers;

describe("consumers, allow and global_auth (Higress's rules)", () => {
  it("without _rules_ every route authenticates, whatever global_auth says", async () => {
    for (const global_auth of [undefined, false, true]) {
      const gw = await gateway({ consumers: CONSUMERS, global_auth }, { routes: ["a", "b"] });
      try {
        assertDenied(await gw.send({ path: "/a/x" }), 401, "Invalid Key");
        assertDenied(await gw.send({ path: "/b/x" }), 401, "Invalid Key");
        assert.equal((await gw.send({ path: "/b/x", headers: by(OPS, "/b/x") })).status, 200);
      } finally { gw.close(); }
    }
  });

  it("with rules, only matched routes authenticate and allow picks the consumers", async () => {
    const gw = await gateway({ consumers: CONSUMERS, _rules_: [{ _match_route_: ["a"], allow: ["dify"] }] }, { routes: ["a", "b"] });
    try {
      assert.equal((await gw.send({ path: "/a/x", headers: by(DIFY, "/a/x") })).status, 200);
      assert.equal(gw.lastHeaders()["x-mse-consumer"], "dify");
      assertDenied(await gw.send({ path: "/a/x", headers: by(OPS, "/a/x") }), 403, "Unauthorized Consumer");
      assertDenied(await gw.send({ path: "/a/x" }), 401, "Invalid Key");
      const open = await gw.send({ path: "/b/x" });
      assert.equal(open.status, 200, "an unmatched route needs no auth when global_auth is unset");
    } finally { gw.close(); }
  });

  it("global_auth true also authenticates unmatched routes, where every consumer is allowed", async () => {
    const gw = await gateway({ consumers: CONSUMERS, global_auth: true, _rules_: [{ _match_route_: ["a"], allow: ["dify"] }] }, { routes: ["a", "b"] });
    try {
      assertDenied(await gw.send({ path: "/b/x" }), 401, "Invalid Key");
      assert.equal((await gw.send({ path: "/b/x", headers: by(OPS, "/b/x") })).status, 200);
      assertDenied(await gw.send({ path: "/a/x", headers: by(OPS, "/a/x") }), 403, "Unauthorized Consumer");
    } finally { gw.close(); }
  });

  it("matches rules by domain, and an empty allow admits no one", async () => {
    const gw = await gateway({
      consumers: CONSUMERS,
      _rules_: [{ _match_domain_: ["*.example.com"], allow: ["ops"] }, { _match_route_: ["a"], allow: [] }],
    }, { routes: ["a", "b"] });
    try {
      assert.equal((await gw.send({ path: "/b/x", authority: "api.example.com", headers: by(OPS, "/b/x") })).status, 200);
      assertDenied(await gw.send({ path: "/b/x", authority: "api.example.com", headers: by(DIFY, "/b/x") }), 403, "Unauthorized Consumer");
      assertDenied(await gw.send({ path: "/a/x", headers: by(OPS, "/a/x") }), 403, "Unauthorized Consumer");
    } finally { gw.close(); }
  });

  it("a rule may bring its own consumers", async () => {
    const gw = await gateway({
      _rules_: [{ _match_route_: ["a"], consumers: [{ name: "route-only", key: "ak-r", secret: "sk-r" }] }],
    }, { routes: ["a", "b"] });
    try {
      assert.equal((await gw.send({ path: "/a/x", headers: by({ key: "ak-r", secret: "sk-r" }, "/a/x") })).status, 200);
      assert.equal(gw.lastHeaders()["x-mse-consumer"], "route-only");
      assertDenied(await gw.send({ path: "/a/x", headers: by(DIFY, "/a/x") }), 401, "Invalid Key");
      assert.equal((await gw.send({ path: "/b/x" })).status, 200);
    } finally { gw.close(); }
  });

  it("legacy credentials authenticate without naming a consumer, and fail any allow list", async () => {
    const gw = await gateway({ credentials: [{ key: "ak-old", secret: "sk-old" }], _rules_: [{ _match_route_: ["a"], allow: ["dify"] }] }, { routes: ["a", "b"] });
    try {
      const old = { key: "ak-old", secret: "sk-old" };
      const gw2 = await gateway({ credentials: [{ key: "ak-old", secret: "sk-old" }] });
      try {
        assert.equal((await gw2.send({ path: "/x", headers: { ...by(old), "x-mse-consumer": "forged" } })).status, 200);
        assert.equal(gw2.lastHeaders()["x-mse-consumer"], undefined);
      } finally { gw2.close(); }
      assertDenied(await gw.send({ path: "/a/x", headers: by(old, "/a/x") }), 403, "Unauthorized Consumer");
    } finally { gw.close(); }
  });
});

describe("X-Mse-Consumer and hide_credentials", () => {
  it("replaces a client-sent X-Mse-Consumer, and strips it where no auth runs", async () => {
    const gw = await gateway({ consumers: CONSUMERS, _rules_: [{ _match_route_: ["a"], allow: ["ops"] }] }, { routes: ["a", "b"] });
    try {
      assert.equal((await gw.send({ path: "/a/x", headers: { ...by(OPS, "/a/x"), "x-mse-consumer": "dify" } })).status, 200);
      const seen = gw.received.at(-1)!.headers.filter(([k]) => k === "x-mse-consumer").map(([, v]) => v);
      assert.deepEqual(seen, ["ops"]);
      assert.equal((await gw.send({ path: "/b/x", headers: { "x-mse-consumer": "dify" } })).status, 200);
      assert.equal(gw.lastHeaders()["x-mse-consumer"], undefined);
    } finally { gw.close(); }
  });

  it("hide_credentials drops the x-ca-* headers of a signed request", async () => {
    const gw = await gateway({ consumers: CONSUMERS, hide_credentials: true });
    try {
      const h = by(DIFY);
      assert.equal((await gw.send({ path: "/x", headers: h })).status, 200);
      const up = gw.lastHeaders();
      for (const k of Object.keys(up)) assert.ok(!k.startsWith("x-ca-"), `${k} reached the upstream`);
      assert.equal(up["date"], h.date);
      assert.equal(up["x-mse-consumer"], "dify");
    } finally { gw.close(); }
  });
});

const KEYED = [
  ...CONSUMERS,
  { name: "app", api_key: "sk-app-1" },
  { name: "both", key: "ak-both", secret: "sk-both-secret", api_key: "sk-both-key" },
];

describe("API-key consumers in the same plugin", () => {
  it("accepts Authorization: Bearer and x-api-key by default, next to AK/SK", async () => {
    const gw = await gateway({ consumers: KEYED });
    try {
      assert.equal((await gw.send({ path: "/v1/chat/completions", headers: { authorization: "Bearer sk-app-1" } })).status, 200);
      assert.equal(gw.lastHeaders()["x-mse-consumer"], "app");
      assert.equal(gw.lastHeaders()["authorization"], "Bearer sk-app-1", "kept without hide_credentials");
      assert.equal((await gw.send({ path: "/x", headers: { "x-api-key": "sk-both-key" } })).status, 200);
      assert.equal(gw.lastHeaders()["x-mse-consumer"], "both");
      assert.equal((await gw.send({ path: "/x", headers: by({ key: "ak-both", secret: "sk-both-secret" }) })).status, 200);
      assert.equal(gw.lastHeaders()["x-mse-consumer"], "both");
      assert.equal((await gw.send({ path: "/x", headers: by(DIFY) })).status, 200);
      assertDenied(await gw.send({ path: "/x", headers: { authorization: "Bearer sk-app-2" } }), 401, "Invalid Key");
      assertDenied(await gw.send({ path: "/x", headers: { authorization: "Bearer " } }), 401, "Invalid Key");
      assertDenied(await gw.send({ path: "/x", headers: { "x-api-key": "sk-app-1x" } }), 401, "Invalid Key");
      assertDenied(await gw.send({ path: "/x" }), 401, "Invalid Key");
      // A secret is not an API key.
      assertDenied(await gw.send({ path: "/x", headers: { authorization: `Bearer ${DIFY.secret}` } }), 401, "Invalid Key");
    } finally { gw.close(); }
  });

  it("reads a named header or query parameter when configured, and allow applies", async () => {
    const gw = await gateway({
      consumers: KEYED, api_key: { headers: ["X-Token"], query: ["key"] }, global_auth: true,
      _rules_: [{ _match_route_: ["a"], allow: ["both"] }],
    }, { routes: ["a", "b"] });
    try {
      assert.equal((await gw.send({ path: "/b/x", headers: { "x-token": "sk-app-1" } })).status, 200);
      assert.equal((await gw.send({ path: "/b/x?key=sk-app-1&q=1" })).status, 200);
      assert.equal(gw.lastHeaders()["x-mse-consumer"], "app");
      // Not configured any more: Authorization is ignored.
      const gw2 = await gateway({ consumers: KEYED, api_key: { headers: ["x-token"] } });
      try {
        assertDenied(await gw2.send({ path: "/x", headers: { authorization: "Bearer sk-app-1" } }), 401, "Invalid Key");
      } finally { gw2.close(); }
      assertDenied(await gw.send({ path: "/a/x", headers: { "x-token": "sk-app-1" } }), 403, "Unauthorized Consumer");
      assert.equal((await gw.send({ path: "/a/x", headers: { "x-token": "sk-both-key" } })).status, 200);
    } finally { gw.close(); }
  });

  it("hide_credentials removes the key's header or query parameter", async () => {
    const gw = await gateway({ consumers: KEYED, api_key: { headers: ["authorization"], query: ["api_key"] }, hide_credentials: true });
    try {
      assert.equal((await gw.send({ path: "/x", headers: { authorization: "Bearer sk-app-1" } })).status, 200);
      assert.equal(gw.lastHeaders()["authorization"], undefined);
      assert.equal((await gw.send({ path: "/v1/m?a=1&api_key=sk-app-1&b=2" })).status, 200);
      assert.equal(gw.received.at(-1)!.path, "/v1/m?a=1&b=2");
    } finally { gw.close(); }
  });
});

describe("IP allow and deny lists", () => {
  it("checks the peer address against IPv4 and IPv6 prefixes before authentication", async () => {
    const gw = await gateway({ consumers: CONSUMERS, ip_restriction: { allow: ["10.0.0.0/8", "2001:db8::/32"], deny: ["10.9.0.0/16"] } });
    try {
      assert.equal((await gw.send({ path: "/x", source: "10.1.2.3:5555", headers: by(DIFY) })).status, 200);
      assert.equal((await gw.send({ path: "/x", source: "[2001:db8::7]:443", headers: by(DIFY) })).status, 200);
      assertDenied(await gw.send({ path: "/x", source: "192.168.1.1:1", headers: by(DIFY) }), 403, "Your IP address is blocked.");
      assertDenied(await gw.send({ path: "/x", source: "[2001:db9::7]:443", headers: by(DIFY) }), 403, "Your IP address is blocked.");
      assertDenied(await gw.send({ path: "/x", source: "10.9.8.7:1", headers: by(DIFY) }), 403, "Your IP address is blocked.");
      // Refused by IP before the missing signature matters.
      assertDenied(await gw.send({ path: "/x", source: "192.168.1.1:1" }), 403, "Your IP address is blocked.");
      assertDenied(await gw.send({ path: "/x", source: "10.1.2.3:5555" }), 401, "Invalid Key");
    } finally { gw.close(); }
  });

  it("reads x-forwarded-for, first or last hop, with a custom status and message", async () => {
    const deny = ["203.0.113.0/24", "::ffff:198.51.100.0/120"];
    const last = await gateway({ consumers: CONSUMERS, ip_restriction: { ip_source_type: "header", hop: "last", deny, status: 451, message: "go away" } });
    const first = await gateway({ consumers: CONSUMERS, ip_restriction: { ip_source_type: "header", deny } });
    try {
      const send = (gw: typeof last, xff?: string) => gw.send({ path: "/x", headers: { ...by(OPS), ...(xff === undefined ? {} : { "x-forwarded-for": xff }) } });
      assert.equal((await send(last, "203.0.113.5, 10.0.0.1")).status, 200);
      assertDenied(await send(last, "10.0.0.1,203.0.113.5"), 451, "go away");
      assertDenied(await send(first, "203.0.113.5, 10.0.0.1"), 403, "Your IP address is blocked.");
      assert.equal((await send(first, " 10.0.0.1 , 203.0.113.5")).status, 200);
      assertDenied(await send(first, "198.51.100.20"), 403, "Your IP address is blocked.");
      // No address to check: refused whenever a list is set.
      assertDenied(await send(first), 403, "Your IP address is blocked.");
      assertDenied(await send(first, "not-an-ip"), 403, "Your IP address is blocked.");
    } finally { last.close(); first.close(); }
  });
});

describe("logs", () => {
  it("never carry a secret, an API key or a signature, even at debug level", async () => {
    const gw = await gateway({ consumers: KEYED, nonce: { redis: { service_name: "redis.static", password: "redis-pass-123" } } },
      { host: { logLevel: "trace" } });
    try {
      const good = by(DIFY);
      await gw.send({ path: "/x", headers: good });
      await gw.send({ path: "/x", headers: { ...good, "x-ca-signature": "AAAA" + good["x-ca-signature"].slice(4) } });
      await gw.send({ path: "/x", headers: { authorization: "Bearer sk-app-1" } });
      await gw.send({ path: "/x", headers: { authorization: "Bearer sk-app-2-wrong" } });
      await gw.send({ path: "/x", headers: sign({ method: "GET", path: "/x", key: OPS.key, secret: "guess" }).headers });
      const text = gw.host.logs().map((e) => e.message).join("\n");
      assert.ok(text.length > 0, "the plugin logged nothing to check");
      for (const secret of [DIFY.secret, OPS.secret, "sk-app-1", "sk-app-2-wrong", "sk-both-key", "sk-both-secret", "redis-pass-123", good["x-ca-signature"]]) {
        assert.ok(!text.includes(secret), `a log line contains ${secret}`);
      }
    } finally { gw.close(); }
  });
});

describe("configuration errors refuse the plugin", () => {
  const bad: Array<[string, unknown]> = [
    ["consumers and credentials together", { consumers: CONSUMERS, credentials: [{ key: "k", secret: "s" }] }],
    ["a duplicate key", { consumers: [...CONSUMERS, { name: "x", key: DIFY.key, secret: "s" }] }],
    ["an empty secret", { consumers: [{ name: "x", key: "k", secret: "" }] }],
    ["a consumer without a name", { consumers: [{ key: "k", secret: "s" }] }],
    ["a key without a secret", { consumers: [{ name: "x", key: "k" }] }],
    ["a bad date_offset", { consumers: CONSUMERS, date_offset: "900" }],
    ["a bad CIDR", { consumers: CONSUMERS, ip_restriction: { allow: ["10.0.0.0/33"] } }],
    ["a redis store without service_name", { consumers: CONSUMERS, nonce: { redis: {} } }],
    ["a non-list allow", { consumers: CONSUMERS, allow: "dify" }],
  ];
  for (const [name, config] of bad) {
    it(name, async () => {
      buildPlugin();
      const host = new Host({ logLevel: "info" });
      try {
        await assert.rejects(host.addPlugin({ name: "hmac-auth", wasm: WASM, config }));
        assert.equal(host.trapCount(), 0);
      } finally { host.close(); }
    });
  }
});

describe("shipped examples", () => {
  it("wasmplugin.yaml and the spec.yaml examples configure the plugin and work as described", async () => {
    const wp = parseYaml(readFileSync("plugins/hmac-auth/wasmplugin.yaml", "utf8"));
    const spec = parseYaml(readFileSync("plugins/hmac-auth/spec.yaml", "utf8"));
    // What Higress's controller hands the plugin: defaultConfig plus _rules_ from matchRules.
    const rules = wp.spec.matchRules.map((m: { ingress: string[]; config: object }) => ({ _match_route_: m.ingress, ...m.config }));
    const config = { ...wp.spec.defaultConfig, nonce: { enabled: true }, _rules_: rules };   // local store: no Redis here
    const gw = await gateway(config, { routes: ["default/ai-chat", "other"] });
    try {
      assert.equal(wp.spec.phase, spec.spec.phase);
      assert.equal(wp.spec.priority, spec.spec.priority);
      assertDenied(await gw.send({ path: "/default/ai-chat/v1/chat/completions", headers: { authorization: "Bearer sk-batch-71d0" } }), 403, "Unauthorized Consumer");
      const s = sign({ method: "POST", path: "/default/ai-chat/v1/chat/completions", key: "dify-ak", secret: "dify-secret-9f2c" });
      assert.equal((await gw.send({ method: "POST", path: "/default/ai-chat/v1/chat/completions", headers: s.headers, body: "{}" })).status, 200);
      assert.equal(gw.lastHeaders()["x-ca-signature"], undefined, "hide_credentials");
      assert.equal((await gw.send({ path: "/other/x", headers: { authorization: "Bearer sk-batch-71d0" } })).status, 200);
      assertDenied(await gw.send({ path: "/other/x" }), 401, "Invalid Key");
    } finally { gw.close(); }
    for (const example of [spec.spec.configSchema.openAPIV3Schema.example, { ...spec.spec.configSchema.openAPIV3Schema.example, ...spec.spec.routeConfigSchema.openAPIV3Schema.example }]) {
      const g = await gateway(example);
      g.close();
    }
  });
});
