// HTTP stream behaviour through real modules (abi-probe, host-trace): actions, buffering,
// local replies, header ops, routing, ordering, limits, traps, aborts.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { PROBE, TRACE, TRACE_ABI100, buildTestPlugins, echoUpstream, header, hostsClosedAfter, sleep, tinyModule, trace } from "./helpers.ts";

before(() => buildTestPlugins());

const host = hostsClosedAfter();

describe("loading and configuring", () => {
  it("refuses a module importing a function Envoy does not provide", async () => {
    const h = host();
    const wasm = tinyModule([["env", "proxy_log"], ["env", "seed"]], ["proxy_abi_version_0_2_1"]);
    await assert.rejects(h.addPlugin({ name: "bad", wasm }), /missing import: env\.seed/);
  });

  it("refuses a module without a Proxy-Wasm ABI version export", async () => {
    const h = host();
    await assert.rejects(h.addPlugin({ name: "noabi", wasm: tinyModule([["env", "proxy_log"]], ["malloc"]) }), /missing the Proxy-Wasm ABI version/);
  });

  it("a false proxy_on_configure is an error carrying the plugin's error log", async () => {
    const h = host();
    await assert.rejects(h.addPlugin({ name: "probe", wasm: PROBE, config: { reject: true } }), /proxy_on_configure returned false[\s\S]*probe asked to reject/);
  });

  it("streams are spread round-robin over the plugin's VMs", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A" }, vms: 2 });
    h.addRoute({ name: "r", cluster: "up" });
    for (let i = 0; i < 4; i++) await h.request({ path: `/${i}` });
    const vms = h.logs("A").filter((e) => e.message.includes("req_headers")).map((e) => e.vm);
    assert.deepEqual(vms, [0, 1, 0, 1]);
  });
});

describe("callback order across a chain", () => {
  it("requests run in chain order, responses in reverse; log then done for every filter", async () => {
    const up = echoUpstream(() => ({ status: 200, body: "resp" }));
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "low", wasm: TRACE, config: { name: "low" }, priority: 10 });
    await h.addPlugin({ name: "high", wasm: TRACE, config: { name: "high" }, priority: 100 });
    await h.addPlugin({ name: "authn", wasm: TRACE, config: { name: "authn" }, phase: "AUTHN", priority: 1 });
    h.addRoute({ name: "r", cluster: "up" });
    await h.request({ method: "POST", path: "/x", body: "hi" });
    assert.deepEqual(trace(h), [
      "authn req_headers n=6 eos=0 path=/x", "high req_headers n=6 eos=0 path=/x", "low req_headers n=6 eos=0 path=/x",
      "authn req_body size=2 eos=1 body=hi headers=gone", "high req_body size=2 eos=1 body=hi headers=gone", "low req_body size=2 eos=1 body=hi headers=gone",
      "low resp_headers n=1 eos=0", "high resp_headers n=1 eos=0", "authn resp_headers n=1 eos=0",
      "low resp_body size=4 eos=1 body=resp", "high resp_body size=4 eos=1 body=resp", "authn resp_body size=4 eos=1 body=resp",
      "authn log", "high log", "low log", "authn done", "high done", "low done",
    ]);
  });

  it("a route lists its own plugins", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A" } });
    await h.addPlugin({ name: "B", wasm: TRACE, config: { name: "B" } });
    h.addRoute({ name: "only-b", match: { prefix: "/b" }, cluster: "up", plugins: ["B"] });
    h.addRoute({ name: "all", cluster: "up" });
    await h.request({ path: "/b/1" });
    assert.ok(trace(h).every((l) => l.startsWith("B ")));
    const none = await h.request({ path: "/b/2", authority: "x" });
    assert.equal(none.status, 200);
  });
});

