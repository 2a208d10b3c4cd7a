// ai-fallback's pure parts: status patterns, code_details, the circuit state machine and its shared-data
// wrapper (against an Envoy-like store where "another VM" can write in between), config validation.
import { setKvBackend, kvInit } from "../../shared/kv";
import { MemKv } from "./support/mem-kv";
import { ConfigError } from "../../shared/config";
import { parseJson } from "../../shared/json";
import { StatusSet, Origin, originOf } from "../../plugins/ai-fallback/triggers";
import {
  Admission, CircuitParams, CircuitRecord, CircuitState, admitTarget, readCircuit, releaseProbe, reportTarget,
} from "../../plugins/ai-fallback/circuit";
import { FallbackConfig, FallbackParser, authorityFromCluster } from "../../plugins/ai-fallback/config";
import { isWholeJson, scanTopLevel, withModel } from "../../plugins/ai-fallback/scan";
import { utf8, fromUtf8 } from "../../shared/proxy/hostcalls";

function statuses(patterns: string[]): StatusSet {
  const s = new StatusSet();
  for (let i = 0; i < patterns.length; i++) expect(s.add(patterns[i])).toBe("");
  return s;
}

describe("fallback: status patterns", () => {
  it("classes, exact codes and regexes (whole-status match)", () => {
    const s = statuses(["5xx", "429", "~^40[12]$"]);
    expect(s.has(500)).toBe(true);
    expect(s.has(599)).toBe(true);
    expect(s.has(429)).toBe(true);
    expect(s.has(401)).toBe(true);
    expect(s.has(402)).toBe(true);
    expect(s.has(403)).toBe(false);
    expect(s.has(499)).toBe(false);
    expect(s.has(200)).toBe(false);
  });

  it("Higress's retryOnStatus regexes: 4.* means 4xx, not any status with a 4 in it", () => {
    const s = statuses(["4.*"]);
    expect(s.has(404)).toBe(true);
    expect(s.has(504)).toBe(false);
    expect(s.has(524)).toBe(false);
  });

  it("out-of-range statuses are never members", () => {
    const s = statuses(["5xx"]);
    expect(s.has(0)).toBe(false);
    expect(s.has(600)).toBe(false);
    expect(s.has(-1)).toBe(false);
  });

  it("refuses patterns that cannot match a status", () => {
    const s = new StatusSet();
    expect(s.add("600").length > 0).toBe(true);
    expect(s.add("6xx").length > 0).toBe(true);
    expect(s.add("(").length > 0).toBe(true);
    expect(s.add("abc").length > 0).toBe(true);
  });
});

describe("fallback: response.code_details", () => {
  it("tells upstream answers, upstream failures and other filters' replies apart", () => {
    expect(originOf("via_upstream")).toBe(Origin.Upstream);
    expect(originOf("upstream_reset_before_response_started{connection_termination}")).toBe(Origin.UpstreamReset);
    expect(originOf("upstream_reset_before_response_started{remote_connection_failure}")).toBe(Origin.UpstreamReset);
    expect(originOf("no_healthy_upstream")).toBe(Origin.UpstreamReset);
    expect(originOf("upstream_response_timeout")).toBe(Origin.UpstreamTimeout);
    expect(originOf("upstream_per_try_timeout")).toBe(Origin.UpstreamTimeout);
    expect(originOf("ai-token-ratelimit.rejected")).toBe(Origin.LocalReply);
    expect(originOf("request_payload_too_large")).toBe(Origin.LocalReply);
  });
});

function params(threshold: i32, openMs: i64, probes: i32): CircuitParams {
  const p = new CircuitParams();
  p.threshold = threshold;
  p.openMs = openMs;
  p.probes = probes;
  p.probeTimeoutMs = 5000;
  return p;
}

