// The host served over real HTTP in front of a real HTTP upstream: streaming both ways, SSE,
// body rewrites with stale content-length, client aborts.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { type Host, serve } from "../../host/index.ts";
import { PROBE, TRACE, buildTestPlugins, newHost, sleep, trace } from "./helpers.ts";

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string; aborted: boolean }
let upstream: http.Server;
let upstreamPort = 0;
const seen: Seen[] = [];
let releaseSlow: () => void = () => undefined;

before(async () => {
  buildTestPlugins();
  upstream = http.createServer((req, res) => {
    const s: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: "", aborted: false };
    seen.push(s);
    req.on("data", (c) => (s.body += c));
    res.on("close", () => { if (!res.writableFinished) s.aborted = true; });
    req.on("end", async () => {
      if (req.url === "/sse") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        for (let i = 0; i < 3; i++) {
          res.write(`data: ${i}\n\n`);
          await sleep(30);
        }
        res.end();
      } else if (req.url === "/reset") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("partial");
        await sleep(20);
        req.socket.destroy();
      } else if (req.url === "/slow") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("first");
        await new Promise<void>((r) => (releaseSlow = r));
        res.end("rest");
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ got: s.body, cl: req.headers["content-length"] ?? null, te: req.headers["transfer-encoding"] ?? null }));
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamPort = (upstream.address() as AddressInfo).port;
});

const hosts: Host[] = [];
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
  for (const h of hosts) h.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

async function gateway(plugins: Array<{ name: string; wasm: string; config?: unknown }>) {
  const h = newHost({ clusters: { up: { endpoints: [`127.0.0.1:${upstreamPort}`] } } });
  hosts.push(h);
  for (const p of plugins) await h.addPlugin(p);
  h.addRoute({ name: "r", cluster: "up" });
  const srv = await serve(h);
  closers.push(srv.close);
  return { h, url: srv.url };
}

describe("upstream resets", () => {
  it("a reset after the response started is recorded as Envoy's router does, not as via_upstream", async () => {
    const h = newHost({ clusters: { up: { endpoints: [`127.0.0.1:${upstreamPort}`] } } });
    hosts.push(h);
    h.addRoute({ name: "r", cluster: "up" });
    const res = await h.request({ method: "GET", path: "/reset" });
    assert.equal(res.reset, true);
    assert.match(res.details ?? "", /^upstream_reset_after_response_started\{/);
  });
});

describe("serve()", () => {
  it("proxies a POST to a real upstream; a body rewritten under a stale content-length is re-framed correctly", async () => {
    const { url } = await gateway([{ name: "probe", wasm: PROBE }]);
    const res = await fetch(`${url}/echo`, { method: "POST", body: "twelve bytes", headers: { "x-probe-body-replace": "short" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-probe-seen-response"), "1");
    assert.deepEqual(await res.json(), { got: "short", cl: "5", te: null });
  });

  it("streams SSE events to the client as they come", async () => {
    const { url } = await gateway([{ name: "A", wasm: TRACE, config: { name: "A" } }]);
    const res = await fetch(`${url}/sse`);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const reader = res.body!.getReader();
    const arrivals: Array<[string, number]> = [];
    const t0 = Date.now();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      arrivals.push([Buffer.from(value).toString(), Date.now() - t0]);
    }
    assert.equal(arrivals.map(([t]) => t).join(""), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    assert.ok(arrivals.length >= 2, "more than one read: the body was not buffered whole");
    assert.ok(arrivals[arrivals.length - 1][1] - arrivals[0][1] >= 40, "events spread over time");
  });

  it("a client that disconnects mid-response aborts the stream: plugins get log/done, the upstream request is cut", async () => {
    const { h, url } = await gateway([{ name: "A", wasm: TRACE, config: { name: "A" } }]);
    const ctl = new AbortController();
    const res = await fetch(`${url}/slow`, { signal: ctl.signal });
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(Buffer.from(first.value!).toString(), "first");
    ctl.abort();
    for (let i = 0; i < 50 && !trace(h).includes("A done"); i++) await sleep(10);
    assert.deepEqual(trace(h).slice(-2), ["A log", "A done"]);
    for (let i = 0; i < 50 && !seen[seen.length - 1].aborted; i++) await sleep(10);
    assert.equal(seen[seen.length - 1].aborted, true);
    releaseSlow();
  });
});