describe("header and body actions", () => {
  it("ABI 0.2.1: headers StopIteration pauses the body too (cpp-host makes it StopAllIterationAndWatermark) until a continue", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A", req_headers: 1, resume_on_tick: 1 } });
    await h.addPlugin({ name: "B", wasm: TRACE, config: { name: "B" }, priority: -1 });
    h.addRoute({ name: "r", cluster: "up" });
    const pending = h.request({ method: "POST", path: "/p", chunks: ["ab", "cd"] });
    await sleep(20);
    assert.deepEqual(trace(h), ["A req_headers n=5 eos=0 path=/p"]);
    assert.equal(up.received.length, 0);
    h.tick("A");
    const res = await pending;
    assert.equal(res.status, 200);
    assert.deepEqual(trace(h).slice(1, 5), ["A resume 2", "B req_headers n=5 eos=0 path=/p", "A req_body size=4 eos=1 body=abcd headers=gone", "B req_body size=4 eos=1 body=abcd headers=gone"]);
    assert.equal(up.received[0].body.toString(), "abcd");
  });

  it("Higress ABI 0_2_100: headers StopIteration holds only the headers; the stopped filter still gets the body", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE_ABI100, config: { name: "A", req_headers: 1, req_body: 1 } });
    await h.addPlugin({ name: "B", wasm: TRACE, config: { name: "B" }, priority: -1 });
    h.addRoute({ name: "r", cluster: "up" });
    const res = await h.request({ method: "POST", path: "/p", chunks: ["ab", "cd"] });
    assert.equal(res.status, 200);
    // A sees the body (headers still held, so its header map is reachable); its Continue at
    // end of stream releases headers, then the buffered body, to B.
    assert.deepEqual(trace(h).slice(0, 5), [
      "A req_headers n=5 eos=0 path=/p",
      "A req_body size=2 eos=0 body=ab headers=reachable",
      "A req_body size=4 eos=1 body=abcd headers=reachable",
      "B req_headers n=5 eos=0 path=/p",
      "B req_body size=4 eos=1 body=abcd headers=gone",
    ]);
    assert.equal(up.received[0].body.toString(), "abcd");
  });

  it("body StopIterationAndBuffer: each callback sees the whole body so far; the next filter gets it once", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A", req_body: 1 }, priority: 2 });
    await h.addPlugin({ name: "B", wasm: TRACE, config: { name: "B" }, priority: 1 });
    h.addRoute({ name: "r", cluster: "up" });
    await h.request({ method: "POST", path: "/", chunks: ["ab", "cd", "ef"] });
    const bodies = trace(h).filter((l) => l.includes("req_body"));
    assert.deepEqual(bodies, [
      "A req_body size=2 eos=0 body=ab headers=gone",
      "A req_body size=4 eos=0 body=abcd headers=gone",
      "A req_body size=6 eos=1 body=abcdef headers=gone",
      "B req_body size=6 eos=1 body=abcdef headers=gone",
    ]);
    assert.equal(up.received[0].body.toString(), "abcdef");
  });

  it("without buffering each chunk flows on by itself", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A" } });
    h.addRoute({ name: "r", cluster: "up" });
    await h.request({ method: "POST", path: "/", chunks: ["ab", "cd"] });
    assert.deepEqual(trace(h).filter((l) => l.includes("req_body")), ["A req_body size=2 eos=0 body=ab headers=gone", "A req_body size=2 eos=1 body=cd headers=gone"]);
  });

  it("request headers are only reachable while the filter holds them (Envoy forgets them after Continue)", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "stop", wasm: TRACE, config: { name: "stop", req_headers: 4, resume_on_tick: 1 } });
    h.addRoute({ name: "r", cluster: "up" });
    const p = h.request({ method: "POST", path: "/", body: "x" });
    await sleep(5);
    h.tick();
    await p;
    // The body callback ran after the continue, when the header map is gone: 0 bytes.
    assert.deepEqual(trace(h).filter((l) => l.includes("req_body")), ["stop req_body size=1 eos=1 body=x headers=gone"]);
  });

  it("body replaced by the plugin reaches the upstream; content-length is left as the plugin left it (as Envoy does)", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "probe", wasm: PROBE });
    h.addRoute({ name: "r", cluster: "up" });
    const res = await h.request({ method: "POST", path: "/", body: "original", headers: { "content-length": "8", "x-probe-body-replace": "new!" } });
    assert.equal(res.status, 200);
    assert.equal(res.upstreamRequest!.body.toString(), "new!");
    assert.equal(header(res.upstreamRequest!.headers, "content-length"), "8");
  });

  it("header replace reaches the upstream and a changed :path re-picks the route", async () => {
    const a = echoUpstream();
    const b = echoUpstream();
    const h = host({ clusters: { a: { handler: a.handler }, b: { handler: b.handler } } });
    await h.addPlugin({ name: "probe", wasm: PROBE });
    h.addRoute({ name: "to-b", match: { prefix: "/b" }, cluster: "b" });
    h.addRoute({ name: "to-a", match: { prefix: "/" }, cluster: "a" });
    const res = await h.request({ path: "/a", headers: { "x-probe-set-header": ":path=/b/moved" } });
    assert.equal(res.status, 200);
    assert.equal(a.received.length, 0);
    assert.equal(b.received[0].path, "/b/moved");
    const plain = await h.request({ path: "/a", headers: { "x-probe-set-header": "x-added=yes" } });
    assert.equal(header(plain.upstreamRequest!.headers, "x-added"), "yes");
    assert.equal(a.received.length, 1);
  });

  it("response body append reaches the client", async () => {
    const up = echoUpstream(() => ({ status: 200, body: ["part1-", "part2"] }));
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "probe", wasm: PROBE });
    h.addRoute({ name: "r", cluster: "up" });
    const res = await h.request({ path: "/", headers: { "x-probe-resp-append": "+tail" } });
    assert.equal(res.text, "part1-part2+tail");
    assert.equal(res.headers["x-probe-seen-response"], "1");
  });

  it("properties: route, plugin, request fields", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "probe", wasm: PROBE });
    h.addRoute({ name: "chat-route", cluster: "up" });
    const get = async (path: string) => header((await h.request({ method: "PUT", path: "/v1/x?q=1", headers: { "x-probe-property": path } })).upstreamRequest!.headers, "x-probe-property-value");
    assert.equal(await get("route_name"), "chat-route");
    assert.equal(await get("cluster_name"), "up");
    assert.equal(await get("plugin_name"), "probe");
    assert.equal(await get("request.method"), "PUT");
    assert.equal(await get("request.url_path"), "/v1/x");
    assert.equal(await get("request.headers.x-probe-property"), "request.headers.x-probe-property");
    assert.equal(await get("no.such"), "<none>");
  });
});