describe("fallback: circuit state machine", () => {
  it("opens after threshold consecutive failures, not before", () => {
    const p = params(3, 1000, 1);
    const r = new CircuitRecord();
    r.report(p, 0, false, false);
    r.report(p, 0, false, false);
    expect(r.state).toBe(CircuitState.Closed);
    r.report(p, 0, true, false); // a success resets the count
    r.report(p, 0, false, false);
    r.report(p, 0, false, false);
    expect(r.state).toBe(CircuitState.Closed);
    r.report(p, 10, false, false);
    expect(r.state).toBe(CircuitState.Open);
    expect(r.admit(p, 500)).toBe(Admission.Reject);
    expect(r.remainingOpenMs(500)).toBe(510);
  });

  it("half-open after open_ms: probes only, closes after that many successes", () => {
    const p = params(1, 1000, 2);
    const r = new CircuitRecord();
    r.report(p, 0, false, false);
    expect(r.admit(p, 999)).toBe(Admission.Reject);
    expect(r.admit(p, 1000)).toBe(Admission.Probe);
    expect(r.state).toBe(CircuitState.HalfOpen);
    expect(r.admit(p, 1001)).toBe(Admission.Probe);
    expect(r.admit(p, 1002)).toBe(Admission.Reject); // both probe slots taken
    r.report(p, 1100, true, true);
    expect(r.state).toBe(CircuitState.HalfOpen);
    expect(r.admit(p, 1101)).toBe(Admission.Reject); // one success + one in flight = 2
    r.report(p, 1200, true, true);
    expect(r.state).toBe(CircuitState.Closed);
    expect(r.admit(p, 1201)).toBe(Admission.Pass);
  });

  it("a failed probe re-opens for another open_ms", () => {
    const p = params(2, 1000, 1);
    const r = new CircuitRecord();
    r.report(p, 0, false, false);
    r.report(p, 0, false, false);
    expect(r.admit(p, 1000)).toBe(Admission.Probe);
    r.report(p, 1500, false, true);
    expect(r.state).toBe(CircuitState.Open);
    expect(r.admit(p, 2499)).toBe(Admission.Reject);
    expect(r.admit(p, 2500)).toBe(Admission.Probe);
  });

  it("a probe that never reports frees its slot: released, or stale after probeTimeoutMs", () => {
    const p = params(1, 1000, 1);
    const r = new CircuitRecord();
    r.report(p, 0, false, false);
    expect(r.admit(p, 1000)).toBe(Admission.Probe);
    r.release(true);
    expect(r.admit(p, 1001)).toBe(Admission.Probe);
    expect(r.admit(p, 1002)).toBe(Admission.Reject);
    expect(r.admit(p, 1001 + 5001)).toBe(Admission.Probe);
  });

  it("late outcomes of requests admitted while closed do not disturb an open circuit", () => {
    const p = params(1, 1000, 1);
    const r = new CircuitRecord();
    r.report(p, 0, false, false);
    r.report(p, 10, true, false);
    expect(r.state).toBe(CircuitState.Open);
    expect(r.openUntil).toBe(1000);
  });

  it("threshold 0 disables it", () => {
    const p = params(0, 1000, 1);
    const r = new CircuitRecord();
    for (let i = 0; i < 10; i++) r.report(p, 0, false, false);
    expect(r.state).toBe(CircuitState.Closed);
    expect(r.admit(p, 0)).toBe(Admission.Pass);
  });

  it("round-trips through its shared-data encoding; short or absent data reads as closed", () => {
    const r = new CircuitRecord();
    r.state = CircuitState.HalfOpen;
    r.failures = 4;
    r.openUntil = 123456789;
    r.probesInFlight = 2;
    r.probeSuccesses = 1;
    r.lastProbeAt = 99;
    const back = CircuitRecord.decode(r.encode());
    expect(back.state).toBe(CircuitState.HalfOpen);
    expect(back.failures).toBe(4);
    expect(back.openUntil).toBe(123456789);
    expect(back.probesInFlight).toBe(2);
    expect(back.probeSuccesses).toBe(1);
    expect(back.lastProbeAt).toBe(99);
    expect(CircuitRecord.decode(null).state).toBe(CircuitState.Closed);
    expect(CircuitRecord.decode(new ArrayBuffer(3)).state).toBe(CircuitState.Closed);
  });
});

// ---------------------------------------------------------------- shared data

/** Envoy-like store; `other` plays another VM's probe admission right before our next write. */
class Store extends MemKv {
  other: string = "";
  beforeSet(key: string): void {
    if (this.other.length == 0) return;
    const k = this.other;
    this.other = "";
    const cur = this.get(k);
    const r = CircuitRecord.decode(cur == null ? null : cur.data);
    r.admit(params(1, 1000, 1), 5000);
    this.rawSet(k, r.encode(), 0);
  }
}

function store(): Store {
  const s = new Store(0);
  setKvBackend(s);
  kvInit();
  s.sets = 0;
  return s;
}

