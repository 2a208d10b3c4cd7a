// Unit tests of the host's building blocks: wire formats, header maps, RESP framing, property
// encoding, body splicing, metrics text and shared data.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MetricType, WasmResult, decodePairs, encodePairs } from "../../host/abi.ts";
import { HeaderMap } from "../../host/headers.ts";
import { MetricsRegistry } from "../../host/metrics.ts";
import { getProperty, type PluginView, type StreamView } from "../../host/properties.ts";
import { parseRedisCluster } from "../../host/redis.ts";
import { RespFramer, respCommand, respCount } from "../../host/resp.ts";
import { SharedData, SharedQueues } from "../../host/shared.ts";
import { spliceBody } from "../../host/vm.ts";

describe("header pairs wire format", () => {
  it("lays out count, length pairs, then NUL-terminated keys and values", () => {
    const b = encodePairs([["ab", "c"], ["", "xyz"]]);
    const expected = Buffer.concat([
      u32(2), u32(2), u32(1), u32(0), u32(3),
      Buffer.from("ab\0c\0\0xyz\0"),
    ]);
    assert.deepEqual(b, expected);
  });

  it("round-trips UTF-8 keys and values, duplicates and order kept", () => {
    const pairs: Array<[string, string]> = [["x-a", "1"], ["x-a", "2"], ["x-ü", "héllo"], [":path", "/"]];
    assert.deepEqual(decodePairs(encodePairs(pairs)), pairs);
  });

  it("gives no pairs for truncated or lying input instead of reading past the end", () => {
    assert.deepEqual(decodePairs(new Uint8Array([1, 0])), []);
    assert.deepEqual(decodePairs(Buffer.concat([u32(5), u32(1), u32(1)])), []);
    const good = encodePairs([["key", "value"]]);
    assert.deepEqual(decodePairs(good.subarray(0, good.length - 3)), []);
  });
});

describe("HeaderMap (Envoy semantics)", () => {
  it("lower-cases keys and returns the first of repeated values", () => {
    const h = new HeaderMap([["X-A", "1"], ["x-a", "2"]]);
    assert.equal(h.get("x-a"), "1");
    assert.deepEqual(h.getAll("X-A"), ["1", "2"]);
  });

  it("replace keeps the first position and drops the other values; add appends", () => {
    const h = new HeaderMap([["a", "1"], ["b", "2"], ["a", "3"]]);
    h.replace("A", "9");
    assert.deepEqual(h.pairs(), [["a", "9"], ["b", "2"]]);
    h.add("a", "10");
    assert.deepEqual(h.getAll("a"), ["9", "10"]);
    h.remove("a");
    assert.deepEqual(h.pairs(), [["b", "2"]]);
  });

  it("byteSize sums key and value bytes (proxy_get_header_map_size)", () => {
    assert.equal(new HeaderMap([["ab", "cde"], ["f", "é"]]).byteSize(), 2 + 3 + 1 + 2);
  });
});