describe("local replies", () => {
  it("answers with the plugin's status, headers and body; the upstream and later filters never see the request", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "probe", wasm: PROBE, priority: 10 });
    await h.addPlugin({ name: "B", wasm: TRACE, config: { name: "B" }, priority: 1 });
    h.addRoute({ name: "r", cluster: "up" });
    const res = await h.request({ method: "POST", path: "/", body: "payload", headers: { "x-probe-local-reply": "429" } });
    assert.equal(res.status, 429);
    assert.equal(res.text, "probe local reply");
    assert.equal(res.headers["x-probe"], "local");
    assert.equal(res.headers["content-type"], "text/plain");
    assert.equal(res.headers["content-length"], "17");
    assert.equal(res.details, "probe_local");
    assert.equal(res.localReply, true);
    assert.equal(up.received.length, 0);
    assert.equal(res.upstreamRequest, null);
    // The sender's response callbacks run for its own reply (Envoy encodes local replies through the filters).
    assert.equal(res.headers["x-probe-seen-response"], "1");
    // B never saw the request, yet Envoy still gives it the access-log phase.
    assert.deepEqual(trace(h), ["B log", "B done"]);
  });

  it("no route: 404 route_not_found; no healthy endpoint: 503", async () => {
    const h = host({ clusters: { dead: { endpoints: [{ address: "127.0.0.1:9", healthy: false }] } } });
    h.addRoute({ name: "r", match: { prefix: "/api" }, cluster: "dead" });
    const nf = await h.request({ path: "/other" });
    assert.equal(nf.status, 404);
    assert.equal(nf.details, "route_not_found");
    const nh = await h.request({ path: "/api" });
    assert.equal(nh.status, 503);
    assert.equal(nh.text, "no healthy upstream");
  });
});

describe("buffer limits", () => {
  it("a request buffered past the route limit gets 413", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A", req_body: 1 } });
    h.addRoute({ name: "r", cluster: "up", bufferLimitBytes: 8 });
    const res = await h.request({ method: "POST", path: "/", chunks: ["12345", "67890", "x"] });
    assert.equal(res.status, 413);
    assert.equal(res.text, "Payload Too Large");
    assert.equal(res.details, "request_payload_too_large");
    assert.equal(up.received.length, 0);
  });

  it("a response held past the limit gets 500 while its headers are still held", async () => {
    const up = echoUpstream(() => ({ status: 200, body: ["12345", "67890", "x"] }));
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A", resp_headers: 3 } });
    h.addRoute({ name: "r", cluster: "up", bufferLimitBytes: 8 });
    const res = await h.request({ path: "/" });
    assert.equal(res.status, 500);
    assert.equal(res.text, "Internal Server Error");
    assert.equal(res.details, "response_payload_too_large");
  });

  it("once the client has the response headers, buffering past the limit can only reset the stream", async () => {
    const up = echoUpstream(() => ({ status: 200, body: ["12345", "67890", "x"] }));
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A", resp_body: 1 } });
    h.addRoute({ name: "r", cluster: "up", bufferLimitBytes: 8 });
    const res = await h.request({ path: "/" });
    assert.equal(res.status, 200);
    assert.equal(res.reset, true);
    assert.equal(res.body.length, 0);
  });
});