describe("fallback: circuits in shared data", () => {
  it("a healthy target costs no write: admissions and successes only read", () => {
    const s = store();
    const p = params(3, 1000, 1);
    for (let i = 0; i < 5; i++) {
      expect(admitTarget("a", p, 0).admission).toBe(Admission.Pass);
      reportTarget("a", p, 0, true, false);
    }
    expect(s.sets).toBe(0);
  });

  it("failures are counted across VMs and open the circuit for everyone", () => {
    store();
    const p = params(2, 1000, 1);
    reportTarget("a", p, 0, false, false);
    const r = reportTarget("a", p, 0, false, false);
    expect(r.state).toBe(CircuitState.Open);
    expect(r.changed).toBe(true);
    const a = admitTarget("a", p, 10);
    expect(a.admission).toBe(Admission.Reject);
    expect(a.retryAfterMs).toBe(990);
    expect(readCircuit("b").state).toBe(CircuitState.Closed);
  });

  it("two VMs racing for the only probe slot: one gets it", () => {
    const s = store();
    const p = params(1, 1000, 1);
    reportTarget("a", p, 0, false, false);
    s.other = "ai-fallback:circuit:a"; // the other VM takes the probe just before our write
    expect(admitTarget("a", p, 5000).admission).toBe(Admission.Reject);
    releaseProbe("a", p, 5001);
    expect(admitTarget("a", p, 5002).admission).toBe(Admission.Probe);
  });
});

function parse(text: string, err: ConfigError): FallbackConfig | null {
  const j = parseJson(text);
  if (j == null) return null;
  return new FallbackParser().parse(j, err);
}

describe("fallback: configuration", () => {
  it("defaults: 5xx and 429, one attempt per target, targets named after their cluster", () => {
    const err = new ConfigError();
    const c = parse('{"fallbacks":[{"cluster":"outbound|443||dashscope.dns","model":"qwen-plus","protocol":"dashscope"}]}', err);
    expect(c).not.toBeNull();
    if (c == null) return;
    expect(c.onStatus.has(503)).toBe(true);
    expect(c.onStatus.has(429)).toBe(true);
    expect(c.onStatus.has(404)).toBe(false);
    expect(c.maxAttempts).toBe(2);
    expect(c.targets[0].name).toBe("outbound|443||dashscope.dns");
    expect(c.targets[0].authority).toBe("dashscope.dns");
    expect(c.targets[0].timeoutMs).toBe(60000);
    expect(c.onLocalReply).toBe(false);
  });

  it("names the field of the first error", () => {
    const cases: string[][] = [
      ['{"fallbacks":[{"model":"x"}]}', "fallbacks[0].cluster"],
      ['{"fallbacks":[{"cluster":"c","protocol":"grpc"}]}', "fallbacks[0].protocol"],
      ['{"fallbacks":[{"cluster":"c","headers":{"content-length":"1"}}]}', "fallbacks[0].headers.content-length"],
      ['{"fallbacks":[{"cluster":"c","timeout":0}]}', "fallbacks[0].timeout"],
      ['{"fallbacks":[{"cluster":"c"},{"cluster":"c"}]}', "fallbacks[1].name"],
      ['{"on_status":["7xx"]}', "on_status[0]"],
      ['{"on_status":"5xx"}', "on_status"],
      ['{"max_attempts":0}', "max_attempts"],
      ['{"timeout":"fast"}', "timeout"],
      ['{"circuit_breaker":{"half_open_probes":0}}', "circuit_breaker.half_open_probes"],
      ['{"on_reset":"yes"}', "on_reset"],
    ];
    for (let i = 0; i < cases.length; i++) {
      const err = new ConfigError();
      expect(parse(cases[i][0], err)).toBeNull(cases[i][0]);
      expect(err.field).toBe(cases[i][1], cases[i][0]);
    }
  });

  it("authority from a Higress cluster name", () => {
    expect(authorityFromCluster("outbound|443||dashscope.dns")).toBe("dashscope.dns");
    expect(authorityFromCluster("vllm")).toBe("vllm");
  });
});

