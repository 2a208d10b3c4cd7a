// ai-load-balancer's pure parts: the prompt rendering and its chained block hashes, Higress's XOR keys
// (reproduced for the baseline), the selection rules, and the local (shared-data) stores against an
// Envoy-like in-memory store.
import { setKvBackend } from "../../shared/kv";
import { MemKv } from "./support/mem-kv";
import { parseJson, JsonValue } from "../../shared/json";
import { hexEncode, sha1 } from "../../shared/crypto";
import { promptText, chainHashes, higressPrefixKeys, hex64 } from "../../plugins/ai-load-balancer/prompt";
import {
  ScoreParams, pickByScore, maxOf, smoothWrr, rendezvous, rangeFilter, metricValue, hash64, Rng,
} from "../../plugins/ai-load-balancer/choose";
import { localAdjust, localLoads, localMatch, localRecord, localRoundRobin } from "../../plugins/ai-load-balancer/local";

function json(s: string): JsonValue {
  const v = parseJson(s);
  expect(v).not.toBeNull(s);
  return v != null ? v : JsonValue.newNull();
}
function text(body: string): string {
  const t = promptText(json(body));
  expect(t).not.toBeNull(body);
  return t != null ? t : "";
}
function same(a: u64[], b: u64[], n: i32): bool {
  if (a.length < n || b.length < n) return false;
  for (let i = 0; i < n; i++) if (a[i] != b[i]) return false;
  return true;
}

describe("promptText", () => {
  it("renders messages in order, so swapping two messages changes the text", () => {
    const ab = text('{"messages":[{"role":"user","content":"A"},{"role":"user","content":"B"}]}');
    const ba = text('{"messages":[{"role":"user","content":"B"},{"role":"user","content":"A"}]}');
    expect(ab).not.toBe(ba);
  });
  it("keeps message boundaries: 'ab'+'c' differs from 'a'+'bc'", () => {
    expect(text('{"messages":[{"role":"user","content":"ab"},{"role":"user","content":"c"}]}'))
      .not.toBe(text('{"messages":[{"role":"user","content":"a"},{"role":"user","content":"bc"}]}'));
  });
  it("takes the text parts of content lists and includes tools, tool calls and names", () => {
    const t = text('{"tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":[{"type":"text","text":"hello"},{"type":"text","text":"world"}]},' +
      '{"role":"assistant","content":null,"tool_calls":[{"id":"c1"}]},{"role":"tool","tool_call_id":"c1","content":"42","name":"f"}]}');
    expect(t.includes("hello")).toBe(true);
    expect(t.includes("world")).toBe(true);
    expect(t.includes("\"name\":\"f\"")).toBe(true);
    expect(t.includes("c1")).toBe(true);
    expect(t.includes("42")).toBe(true);
  });
  it("reads a completions prompt", () => {
    expect(text('{"prompt":"once upon a time"}').includes("once upon a time")).toBe(true);
  });
  it("refuses bodies without a usable prompt", () => {
    expect(promptText(json("{}"))).toBeNull();
    expect(promptText(json('{"messages":[]}'))).toBeNull();
    expect(promptText(json('{"messages":[1,2]}'))).toBeNull();
    expect(promptText(json('{"messages":[{"content":"no role"}]}'))).toBeNull();
    expect(promptText(json('{"messages":[{"role":7,"content":"x"}]}'))).toBeNull();
    expect(promptText(json('{"messages":"not a list","prompt":null}'))).toBeNull();
  });
});

const base = "x".repeat(1000);

describe("chainHashes", () => {
  it("gives a longer prompt the same leading hashes, and cuts only full blocks", () => {
    const a = chainHashes("s", base, 100, 256);
    const b = chainHashes("s", base + "y".repeat(250), 100, 256);
    expect(a.length).toBe(10);
    expect(b.length).toBe(12);
    expect(same(a, b, 10)).toBe(true);
    expect(chainHashes("s", base + "z", 100, 256).length).toBe(10);   // a partial block adds nothing
  });
  it("chains: a change in block 0 changes every later hash, one in block 5 only from there on", () => {
    const a = chainHashes("s", base, 100, 256);
    const early = chainHashes("s", "X" + base.substring(1), 100, 256);
    const late = chainHashes("s", base.substring(0, 550) + "X" + base.substring(551), 100, 256);
    for (let i = 0; i < 10; i++) expect(early[i]).not.toBe(a[i]);
    expect(same(a, late, 5)).toBe(true);
    for (let i = 5; i < 10; i++) expect(late[i]).not.toBe(a[i]);
  });
  it("is scoped: another scope shares no hash", () => {
    const a = chainHashes("route\u0000model-a", base, 100, 256);
    const b = chainHashes("route\u0000model-b", base, 100, 256);
    for (let i = 0; i < 10; i++) expect(a[i]).not.toBe(b[i]);
  });
  it("hashes identical blocks differently by position (no cancelling out)", () => {
    const h = chainHashes("s", base, 100, 256);
    for (let i = 1; i < h.length; i++) expect(h[i]).not.toBe(h[i - 1]);
  });
  it("stops at maxBlocks and accepts degenerate sizes", () => {
    expect(chainHashes("s", base, 100, 3).length).toBe(3);
    expect(chainHashes("s", base, 0, 10).length).toBe(0);
    expect(chainHashes("s", "", 16, 10).length).toBe(0);
  });
  it("prints 16 hex digits", () => {
    expect(hex64(0x0123456789abcdef)).toBe("0123456789abcdef");
    expect(hex64(0)).toBe("0000000000000000");
  });
});

