// Random and mangled requests against every feature at once: the plugin must answer each with
// one of its statuses, never let an unsigned request through, and never trap.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { sign } from "./signer.ts";
import { CONSUMERS, WASM, buildPlugin, gateway } from "./harness.ts";

/** xorshift32: the same requests on every run. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 0x100000000; };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)];
  return { next, int, pick };
}

const ALPHABET = ["a", "Z", "0", "=", "&", "%", "+", "?", "/", ",", ":", ";", " ", "%2", "%zz", "%E6%95", "%F0%9F%98%80", "é", "数", "😀", "\t", "-", "\"", "#", "~"];

describe("fuzzed requests", () => {
  it("never trap and never admit an unsigned request", async () => {
    const gw = await gateway({
      consumers: [...CONSUMERS, { name: "app", api_key: "sk-app-1" }],
      api_key: { headers: ["authorization", "x-api-key"], query: ["key"] },
      global_auth: true, hide_credentials: true, max_body_bytes: 4096,
      ip_restriction: { ip_source_type: "header", hop: "last", deny: ["203.0.113.0/24", "2001:db8::/32"] },
      _rules_: [{ _match_route_: ["a"], allow: ["dify"] }],
    }, { routes: ["a", "b"], vms: 2 });
    const r = rng(0x5eed);
    const text = (max: number) => Array.from({ length: r.int(max) }, () => r.pick(ALPHABET)).join("");
    const statuses = new Map<number, number>();
    const allowed = new Set([200, 400, 401, 403, 413]);
    try {
      for (let i = 0; i < 1500; i++) {
        const path = r.pick(["/a/", "/b/", "/"]) + text(20) + (r.next() < 0.5 ? "?" + text(30) : "");
        const method = r.pick(["GET", "POST", "PUT", "DELETE", "get", ""]);
        const headers: Record<string, string> = {};
        const maybe = (name: string, value: () => string) => { if (r.next() < 0.5) headers[name] = value(); };
        if (r.next() < 0.8) headers["x-ca-key"] = r.pick([CONSUMERS[0].key, CONSUMERS[0].key, CONSUMERS[1].key, text(10), ""]);
        if (r.next() < 0.8) headers["x-ca-signature"] = r.pick([text(44), text(44), "", "=".repeat(r.int(50))]);
        maybe("x-ca-signature-method", () => r.pick(["HmacSHA1", "HmacSHA256", text(8)]));
        maybe("x-ca-signature-headers", () => r.pick(["x-ca-key,x-ca-nonce,x-ca-timestamp", ",,,", text(40), "date,accept," + text(5)]));
        maybe("x-ca-timestamp", () => r.pick([String(Date.now()), text(14), "9".repeat(r.int(30)), "-5"]));
        maybe("x-ca-nonce", () => r.pick([text(30), "x".repeat(200), ""]));
        if (r.next() < 0.7) headers["x-ca-signature-headers"] = "x-ca-key,x-ca-nonce";
        maybe("date", () => r.pick([new Date().toUTCString(), text(30), "Thu, 31 Feb 2026 99:99:99 GMT", "Sun Nov  6 08:49:37 1994"]));
        maybe("content-md5", () => r.pick([text(24), "1B2M2Y8AsgTpgAmY7PhCfg==", ""]));
        maybe("content-type", () => r.pick(["application/x-www-form-urlencoded", "APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8", "application/json", text(10)]));
        maybe("authorization", () => r.pick(["Bearer " + text(12), "Bearer", "bearer sk-app-x", text(20)]));
        maybe("x-api-key", () => text(16));
        headers["x-forwarded-for"] = r.next() < 0.8 ? "10.0.0.1" : r.pick(["203.0.113.9", "10.0.0.1, 203.0.113.9", "2001:db8::1", "[::1]:80", text(15), ", , ,"]);
        maybe("x-mse-consumer", () => "dify");
        const body = r.next() < 0.6 ? Buffer.from(text(r.pick([10, 100, 2000, 6000]))) : undefined;
        const chunks = body && body.length > 1 && r.next() < 0.5 ? [body.subarray(0, r.int(body.length)), body.subarray(0)] : undefined;
        const res = await gw.send({ method: method || "GET", path, headers, ...(chunks ? { chunks: [chunks[0], body!.subarray(chunks[0].length)] } : body ? { body } : {}) });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(allowed.has(res.status), `status ${res.status} for ${JSON.stringify({ method, path, headers })}: ${res.text}`);
        if (res.status === 200) {
          // Only an unauthenticated route could pass this: there is none (global_auth), so nothing random passes.
          assert.fail(`random request admitted: ${JSON.stringify({ method, path, headers })}`);
        }
      }
      // Valid requests, then one mangled byte in a signed part: the valid ones pass, the mangled never do.
      for (let i = 0; i < 300; i++) {
        const who = CONSUMERS[r.int(2)];
        const form = r.next() < 0.4;
        const path = "/b/" + text(10).replace(/[?#]/g, "") + "?" + text(20);
        const body = form ? text(200) : JSON.stringify({ n: i, s: text(50) });
        const s = sign({ method: "POST", path, key: who.key, secret: who.secret, body, contentMd5: !form && r.next() < 0.5,
          algorithm: r.pick(["HmacSHA256", "HmacSHA1"] as const),
          headers: { "content-type": form ? "application/x-www-form-urlencoded" : "application/json", accept: "*/*" } });
        const target = r.pick(["x-ca-signature", "x-ca-nonce", "x-ca-timestamp", "date", "accept", "path", "method"] as const);
        s.headers["x-forwarded-for"] = "10.0.0.1";
        const ok = await gw.send({ method: "POST", path, headers: s.headers, body });
        assert.equal(ok.status, 200, `valid request refused: ${ok.text} ${ok.headers["x-ca-error-message"] ?? ""}\n${s.stringToSign}`);
        const h = { ...s.headers, "x-ca-nonce": s.headers["x-ca-nonce"] + "-2" };
        let p = path, m = "POST";
        if (target === "path") p = path.replace("/b/", "/b/x");
        else if (target === "method") m = "PUT";
        else if (target === "x-ca-nonce") h["x-ca-nonce"] += "z";
        else h[target] = (h[target] ?? "") + "x";
        const bad = await gw.send({ method: m, path: p, headers: h, body });
        assert.ok([400, 401].includes(bad.status), `mangled ${target} got ${bad.status}`);
      }
      assert.equal(gw.host.trapCount(), 0);
      console.log("statuses:", JSON.stringify(Object.fromEntries(statuses)));
    } finally { gw.close(); }
  });
});

describe("module", () => {
  it("declares Higress's ABI 0_2_100 first, so Envoy honours a headers StopIteration", () => {
    buildPlugin();
    const names = WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(WASM))).map((e) => e.name).filter((n) => n.startsWith("proxy_abi_version_"));
    assert.equal(names[0], "proxy_abi_version_0_2_100");
  });
});