describe("traps", () => {
  it("fail-close: 503 for the trapping stream, trap reported with the abort message, a fresh VM serves the next one", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "probe", wasm: PROBE });
    h.addRoute({ name: "r", cluster: "up" });
    const res = await h.request({ path: "/", headers: { "x-probe-trap": "1" } });
    assert.equal(res.status, 503);
    assert.equal(res.details, "wasm_fail_stream");
    assert.equal(up.received.length, 0);
    assert.equal(h.trapCount("probe"), 1);
    assert.equal(h.traps[0].callback, "proxy_on_request_headers");
    assert.match(h.traps[0].abortMessage, /Index out of range/);
    const next = await h.request({ path: "/", headers: { "x-probe-set-header": "x-ok=1" } });
    assert.equal(next.status, 200);
    assert.equal(header(next.upstreamRequest!.headers, "x-ok"), "1");
    assert.equal(h.trapCount(), 1);
  });

  it("fail-open: the trapping plugin is skipped and the request goes on", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "probe", wasm: PROBE, failStrategy: "FAIL_OPEN" });
    await h.addPlugin({ name: "B", wasm: TRACE, config: { name: "B" }, priority: -1 });
    h.addRoute({ name: "r", cluster: "up" });
    const res = await h.request({ path: "/", headers: { "x-probe-trap": "1" } });
    assert.equal(res.status, 200);
    assert.equal(up.received.length, 1);
    assert.equal(res.headers["x-probe-seen-response"], undefined);
    assert.ok(trace(h).some((l) => l.startsWith("B req_headers")));
    assert.equal(h.trapCount("probe"), 1);
  });

  it("a trap in a body callback mid-stream fails that stream closed", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A", trap_on_body: 1 } });
    h.addRoute({ name: "r", cluster: "up" });
    const res = await h.request({ method: "POST", path: "/", body: "boom" });
    assert.equal(res.status, 503);
    assert.equal(h.traps[0].callback, "proxy_on_request_body");
  });
});

describe("stream API", () => {
  it("a client abort while a plugin holds the request still runs log and done, and never reaches the upstream", async () => {
    const up = echoUpstream();
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A", req_headers: 4 } });
    h.addRoute({ name: "r", cluster: "up" });
    const s = h.stream({ method: "POST", path: "/slow" });
    s.sendHeaders(false);
    s.sendData("partial", false);
    s.abort();
    const res = await s.response;
    assert.equal(res.reset, true);
    assert.equal(res.status, 0);
    assert.equal(res.details, "downstream_remote_disconnect");
    assert.deepEqual(trace(h), ["A req_headers n=5 eos=0 path=/slow", "A log", "A done"]);
    await sleep(5);
    assert.equal(up.received.length, 0);
  });

  it("response chunks arrive one by one (SSE)", async () => {
    async function* sse() {
      for (let i = 0; i < 3; i++) { await sleep(2); yield `data: ${i}\n\n`; }
    }
    const up = echoUpstream(() => ({ status: 200, headers: { "content-type": "text/event-stream" }, body: sse() }));
    const h = host({ clusters: { up: { handler: up.handler } } });
    await h.addPlugin({ name: "A", wasm: TRACE, config: { name: "A" } });
    h.addRoute({ name: "r", cluster: "up" });
    const res = await h.request({ path: "/stream" });
    assert.deepEqual(res.chunks.map(String), ["data: 0\n\n", "data: 1\n\n", "data: 2\n\n"]);
    assert.deepEqual(trace(h).filter((l) => l.includes("resp_body")).map((l) => l.replace(/ body=.*/s, "")),
      ["A resp_body size=9 eos=0", "A resp_body size=9 eos=0", "A resp_body size=9 eos=0", "A resp_body size=0 eos=1"]);
  });
});