describe("higressPrefixKeys (the baseline's keys)", () => {
  it("closes a block after each user message and the last one; keys XOR the SHA-1s, upper-case", () => {
    const k = higressPrefixKeys(json('{"messages":[{"role":"system","content":"S"},{"role":"user","content":"U1"},{"role":"assistant","content":"A1"},{"role":"user","content":"U2"}]}'));
    expect(k).not.toBeNull();
    const keys = k != null ? k : [];
    expect(keys.length).toBe(2);
    expect(keys[0]).toBe(hexEncode(sha1("system:Suser:U1"), true));
    const a = sha1("system:Suser:U1"), b = sha1("assistant:A1user:U2");
    const x = new Uint8Array(20);
    for (let i = 0; i < 20; i++) x[i] = a[i] ^ b[i];
    expect(keys[1]).toBe(hexEncode(x, true));
  });
  it("is order-insensitive and cancels repeated blocks (the weaknesses ours fixes)", () => {
    const ab = higressPrefixKeys(json('{"messages":[{"role":"user","content":"A"},{"role":"user","content":"B"}]}'));
    const ba = higressPrefixKeys(json('{"messages":[{"role":"user","content":"B"},{"role":"user","content":"A"}]}'));
    const aa = higressPrefixKeys(json('{"messages":[{"role":"user","content":"A"},{"role":"user","content":"A"}]}'));
    expect(ab != null && ba != null && aa != null).toBe(true);
    if (ab == null || ba == null || aa == null) return;
    expect(ab[1]).toBe(ba[1]);
    expect(aa[1]).toBe("0".repeat(40));
  });
  it("gives up (no balancing, as Higress) without messages or with a message lacking role or content", () => {
    expect(higressPrefixKeys(json('{"prompt":"x"}'))).toBeNull();
    expect(higressPrefixKeys(json('{"messages":[{"role":"user"}]}'))).toBeNull();
    expect(higressPrefixKeys(json('{"messages":["x"]}'))).toBeNull();
  });
});

function params(): ScoreParams {
  const p = new ScoreParams();
  p.blockTokens = 64; p.inflightCost = 256; p.hotMargin = 2; p.hotFactor = 1.25; p.maxRequestCount = 0;
  return p;
}

describe("pickByScore", () => {
  it("without prefix information picks the least loaded host", () => {
    expect(pickByScore([3, 1, 2], [0, 0, 0], params(), 0)).toBe(1);
    expect(pickByScore([3, 1, 2], [0, 0, 0], params(), 7)).toBe(1);
  });
  it("rotates among equals by the tie value", () => {
    expect(pickByScore([0, 0, 0], [0, 0, 0], params(), 0)).toBe(0);
    expect(pickByScore([0, 0, 0], [0, 0, 0], params(), 1)).toBe(1);
    expect(pickByScore([0, 0, 0], [0, 0, 0], params(), 5)).toBe(2);
  });
  it("takes the cached prefix when its tokens outweigh the extra load", () => {
    // host 0: 20 blocks (1280 tokens) at load 2 → 768; host 1: nothing at load 0 → 0
    expect(pickByScore([2, 0, 1], [20, 0, 0], params(), 0)).toBe(0);
  });
  it("takes the lighter host when the extra load outweighs the prefix", () => {
    // host 0: 3 blocks (192 tokens) at load 2 → -320; host 2 at load 0 → 0
    expect(pickByScore([2, 1, 0], [3, 0, 0], params(), 0)).toBe(2);
  });
  it("hot-spot guard: a host more than max(margin, 25%) above the least loaded is not eligible", () => {
    expect(pickByScore([4, 3, 1], [100, 0, 0], params(), 0)).toBe(2);   // 4 - 1 > 2
    expect(pickByScore([3, 3, 1], [100, 0, 0], params(), 0)).toBe(0);   // 3 - 1 <= 2
    // at higher loads the relative slack takes over: least 20 → slack 5
    expect(pickByScore([25, 21, 20], [100, 0, 0], params(), 0)).toBe(0);
    expect(pickByScore([26, 21, 20], [100, 0, 0], params(), 0)).toBe(2);
  });
  it("prefers the less loaded of two hosts holding the same prefix", () => {
    expect(pickByScore([3, 1, 0], [10, 10, 0], params(), 0)).toBe(1);
  });
  it("refuses when even the least loaded host is at maxRequestCount, and on bad input", () => {
    const p = params();
    p.maxRequestCount = 2;
    expect(pickByScore([2, 3], [0, 0], p, 0)).toBe(-1);
    expect(pickByScore([1, 3], [0, 0], p, 0)).toBe(0);
    expect(pickByScore([], [], params(), 0)).toBe(-1);
    expect(pickByScore([1, 2], [0], params(), 0)).toBe(-1);
  });
  it("maxOf", () => {
    expect(maxOf([1, 5, 2])).toBe(5);
    expect(maxOf([])).toBe(0);
  });
});

