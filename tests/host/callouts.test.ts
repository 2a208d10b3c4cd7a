// Outbound calls and VM-wide services through abi-probe: http_call, shared data across VMs,
// queues, ticks, metrics, upstream hosts and override host.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { before, describe, it } from "node:test";
import { ManualClock } from "../../host/index.ts";
import { PROBE, buildTestPlugins, echoUpstream, header, hostsClosedAfter } from "./helpers.ts";

before(() => buildTestPlugins());

const host = hostsClosedAfter();

describe("proxy_http_call", () => {
  async function setup(side: Parameters<typeof echoUpstream>[0] | null, sideEndpoint?: string) {
    const up = echoUpstream();
    const calls = echoUpstream(side ?? undefined);
    const h = host({
      clusters: {
        up: { handler: up.handler },
        side: sideEndpoint ? { endpoints: [sideEndpoint] } : { handler: calls.handler },
      },
    });
    await h.addPlugin({ name: "probe", wasm: PROBE });
    h.addRoute({ name: "r", cluster: "up" });
    return { h, up, calls };
  }

  it("delivers the response to the root context; the plugin resumes the stream with it", async () => {
    const { h, calls } = await setup(() => ({ status: 201, body: "pong" }));
    const res = await h.request({ path: "/", headers: { "x-probe-http-call": "side" } });
    assert.equal(res.status, 200);
    assert.equal(header(res.upstreamRequest!.headers, "x-probe-call-status"), "201");
    assert.equal(header(res.upstreamRequest!.headers, "x-probe-call-body"), "pong");
    assert.equal(calls.received[0].path, "/probe");
    assert.equal(calls.received[0].authority, "probe");
  });

  it("an unknown cluster is refused at call time (BadArgument)", async () => {
    const { h } = await setup(null);
    const res = await h.request({ path: "/", headers: { "x-probe-http-call": "nope" } });
    assert.equal(header(res.upstreamRequest!.headers, "x-probe-call-status"), "refused");
  });

  it("a timeout answers 504 'upstream request timeout', as Envoy's async client does", async () => {
    const { h } = await setup(() => new Promise(() => undefined));
    const t0 = Date.now();
    const res = await h.request({ path: "/", headers: { "x-probe-http-call": "side" } });
    assert.ok(Date.now() - t0 >= 1900, "the probe's 2000 ms timeout applies");
    assert.equal(header(res.upstreamRequest!.headers, "x-probe-call-status"), "504");
    assert.equal(header(res.upstreamRequest!.headers, "x-probe-call-body"), "upstream request timeout");
  });

  it("a refused connection answers 503", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { h } = await setup(null, `127.0.0.1:${port}`);
    const res = await h.request({ path: "/", headers: { "x-probe-http-call": "side" } });
    assert.equal(header(res.upstreamRequest!.headers, "x-probe-call-status"), "503");
    assert.match(header(res.upstreamRequest!.headers, "x-probe-call-body")!, /upstream connect error/);
  });

  it("talks to a real HTTP server", async () => {
    const server = http.createServer((req, res) => res.end(`real ${req.method} ${req.url} ${req.headers.host}`));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const { h } = await setup(null, `127.0.0.1:${(server.address() as AddressInfo).port}`);
      const res = await h.request({ path: "/", headers: { "x-probe-http-call": "side" } });
      assert.equal(header(res.upstreamRequest!.headers, "x-probe-call-status"), "200");
      assert.equal(header(res.upstreamRequest!.headers, "x-probe-call-body"), "real GET /probe probe");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe("VM-wide services", () => {
  it("shared data is common to all VMs of a plugin; CAS increments never lose an update", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "probe", wasm: PROBE, vms: 2 });
    h.addRoute({ name: "r", cluster: "up" });
    const values: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await h.request({ path: "/", headers: { "x-probe-shared-incr": "hits" } });
      values.push(header(res.upstreamRequest!.headers, "x-probe-shared-value")!);
    }
    assert.deepEqual(values, ["1", "2", "3", "4", "5", "6"]);
  });

  it("shared data is separate per plugin (vm_id)", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "p1", wasm: PROBE });
    await h.addPlugin({ name: "p2", wasm: PROBE });
    h.addRoute({ name: "one", match: { prefix: "/one" }, cluster: "up", plugins: ["p1"] });
    h.addRoute({ name: "two", match: { prefix: "/two" }, cluster: "up", plugins: ["p2"] });
    const incr = async (path: string) =>
      header((await h.request({ path, headers: { "x-probe-shared-incr": "k" } })).upstreamRequest!.headers, "x-probe-shared-value");
    assert.equal(await incr("/one"), "1");
    assert.equal(await incr("/one"), "2");
    assert.equal(await incr("/two"), "1");
  });

  it("an enqueued item wakes the registering root context", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "probe", wasm: PROBE });
    h.addRoute({ name: "r", cluster: "up" });
    await h.request({ path: "/", headers: { "x-probe-enqueue": "job-1" } });
    assert.ok(h.logs("probe").some((e) => e.message.endsWith("dequeued: job-1")));
  });

  it("ticks follow the period on a manual clock; host.tick fires one more", async () => {
    const clock = new ManualClock();
    const h = host({ clock });
    await h.addPlugin({ name: "probe", wasm: PROBE, config: { tick_ms: 100 }, vms: 2 });
    h.advanceTime(350);
    assert.equal(h.metric("probe_ticks"), 6, "3 ticks on each of 2 VMs into one counter");
    h.tick("probe");
    assert.equal(h.metric("probe_ticks"), 8);
    assert.match(h.prometheusText(), /# TYPE probe_ticks counter\nprobe_ticks\{\} 8\n/);
  });

  it("counters defined by name add up across VMs in the Prometheus text", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "probe", wasm: PROBE, vms: 2 });
    h.addRoute({ name: "r", cluster: "up" });
    for (let i = 0; i < 3; i++) await h.request({ path: "/", headers: { "x-probe-metric": "probe_requests_total" } });
    assert.equal(h.metric("probe_requests_total"), 3);
    assert.match(h.prometheusText(), /probe_requests_total\{\} 3/);
  });
});

