// Replay protection for a cluster: nonces in a real redis-server shared by two gateways.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { spawn, type ChildProcess } from "node:child_process";
import { sign } from "./signer.ts";
import { CONSUMERS, assertDenied, gateway, type Gateway } from "./harness.ts";

const [DIFY] = CONSUMERS;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    s.on("error", reject);
  });
}

/** One command over a fresh connection; the raw RESP reply. */
function redisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let out = "";
    s.on("data", (d) => { out += d.toString(); if (out.endsWith("\r\n")) s.end(); });
    s.on("end", () => resolve(out));
    s.on("error", reject);
    s.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(""));
  });
}

describe("nonces in Redis", () => {
  let port = 0;
  let redis: ChildProcess;
  let a: Gateway, b: Gateway;
  const config = () => ({
    consumers: CONSUMERS,
    nonce: { redis: { service_name: "redis.static", service_port: port, timeout: 500, key_prefix: "test:nonce:" } },
  });
  const cluster = () => `outbound|${port}||redis.static`;

  before(async () => {
    port = await freePort();
    redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      if (await redisCommand(port, "PING").then((r) => r.startsWith("+PONG"), () => false)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    // Two gateways (two Envoy processes) sharing one Redis.
    a = await gateway(config(), { host: { clusters: { [cluster()]: { endpoints: [`127.0.0.1:${port}`] } } } });
    b = await gateway(config(), { host: { clusters: { [cluster()]: { endpoints: [`127.0.0.1:${port}`] } } } });
  });
  after(async () => {
    a.close(); b.close();
    const gone = new Promise((r) => redis.once("exit", r));
    redis.kill("SIGKILL");
    await gone;
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
    const pttl = Number((await redisCommand(port, "PTTL", `test:nonce:${DIFY.key}:${nonce}`)).slice(1));
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