describe("RESP framing", () => {
  it("splits replies at any byte boundary and keeps the raw bytes", () => {
    const stream = Buffer.from("+OK\r\n:42\r\n$5\r\nhello\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n$-1\r\n-ERR boom\r\n");
    const want = ["+OK\r\n", ":42\r\n", "$5\r\nhello\r\n", "*2\r\n$1\r\na\r\n*1\r\n:1\r\n", "$-1\r\n", "-ERR boom\r\n"];
    for (let cut = 1; cut < stream.length; cut++) {
      const f = new RespFramer();
      const got = [...f.push(stream.subarray(0, cut)), ...f.push(stream.subarray(cut))].map((b) => b.toString());
      assert.deepEqual(got, want, `cut at ${cut}`);
    }
  });

  it("a bulk string may contain CRLF", () => {
    const f = new RespFramer();
    assert.deepEqual(f.push(Buffer.from("$4\r\na\r\nb\r\n")).map(String), ["$4\r\na\r\nb\r\n"]);
  });

  it("counts pipelined commands in a query", () => {
    assert.equal(respCount(Buffer.concat([respCommand("GET", "a"), respCommand("INCR", "b")])), 2);
    assert.equal(respCommand("SET", "k", 1).toString(), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n");
  });

  it("reads the db from Higress's cluster suffix", () => {
    assert.deepEqual(parseRedisCluster("outbound|6379||redis.static?db=3&buffer_flush_timeout=3"), { name: "outbound|6379||redis.static", db: 3 });
    assert.deepEqual(parseRedisCluster("outbound|6379||redis.static"), { name: "outbound|6379||redis.static", db: 0 });
  });
});

describe("properties", () => {
  const plugin: PluginView = { name: "p", rootId: "root", vmId: "p", nodeId: "n1", nodeCluster: "c1", memoryBytes: () => 131072 };
  const reqHeaders = new HeaderMap([[":path", "/v1/chat?x=1"], [":method", "POST"], ["x-request-id", "rid"], ["a", "1"]]);
  const view: StreamView = {
    requestHeaders: () => reqHeaders, responseHeaders: () => null, responseTrailers: () => null,
    startNs: 1_700_000_000_123_456_789n, endNs: null, responseCode: 429, responseCodeDetails: "rate_limited",
    bytesReceived: 10, bytesSent: 0, protocol: "HTTP/1.1", source: "10.0.0.1:5555", destination: "127.0.0.1:10000",
    upstreamAddress: null, routeName: "chat", clusterName: "llm", connectionId: 7, filterState: new Map([["ai_log", Buffer.from("{}")]]),
  };
  const get = (path: string, s: StreamView | null = view) => getProperty(path.split("."), plugin, s);

  it("strings are raw, integers 8-byte little-endian", () => {
    assert.equal(String(get("request.path")), "/v1/chat?x=1");
    assert.equal(String(get("request.url_path")), "/v1/chat");
    assert.equal((get("response.code") as Buffer).readBigInt64LE(), 429n);
    assert.equal((get("source.port") as Buffer).readBigInt64LE(), 5555n);
    assert.equal((get("request.time") as Buffer).readBigInt64LE(), 1_700_000_000_123_456_789n);
    assert.equal((get("plugin_vm_memory") as Buffer).readBigUInt64LE(), 131072n);
    assert.equal(String(get("route_name")), "chat");
    assert.equal(String(get("request.id")), "rid");
  });

  it("a header map is serialized as pairs and can be indexed", () => {
    assert.deepEqual(decodePairs(get("request.headers") as Buffer), reqHeaders.pairs());
    assert.equal(String(get("request.headers.a")), "1");
  });

  it("values set with proxy_set_property read back; unknown paths are NotFound", () => {
    assert.equal(String(get("ai_log")), "{}");
    assert.equal(get("ai_log.x"), WasmResult.NotFound);
    assert.equal(get("nope"), WasmResult.NotFound);
    assert.equal(get("upstream.address"), WasmResult.NotFound);
    assert.equal(get("request.path", null), WasmResult.NotFound);
    assert.equal(String(get("plugin_name", null)), "p");
    // Names inherited by JavaScript objects are not attributes.
    assert.equal(get("constructor"), WasmResult.NotFound);
    assert.equal(get("request.constructor"), WasmResult.NotFound);
    assert.equal(get("node.toString"), WasmResult.NotFound);
  });

  it("a map attribute read whole is its fields as pairs (absent ones left out)", () => {
    const response = new Map(decodePairs(get("response") as Buffer));
    assert.equal(response.get("code_details"), "rate_limited");
    assert.equal(Buffer.from(response.get("code")!, "latin1").readBigInt64LE(), 429n);
    assert.ok(!response.has("headers"), "no response headers yet");
    assert.deepEqual(decodePairs(get("node") as Buffer), [["id", "n1"], ["cluster", "c1"]]);
  });
});

describe("body splicing (Envoy Buffer::copyFrom)", () => {
  const cur = Buffer.from("hello");
  it("replaces, prepends, appends; rejects partial edits", () => {
    assert.equal(String(spliceBody(cur, 0, 5, Buffer.from("bye"))), "bye");
    assert.equal(String(spliceBody(cur, 0, 99, Buffer.from("bye"))), "bye");
    assert.equal(String(spliceBody(cur, 0, 0, Buffer.from(">"))), ">hello");
    assert.equal(String(spliceBody(cur, 5, 0, Buffer.from("!"))), "hello!");
    assert.equal(spliceBody(cur, 0, 2, Buffer.from("x")), null);
    assert.equal(spliceBody(cur, 2, 1, Buffer.from("x")), null);
  });
});

describe("metrics", () => {
  it("Prometheus text for counters, gauges and histograms (cumulative buckets)", () => {
    const m = new MetricsRegistry();
    m.define("req_total", MetricType.Counter).value = 3n;
    m.define("in.flight", MetricType.Gauge).value = 2n;
    const h = m.define("latency_ms", MetricType.Histogram);
    MetricsRegistry.record(h, 0.3);
    MetricsRegistry.record(h, 7);
    MetricsRegistry.record(h, 7);
    const text = m.prometheusText();
    assert.match(text, /# TYPE req_total counter\nreq_total\{\} 3\n/);
    assert.match(text, /# TYPE in_flight gauge\nin_flight\{\} 2\n/);
    assert.match(text, /latency_ms_bucket\{le="0.5"\} 1\n/);
    assert.match(text, /latency_ms_bucket\{le="5"\} 1\n/);
    assert.match(text, /latency_ms_bucket\{le="10"\} 3\n/);
    assert.match(text, /latency_ms_bucket\{le="\+Inf"\} 3\nlatency_ms_sum\{\} 14.3\nlatency_ms_count\{\} 3\n/);
    assert.equal(m.value("latency_ms"), 3);
  });
});

describe("shared data and queues", () => {
  it("cas: fresh keys get a new cas, cas 0 always writes, a stale cas is CasMismatch", () => {
    const d = new SharedData();
    assert.equal(d.set("vm", "k", Buffer.from("a"), 0), WasmResult.Ok);
    const first = d.get("vm", "k")!;
    assert.ok(first.cas > 0);
    assert.equal(d.set("vm", "k", Buffer.from("b"), first.cas), WasmResult.Ok);
    const second = d.get("vm", "k")!;
    assert.notEqual(second.cas, first.cas);
    assert.equal(d.set("vm", "k", Buffer.from("c"), first.cas), WasmResult.CasMismatch);
    assert.equal(String(d.get("vm", "k")!.value), "b");
    assert.equal(d.set("vm", "k", Buffer.from("d"), 0), WasmResult.Ok);
    assert.equal(d.get("other-vm", "k"), undefined);
    // A missing key is written whatever cas is given (cpp-host only checks existing keys).
    assert.equal(d.set("vm", "new", Buffer.from("x"), 12345), WasmResult.Ok);
  });

  it("queues are per vm_id, FIFO, Empty when drained, and notify the registrant", () => {
    const q = new SharedQueues();
    const ready: number[] = [];
    const t = q.register("vm", "jobs", { notify: (tok) => ready.push(tok) });
    assert.equal(q.resolve("vm", "jobs"), t);
    assert.equal(q.resolve("other", "jobs"), undefined);
    assert.equal(q.enqueue(t, Buffer.from("1")), WasmResult.Ok);
    assert.equal(q.enqueue(t, Buffer.from("2")), WasmResult.Ok);
    assert.deepEqual(ready, [t, t]);
    assert.equal(String(q.dequeue(t)), "1");
    assert.equal(String(q.dequeue(t)), "2");
    assert.equal(q.dequeue(t), WasmResult.Empty);
    assert.equal(q.dequeue(999), WasmResult.NotFound);
    assert.equal(q.register("vm", "jobs", { notify: () => undefined }), t, "re-registering keeps the token");
  });
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