describe("fallback: scanning bodies without a parse tree", () => {
  it("reads top-level model and stream, whatever comes before and inside", () => {
    const t = scanTopLevel(utf8('{"messages":[{"role":"user","content":"say \\"model\\": \\"x\\", {[ "}],"stream" : true ,\n "model":"qwen-plus","extra":{"model":"inner","stream":false}}'));
    expect(t.ok).toBe(true);
    expect(t.model).toBe("qwen-plus");
    expect(t.stream).toBe(true);
  });

  it("stream is true only for the literal true; escaped model names are decoded", () => {
    expect(scanTopLevel(utf8('{"stream":"true"}')).stream).toBe(false);
    expect(scanTopLevel(utf8('{"stream":false}')).stream).toBe(false);
    expect(scanTopLevel(utf8('{"stream":1}')).stream).toBe(false);
    expect(scanTopLevel(utf8('{"model":"Qwen\\/Qwen2.5 \\u00e9\\n"}')).model).toBe("Qwen/Qwen2.5 \u00e9\n");
    expect(scanTopLevel(utf8('{"model":"\u6a21\u578b"}')).model).toBe("\u6a21\u578b");
    expect(scanTopLevel(utf8('{"model":7}')).model).toBe("");
  });

  it("finds quotes, escapes and control characters at every offset of long strings (8-byte steps)", () => {
    for (let n = 0; n < 24; n++) {
      const a = "a".repeat(n);
      const t = scanTopLevel(utf8('{"x":"' + a + '","model":"' + a + '\\"' + a + '"}'));
      expect(t.ok).toBe(true);
      expect(t.model).toBe(a + '"' + a);
      expect(isWholeJson(utf8('{"x":"' + a + "\t" + a + '"}'))).toBe(false);
      expect(isWholeJson(utf8('{"x":"' + a + '\u00e9\u6a21' + a + '"}'))).toBe(true);
      expect(isWholeJson(utf8('{"x":"' + a))).toBe(false);
    }
  });

  it("notices an in-band error at the top level only", () => {
    expect(scanTopLevel(utf8('{"error":{"message":"overloaded"}}')).error).toBe(true);
    expect(scanTopLevel(utf8('{"error":"busy"}')).error).toBe(true);
    expect(scanTopLevel(utf8('{"error":null,"id":"x"}')).error).toBe(false);
    expect(scanTopLevel(utf8('{"choices":[{"error":1}]}')).error).toBe(false);
  });

  it("flags bodies that are not one complete object", () => {
    const bad = ['', '[]', '{"model":"a"', '{"model":"a",}x', '{"a":[1,2}', '{"a":"unterminated}', '{} {}', '{"a" 1}', 'null'];
    for (let i = 0; i < bad.length; i++) expect(scanTopLevel(utf8(bad[i])).ok).toBe(false, bad[i]);
    expect(scanTopLevel(utf8(' {} ')).ok).toBe(true);
  });

  it("isWholeJson: truncated, cut or trailing data is not a whole answer", () => {
    expect(isWholeJson(utf8('{"id":"x","choices":[{"message":{"content":"a}b]c"}}],"n":-1.5e3,"t":true}'))).toBe(true);
    expect(isWholeJson(utf8(' [1, {"a": null}] \n'))).toBe(true);
    const bad = ['{"malformed": ', '{"a":[1,2]', '{"a":1}}', '{"a":1} x', '"str"', '42', '{"a":"b\\"}', '{"a":"line\nbreak"}', '{]', ''];
    for (let i = 0; i < bad.length; i++) expect(isWholeJson(utf8(bad[i]))).toBe(false, bad[i]);
  });

  it("withModel replaces the top-level model in place, or adds it, and leaves every other byte", () => {
    const swap = (body: string, model: string): string => {
      const r = withModel(utf8(body), model);
      return r == null ? "<null>" : fromUtf8(r);
    };
    expect(swap('{"model":"llama", "messages":[{"model":"inner"}]}', "qwen-plus")).toBe('{"model":"qwen-plus", "messages":[{"model":"inner"}]}');
    expect(swap(' { "stream":true,\n"model" : null }', 'a"b')).toBe(' { "stream":true,\n"model" : "a\\"b" }');
    expect(swap('{"messages":[]}', "m")).toBe('{"model":"m","messages":[]}');
    expect(swap('{ }', "m")).toBe('{"model":"m" }');
    expect(swap('{"model":"a"', "m")).toBe("<null>");
    expect(swap('[1]', "m")).toBe("<null>");
  });

  it("deep nesting neither traps nor passes past its limit", () => {
    let deep = "";
    for (let i = 0; i < 600; i++) deep += "[";
    for (let i = 0; i < 600; i++) deep += "]";
    expect(isWholeJson(utf8(deep))).toBe(false);
    let ok = "";
    for (let i = 0; i < 100; i++) ok += "[";
    for (let i = 0; i < 100; i++) ok += "]";
    expect(isWholeJson(utf8(ok))).toBe(true);
  });
});