describe("Higress upstream extensions", () => {
  it("proxy_get_upstream_hosts lists the route's cluster: address → {health_status, metrics}", async () => {
    const up = echoUpstream();
    const h = host({
      clusters: {
        llm: {
          handler: up.handler,
          endpoints: [
            { address: "10.0.0.1:8000", metrics: "vllm:num_requests_waiting 3\n" },
            { address: "10.0.0.2:8000", healthy: false },
          ],
        },
      },
    });
    await h.addPlugin({ name: "probe", wasm: PROBE });
    h.addRoute({ name: "r", cluster: "llm" });
    const res = await h.request({ path: "/", headers: { "x-probe-upstream-hosts": "1" } });
    const listed = header(res.upstreamRequest!.headers, "x-probe-upstream-hosts")!.split(";").map((e) => {
      const eq = e.indexOf("=");
      return [e.slice(0, eq), JSON.parse(e.slice(eq + 1))];
    });
    assert.deepEqual(listed, [
      ["10.0.0.1:8000", { health_status: "Healthy", metrics: "vllm:num_requests_waiting 3\n" }],
      ["10.0.0.2:8000", { health_status: "Unhealthy", metrics: "" }],
    ]);
  });

  it("metrics providers are scraped on demand", async () => {
    let waiting = 1;
    const h = host({ clock: new ManualClock(), clusters: { llm: { handler: () => ({ status: 200 }), endpoints: [{ address: "10.0.0.1:8000", metrics: () => `waiting ${waiting}` }] } } });
    await h.addPlugin({ name: "probe", wasm: PROBE });
    h.addRoute({ name: "r", cluster: "llm" });
    await h.refreshUpstreamMetrics();
    waiting = 7;
    const first = await h.request({ path: "/", headers: { "x-probe-upstream-hosts": "1" } });
    await h.refreshUpstreamMetrics();
    const second = await h.request({ path: "/", headers: { "x-probe-upstream-hosts": "1" } });
    assert.match(header(first.upstreamRequest!.headers, "x-probe-upstream-hosts")!, /waiting 1/);
    assert.match(header(second.upstreamRequest!.headers, "x-probe-upstream-hosts")!, /waiting 7/);
  });

  it("proxy_set_upstream_override_host picks that endpoint; otherwise round-robin over healthy ones", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { llm: { handler: up.handler, endpoints: ["10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"] } } });
    await h.addPlugin({ name: "probe", wasm: PROBE });
    h.addRoute({ name: "r", cluster: "llm" });
    const picked: string[] = [];
    for (let i = 0; i < 3; i++) picked.push((await h.request({ path: "/", headers: { "x-probe-override-host": "10.0.0.3:8000" } })).upstreamRequest!.endpoint);
    assert.deepEqual(picked, ["10.0.0.3:8000", "10.0.0.3:8000", "10.0.0.3:8000"]);
    h.setEndpointHealth("llm", "10.0.0.2:8000", false);
    const rr: string[] = [];
    for (let i = 0; i < 4; i++) rr.push((await h.request({ path: "/" })).upstreamRequest!.endpoint);
    assert.deepEqual(new Set(rr), new Set(["10.0.0.1:8000", "10.0.0.3:8000"]));
  });
});