describe("smoothWrr", () => {
  it("interleaves weights 5,1,1 as nginx does: a a b a c a a", () => {
    const cur: i64[] = [0, 0, 0];
    const seq = new Array<i32>();
    for (let i = 0; i < 7; i++) seq.push(smoothWrr(cur, [5, 1, 1]));
    expect(seq.join(",")).toBe("0,0,1,0,2,0,0");
    expect(cur.join(",")).toBe("0,0,0");   // back to the start after a full cycle
  });
  it("skips zero weights and reports none left", () => {
    const cur: i64[] = [0, 0];
    expect(smoothWrr(cur, [0, 3])).toBe(1);
    expect(smoothWrr([0, 0], [0, 0])).toBe(-1);
    expect(smoothWrr([0], [1, 1])).toBe(-1);
  });
});

const addrs = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"];
const ones: i64[] = [1, 1, 1, 1];

describe("rendezvous", () => {
  it("is stable and spreads keys", () => {
    const counts = [0, 0, 0, 0];
    for (let k = 0; k < 2000; k++) {
      const i = rendezvous("session-" + k.toString(), addrs, ones);
      expect(i).toBe(rendezvous("session-" + k.toString(), addrs, ones));
      counts[i]++;
    }
    for (let i = 0; i < 4; i++) expect(counts[i]).toBeGreaterThan(400);
  });
  it("moves only the keys of a removed host", () => {
    const three = addrs.slice(0, 3);
    for (let k = 0; k < 1000; k++) {
      const key = "s" + k.toString();
      const before = rendezvous(key, addrs, ones);
      const after = rendezvous(key, three, [1, 1, 1]);
      if (before < 3) expect(after).toBe(before);
    }
  });
  it("follows weights and never picks weight 0", () => {
    let heavy = 0;
    for (let k = 0; k < 2000; k++) {
      const i = rendezvous("w" + k.toString(), addrs, [3, 1, 0, 0]);
      expect(i == 0 || i == 1).toBe(true);
      if (i == 0) heavy++;
    }
    expect(heavy).toBeGreaterThan(1350);   // ≈ 1500 expected
    expect(heavy).toBeLessThan(1650);
    expect(rendezvous("k", addrs, [0, 0, 0, 0])).toBe(-1);
  });
});

const prom = "# HELP vllm:num_requests_waiting Number of requests waiting.\n" +
  "# TYPE vllm:num_requests_waiting gauge\n" +
  "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 3.0\n" +
  "vllm:num_requests_waiting{engine=\"1\",model_name=\"m\"} 2\n" +
  "vllm:num_requests_waiting_by_reason{reason=\"x\"} 100\n" +
  "vllm:gpu_cache_usage_perc{model_name=\"a}b\"} 0.25\r\n" +
  "vllm:num_requests_running 7\n";

describe("rangeFilter and metricValue", () => {
  it("keeps the band next to the best value (GIE's filter)", () => {
    expect(rangeFilter([0, 10, 2, 9], [0, 1, 2, 3], true).join(",")).toBe("0,2");   // band 10/4
    expect(rangeFilter([0, 10, 2, 9], [0, 1, 2, 3], false).join(",")).toBe("1,3");
    expect(rangeFilter([5, 5], [0, 1], true).join(",")).toBe("0,1");
    expect(rangeFilter([NaN, 3, 1], [0, 1, 2], true).join(",")).toBe("2");
    expect(rangeFilter([NaN, NaN], [0, 1], true).join(",")).toBe("0,1");
  });
  it("sums a gauge's series and ignores other metrics with the same prefix", () => {
    expect(metricValue(prom, "vllm:num_requests_waiting")).toBe(5.0);
    expect(metricValue(prom, "vllm:gpu_cache_usage_perc")).toBe(0.25);
    expect(metricValue(prom, "vllm:num_requests_running")).toBe(7.0);
    expect(isNaN(metricValue(prom, "vllm:absent"))).toBe(true);
    expect(isNaN(metricValue("", "x"))).toBe(true);
    expect(isNaN(metricValue("x{unterminated 5\nx garbage", "x"))).toBe(true);
  });
});

