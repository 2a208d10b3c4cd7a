// Replay protection for a cluster: nonces in a real redis-server shared by two gateways.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { RedisServer, freePort } from "../support/redis.ts";
import { sign } from "./signer.ts";
import { CONSUMERS, assertDenied, gateway, type Gateway } from "./harness.ts";

const [DIFY] = CONSUMERS;

describe("nonces in Redis", () => {
  let port = 0;
  let redis: RedisServer;
  let a: Gateway, b: Gateway;
  const config = () => ({
    consumers: CONSUMERS,
    nonce: { redis: { service_name: "redis.static", service_port: port, timeout: 500, key_prefix: "test:nonce:" } },
  });
  const cluster = () => `outbound|${port}||redis.static`;

  before(async () => {
    redis = await RedisServer.start();
    port = redis.port;
    // Two gateways (two Envoy processes) sharing one Redis.
    a = await gateway(config(), { host: { clusters: { [cluster()]: { endpoints: [`127.0.0.1:${port}`] } } } });
    b = await gateway(config(), { host: { clusters: { [cluster()]: { endpoints: [`127.0.0.1:${port}`] } } } });
  });
  after(async () => {
    a.close(); b.close();
    await redis.down();
  });

  it("accepts a nonce once across gateways", async () => {
    const s = sign({ method: "POST", path: "/v1/chat/completions", key: DIFY.key, secret: DIFY.secret, headers: { "content-type": "application/json" } });
    const first = await a.send({ method: "POST", path: "/v1/chat/completions", headers: s.headers, body: "{}" });
    assert.equal(first.status, 200, first.text);
    assert.equal(a.lastHeaders()["x-mse-consumer"], "dify");
    assertDenied(await b.send({ method: "POST", path: "/v1/chat/completions", headers: s.headers, body: "{}" }), 400, "Nonce Used");
    assertDenied(await a.send({ method: "POST", path: "/v1/chat/completions", headers: s.headers, body: "{}" }), 400, "Nonce Used");
    assert.equal(b.received.length, 0);
  });

  it("keeps the nonce until the signed time leaves the window", async () => {
    const nonce = "fixed-nonce-1";
    const s = sign({ method: "GET", path: "/x", key: DIFY.key, secret: DIFY.secret, nonce, nowMs: Date.now() - 60_000 });
    assert.equal((await a.send({ path: "/x", headers: s.headers })).status, 200);
    const pttl = Number((await redis.command("PTTL", `test:nonce:${DIFY.key}:${nonce}`)).slice(1));
    // Signed a minute ago, window 900 s (+1 s slack): about 841 s left.
    assert.ok(pttl > 835_000 && pttl <= 842_000, `PTTL ${pttl}`);
  });

  it("checks the nonce after a form body was read", async () => {
    const body = "a=1&b=2";
    const s = sign({ method: "POST", path: "/form", key: DIFY.key, secret: DIFY.secret, headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    assert.equal((await b.send({ method: "POST", path: "/form", headers: s.headers, body })).status, 200);
    assert.equal(b.received.at(-1)!.body.toString(), body);
    assertDenied(await a.send({ method: "POST", path: "/form", headers: s.headers, body }), 400, "Nonce Used");
  });

  it("refuses with 503 while Redis cannot answer", async () => {
    const deadPort = await freePort();
    const dead = await gateway(
      { consumers: CONSUMERS, nonce: { redis: { service_name: "redis.static", service_port: deadPort, timeout: 200 } } },
      { host: { clusters: { [`outbound|${deadPort}||redis.static`]: { endpoints: [`127.0.0.1:${deadPort}`] } } } });
    try {
      const s = sign({ method: "GET", path: "/x", key: DIFY.key, secret: DIFY.secret });
      assertDenied(await dead.send({ path: "/x", headers: s.headers }), 503, "Nonce Store Unavailable");
      assert.equal(dead.received.length, 0);
    } finally { dead.close(); }
  });
});
