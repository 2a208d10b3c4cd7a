// Higress Redis calls against a real redis-server started on a free port for this file.
import assert from "node:assert/strict";
import net from "node:net";
import { RedisServer, freePort } from "../support/redis.ts";
import { after, before, describe, it } from "node:test";
import type { Host } from "../../host/index.ts";
import { RedisClient } from "../../host/redis.ts";
import { respCommand } from "../../host/resp.ts";
import { PROBE, buildTestPlugins, echoUpstream, header, newHost, sleep } from "./helpers.ts";

const CLUSTER = "outbound|6379||redis.static";
const servers: RedisServer[] = [];
const hosts: Host[] = [];

/** A redis-server on a free port (stopped in after()); returns its port. */
async function startRedis(...args: string[]): Promise<number> {
  const r = await RedisServer.start(args);
  servers.push(r);
  return r.port;
}

function direct(port: number, opts: { password?: string; db?: number } = {}) {
  const c = new RedisClient(() => ({ host: "127.0.0.1", port }), { username: "", password: opts.password ?? "", timeoutMs: 2000, db: opts.db ?? 0 });
  const call = (...args: string[]) => new Promise<string>((r) => c.call(respCommand(...args), (status, reply) => r(`${status} ${reply}`)));
  return { call, close: () => c.close() };
}

async function probeHost(redisPort: number) {
  const up = echoUpstream();
  const h = newHost({ clusters: { up: { handler: up.handler }, [CLUSTER]: { endpoints: [`127.0.0.1:${redisPort}`] } } });
  hosts.push(h);
  await h.addPlugin({ name: "probe", wasm: PROBE });
  h.addRoute({ name: "r", cluster: "up" });
  const redis = async (cluster: string) => {
    const res = await h.request({ path: "/", headers: { "x-probe-redis": cluster } });
    const hs = res.upstreamRequest!.headers;
    return { status: header(hs, "x-probe-redis-status"), reply: header(hs, "x-probe-redis-reply") };
  };
  return { h, redis };
}

let port = 0;
before(async () => {
  buildTestPlugins();
  port = await startRedis();
});
after(async () => {
  for (const h of hosts) h.close();
  for (const s of servers) await s.down();
});

describe("proxy_redis_call", () => {
  it("sends raw RESP and hands back the raw reply, calls matched in order", async () => {
    const { redis } = await probeHost(port);
    assert.deepEqual(await redis(CLUSTER), { status: "0", reply: ":1|" });
    assert.deepEqual(await redis(CLUSTER), { status: "0", reply: ":2|" });
  });

  it("selects the db given in the cluster name's ?db= suffix", async () => {
    const { redis } = await probeHost(port);
    assert.deepEqual(await redis(`${CLUSTER}?db=3&buffer_flush_timeout=3`), { status: "0", reply: ":1|" });
    const db3 = direct(port, { db: 3 });
    const db5 = direct(port, { db: 5 });
    try {
      assert.equal(await db3.call("GET", "probe-counter"), "0 $1\r\n1\r\n");
      assert.equal(await db5.call("GET", "probe-counter"), "0 $-1\r\n");
    } finally {
      db3.close();
      db5.close();
    }
  });

  it("AUTH goes first on a new connection; without it the server's NOAUTH error is the reply", async () => {
    const authPort = await startRedis("--requirepass", "s3cret");
    const { redis } = await probeHost(authPort);
    const noauth = await redis(CLUSTER);
    assert.equal(noauth.status, "0");
    assert.match(noauth.reply!, /^-NOAUTH/);
    const withPass = direct(authPort, { password: "s3cret" });
    try {
      assert.equal(await withPass.call("INCR", "x"), "0 :1\r\n");
    } finally {
      withPass.close();
    }
  });

  it("a refused connection reports a non-zero status", async () => {
    const { redis } = await probeHost(await freePort());
    assert.deepEqual(await redis(CLUSTER), { status: "1", reply: "" });
  });

  it("a server that never answers times out with a non-zero status", async () => {
    // Reads (so it sees the client hang up) but never answers.
    const silent = net.createServer((sock) => sock.resume());
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const { redis } = await probeHost((silent.address() as net.AddressInfo).port);
      const t0 = Date.now();
      assert.deepEqual(await redis(CLUSTER), { status: "1", reply: "" });
      assert.ok(Date.now() - t0 >= 900, "the 1000 ms timeout given to proxy_redis_init applies");
    } finally {
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it("an unknown cluster is refused at call time", async () => {
    const { redis } = await probeHost(port);
    assert.equal((await redis("outbound|1||nowhere")).status, "refused");
  });
});