describe("Rng", () => {
  it("stays within bounds", () => {
    const r = new Rng(0);
    for (let i = 0; i < 1000; i++) {
      const v = r.below(3);
      expect(v >= 0 && v < 3).toBe(true);
    }
    expect(r.below(0)).toBe(0);
  });
});

// ---------------------------------------------------------------- local stores


const blocks: u64[] = [11, 22, 33, 44];
const hostIds: u64[] = [hash64("a"), hash64("b"), hash64("c")];

describe("local prefix index", () => {
  it("matches per host the leading blocks it was recorded with, within the TTL", () => {
    const m = new MemKv(1000000);
    setKvBackend(m);
    localRecord(blocks.slice(0, 3), hostIds[0], 1000, 1024);
    localRecord(blocks, hostIds[1], 2000, 1024);
    expect(localMatch(blocks, hostIds, 2500, 10000, 1024).join(",")).toBe("3,4,0");
    // a, recorded at 1000, is past a 1200 ms TTL at 2500; b is not
    expect(localMatch(blocks, hostIds, 2500, 1200, 1024).join(",")).toBe("0,4,0");
    // a prompt that differs in its first block matches nothing
    expect(localMatch([99, 22, 33], hostIds, 2500, 10000, 1024).join(",")).toBe("0,0,0");
  });
  it("lets a newer block take over a slot, and keeps at most 8 hostIds per block (least recent goes)", () => {
    const m = new MemKv(1000000);
    setKvBackend(m);
    localRecord([5], hostIds[0], 100, 4);
    localRecord([9], hostIds[1], 200, 4);        // 9 % 4 == 5 % 4: same slot
    expect(localMatch([5], hostIds, 300, 10000, 4).join(",")).toBe("0,0,0");
    expect(localMatch([9], hostIds, 300, 10000, 4).join(",")).toBe("0,1,0");
    expect(m.map.keys().filter((k) => k.startsWith("ai-lb:prefix:")).length).toBe(1);
    for (let i = 0; i < 9; i++) localRecord([9], hash64("h" + i.toString()), 1000 + i, 4);
    const all = new Array<u64>();
    for (let i = 0; i < 9; i++) all.push(hash64("h" + i.toString()));
    all.push(hostIds[1]);
    // h0 (t=1000) and b (t=200) were the least recent; 8 remain
    expect(localMatch([9], all, 2000, 100000, 4).join(",")).toBe("0,1,1,1,1,1,1,1,1,0");
  });
});

describe("local prefix index refreshes", () => {
  it("leaves a block alone when its host used it within freshMs", () => {
    setKvBackend(new MemKv(1000000));
    localRecord([5], hostIds[0], 1000, 64);
    localRecord([5], hostIds[0], 1400, 64, 500);      // used 400 ms ago: not rewritten
    expect(localMatch([5], hostIds, 1450, 300, 64).join(",")).toBe("0,0,0");
    localRecord([5], hostIds[0], 1600, 64, 500);      // 600 ms ago: refreshed
    expect(localMatch([5], hostIds, 1650, 300, 64).join(",")).toBe("1,0,0");
  });
});

describe("local counters and round robin", () => {
  it("counts in-flight requests per route and host", () => {
    setKvBackend(new MemKv(1000000));
    expect(localAdjust("r|c", "h1", 1)).toBe(true);
    localAdjust("r|c", "h1", 1);
    localAdjust("r|c", "h2", 1);
    localAdjust("other|c", "h1", 1);
    localAdjust("r|c", "h1", -1);
    expect(localLoads("r|c", ["h1", "h2", "h3"]).join(",")).toBe("1,1,0");
  });
  it("runs smooth weighted round robin across calls, following the current host list", () => {
    setKvBackend(new MemKv(1000000));
    const a = hash64("a"), b = hash64("b"), c = hash64("c");
    const seq = new Array<i32>();
    for (let i = 0; i < 6; i++) seq.push(localRoundRobin("t", [a, b, c], [1, 1, 1]));
    expect(seq.join(",")).toBe("0,1,2,0,1,2");
    // c leaves: a and b keep alternating
    const two = new Array<i32>();
    for (let i = 0; i < 4; i++) two.push(localRoundRobin("t", [a, b], [1, 1]));
    expect(two.filter((x) => x == 0).length).toBe(2);
    expect(two.filter((x) => x == 1).length).toBe(2);
    expect(localRoundRobin("t", [a], [0])).toBe(-1);
  });
});
