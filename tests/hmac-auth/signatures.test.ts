// AK/SK requests signed by an independent TypeScript port of the Dify plugin's signer
// (signer.ts, node:crypto) against dist/hmac-auth.wasm in the host: what must pass, what every
// tamper returns, dates, nonces and Content-MD5.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sign, errorMessageFor, type SignInput } from "./signer.ts";
import { CONSUMERS, assertDenied, gateway, type Gateway } from "./harness.ts";

const [DIFY, OPS] = CONSUMERS;
const JSON_HEADERS = { "content-type": "application/json", accept: "*/*" };
const FORM = "application/x-www-form-urlencoded";

function signed(over: Partial<SignInput> & { method: string; path: string }, who = DIFY) {
  return sign({ key: who.key, secret: who.secret, ...over });
}

describe("requests signed as the Dify plugin signs them pass", () => {
  let gw: Gateway;
  before(async () => { gw = await gateway({ consumers: CONSUMERS }); });
  after(() => gw.close());

  it("a chat completion POST (JSON body, no Content-MD5) gets X-Mse-Consumer", async () => {
    const body = JSON.stringify({ model: "qwen-max", stream: true, messages: [{ role: "user", content: "你好" }] });
    const s = signed({ method: "POST", path: "/gw/prefix/v1/chat/completions", headers: JSON_HEADERS });
    const r = await gw.send({ method: "POST", path: "/gw/prefix/v1/chat/completions", headers: s.headers, body });
    assert.equal(r.status, 200, r.text);
    const up = gw.lastHeaders();
    assert.equal(up["x-mse-consumer"], "dify");
    assert.equal(up["x-ca-signature"], s.headers["x-ca-signature"], "credentials stay without hide_credentials");
    assert.equal(gw.received.at(-1)!.body.toString(), body);
  });

  const cases: Array<{ name: string; method: string; path: string; headers?: Record<string, string>; body?: string; contentMd5?: boolean; signedHeaders?: string[]; noDate?: boolean }> = [
    { name: "GET without query", method: "GET", path: "/v1/models", headers: { accept: "application/json" } },
    { name: "GET with repeated keys, empty values and a bare key", method: "GET", path: "/v1/models?b=2&a=1&a=3&empty=&flag" },
    { name: "GET with + and %-escapes in the query", method: "GET", path: "/search?q=hello+world%21&city=%E5%8C%97%E4%BA%AC&emoji=%F0%9F%98%80&plus=%2B" },
    { name: "POST form body with a query", method: "POST", path: "/http2test/test?param1=test", headers: { "content-type": FORM, accept: "application/json; charset=utf-8" }, body: "username=xiaoming&password=123456789&empty=&note=a+b%26c" },
    { name: "POST form with a charset parameter", method: "POST", path: "/form", headers: { "content-type": `${FORM}; charset=utf-8` }, body: "z=1&y=&%E5%90%8D=%E5%80%BC" },
    { name: "POST JSON with Content-MD5", method: "POST", path: "/v1/embeddings", headers: JSON_HEADERS, body: JSON.stringify({ input: ["a", "b"], model: "m" }), contentMd5: true },
    { name: "a %-encoded non-ASCII path", method: "POST", path: "/v1/%E6%A8%A1%E5%9E%8B/chat?k=v", headers: JSON_HEADERS, body: "{}" },
    { name: "a raw UTF-8 path and query", method: "GET", path: "/v1/模型/聊天?名=值&a=é" },
    { name: "extra signed headers in mixed case", method: "GET", path: "/x", headers: { "x-custom": "Value 1", "x-empty": "" }, signedHeaders: ["X-Custom", "x-ca-key", "X-Ca-Nonce", "x-ca-timestamp", "x-empty", "x-absent"] },
    { name: "a timestamp instead of Date (signed)", method: "GET", path: "/ts", noDate: true },
  ];
  for (const alg of ["HmacSHA256", "HmacSHA1"] as const) {
    for (const c of cases) {
      it(`${c.name} (${alg})`, async () => {
        const s = signed({ method: c.method, path: c.path, headers: c.headers, body: c.body, contentMd5: c.contentMd5, signedHeaders: c.signedHeaders, noDate: c.noDate, algorithm: alg }, OPS);
        const r = await gw.send({ method: c.method, path: c.path, headers: s.headers, body: c.body });
        assert.equal(r.status, 200, `${r.text} ${r.headers["x-ca-error-message"] ?? ""}\nclient: ${s.stringToSign}`);
        assert.equal(gw.lastHeaders()["x-mse-consumer"], "ops");
      });
    }
  }

  it("matches Higress's published form example byte for byte", async () => {
    // README example: its string to sign, re-signed with a known secret.
    const s = signed({
      method: "POST", path: "/http2test/test?param1=test",
      headers: { accept: "application/json; charset=utf-8", "content-type": `${FORM}; charset=utf-8` },
      body: "username=xiaoming&password=123456789", nowMs: Date.now(),
    });
    assert.match(s.stringToSign, /\n\/http2test\/test\?param1=test&password=123456789&username=xiaoming$/);
    const r = await gw.send({ method: "POST", path: "/http2test/test?param1=test", headers: s.headers, body: "username=xiaoming&password=123456789" });
    assert.equal(r.status, 200, r.text);
  });
});

describe("every tamper is refused with Higress's status", () => {
  let gw: Gateway;
  before(async () => { gw = await gateway({ consumers: CONSUMERS }); });
  after(() => gw.close());

  async function expectBadSignature(init: { method: string; path: string; headers: Record<string, string>; body?: string }, serverSts: string) {
    const r = await gw.send(init);
    assertDenied(r, 400, "Invalid Signature");
    assert.equal(r.headers["x-ca-error-message"], errorMessageFor(serverSts));
  }

  it("one byte of a body covered by Content-MD5", async () => {
    const body = JSON.stringify({ model: "m", messages: [{ role: "user", content: "pay 10" }] });
    const s = signed({ method: "POST", path: "/v1/chat/completions", headers: JSON_HEADERS, body, contentMd5: true });
    const r = await gw.send({ method: "POST", path: "/v1/chat/completions", headers: s.headers, body: body.replace("10", "90") });
    assertDenied(r, 400, "Invalid Content-MD5");
    assert.equal(gw.received.length, 0);
  });

  it("one byte of a form body (its fields are signed)", async () => {
    const body = "amount=10&to=alice";
    const s = signed({ method: "POST", path: "/pay", headers: { "content-type": FORM }, body });
    const tampered = body.replace("10", "90");
    const r = await gw.send({ method: "POST", path: "/pay", headers: s.headers, body: tampered });
    assertDenied(r, 400, "Invalid Signature");
    assert.equal(r.headers["x-ca-error-message"], errorMessageFor(s.stringToSign.replace("amount=10", "amount=90")));
  });

  it("a signed header", async () => {
    const s = signed({ method: "GET", path: "/v1/models" });
    const ts = String(Number(s.headers["x-ca-timestamp"]) + 1);
    await expectBadSignature({ method: "GET", path: "/v1/models", headers: { ...s.headers, "x-ca-timestamp": ts } },
      s.stringToSign.replace(`x-ca-timestamp:${s.headers["x-ca-timestamp"]}`, `x-ca-timestamp:${ts}`));
  });

  it("Accept and Content-Type (always signed)", async () => {
    const s = signed({ method: "POST", path: "/v1/chat/completions", headers: JSON_HEADERS });
    await expectBadSignature({ method: "POST", path: "/v1/chat/completions", headers: { ...s.headers, accept: "text/html" }, body: "{}" },
      s.stringToSign.replace("\n*/*\n", "\ntext/html\n"));
    const s2 = signed({ method: "POST", path: "/v1/chat/completions", headers: JSON_HEADERS });
    await expectBadSignature({ method: "POST", path: "/v1/chat/completions", headers: { ...s2.headers, "content-type": "text/plain" }, body: "{}" },
      s2.stringToSign.replace("application/json", "text/plain"));
  });

  it("the path, a query value, the method", async () => {
    const s = signed({ method: "GET", path: "/v1/models?page=1" });
    await expectBadSignature({ method: "GET", path: "/v1/admin?page=1", headers: s.headers }, s.stringToSign.replace("/v1/models", "/v1/admin"));
    const s2 = signed({ method: "GET", path: "/v1/models?page=1" });
    await expectBadSignature({ method: "GET", path: "/v1/models?page=2", headers: s2.headers }, s2.stringToSign.replace("page=1", "page=2"));
    const s3 = signed({ method: "GET", path: "/v1/models" });
    await expectBadSignature({ method: "DELETE", path: "/v1/models", headers: s3.headers }, s3.stringToSign.replace(/^GET/, "DELETE"));
  });

  it("the Date (still inside the window)", async () => {
    const s = signed({ method: "GET", path: "/x" });
    const date = new Date(Date.parse(s.headers.date) - 5000).toUTCString();
    await expectBadSignature({ method: "GET", path: "/x", headers: { ...s.headers, date } }, s.stringToSign.replace(s.headers.date, date));
  });

  it("the signature method and the secret", async () => {
    const s = signed({ method: "GET", path: "/x" });
    const r = await gw.send({ method: "GET", path: "/x", headers: { ...s.headers, "x-ca-signature-method": "HmacSHA1" } });
    assertDenied(r, 400, "Invalid Signature");
    const wrong = sign({ method: "GET", path: "/x", key: DIFY.key, secret: "not-the-secret" });
    await expectBadSignature({ method: "GET", path: "/x", headers: wrong.headers }, wrong.stringToSign);
  });

  it("a replayed nonce, also on another worker VM", async () => {
    const multi = await gateway({ consumers: CONSUMERS }, { vms: 3 });
    try {
      const s = signed({ method: "POST", path: "/v1/chat/completions", headers: JSON_HEADERS });
      const first = await multi.send({ method: "POST", path: "/v1/chat/completions", headers: s.headers, body: "{}" });
      assert.equal(first.status, 200, first.text);
      for (let i = 0; i < 4; i++) {
        const again = await multi.send({ method: "POST", path: "/v1/chat/completions", headers: s.headers, body: "{}" });
        assertDenied(again, 400, "Nonce Used");
      }
      assert.equal(multi.received.length, 1);
    } finally { multi.close(); }
  });

  it("a nonce that is missing or not signed", async () => {
    const s = signed({ method: "GET", path: "/x", signedHeaders: ["x-ca-key", "x-ca-timestamp"] });
    assertDenied(await gw.send({ method: "GET", path: "/x", headers: s.headers }), 400, "Invalid Nonce");
    const s2 = signed({ method: "GET", path: "/x" });
    const { "x-ca-nonce": _, ...noNonce } = s2.headers;
    assertDenied(await gw.send({ method: "GET", path: "/x", headers: noNonce }), 400, "Invalid Nonce");
  });
});

describe("the date window", () => {
  it("is enforced by default (900 s) on Date, or on a signed x-ca-timestamp", async () => {
    const gw = await gateway({ consumers: CONSUMERS });
    try {
      const old = signed({ method: "GET", path: "/x", nowMs: Date.now() - 20 * 60_000 });
      assertDenied(await gw.send({ method: "GET", path: "/x", headers: old.headers }), 400, "Invalid Date");
      const future = signed({ method: "GET", path: "/x", nowMs: Date.now() + 20 * 60_000 });
      assertDenied(await gw.send({ method: "GET", path: "/x", headers: future.headers }), 400, "Invalid Date");
      const recent = signed({ method: "GET", path: "/x", nowMs: Date.now() - 10 * 60_000 });
      assert.equal((await gw.send({ method: "GET", path: "/x", headers: recent.headers })).status, 200);
      const oldTs = signed({ method: "GET", path: "/x", nowMs: Date.now() - 20 * 60_000, noDate: true });
      assertDenied(await gw.send({ method: "GET", path: "/x", headers: oldTs.headers }), 400, "Invalid Date");
      // A timestamp that is not signed could be moved forward to replay: without Date it counts as no time.
      const unsigned = signed({ method: "GET", path: "/x", noDate: true, signedHeaders: ["x-ca-key", "x-ca-nonce"] });
      assertDenied(await gw.send({ method: "GET", path: "/x", headers: unsigned.headers }), 400, "Invalid Date");
      const s = signed({ method: "GET", path: "/x" });
      assertDenied(await gw.send({ method: "GET", path: "/x", headers: { ...s.headers, date: "yesterday" } }), 400, "Invalid Date");
    } finally { gw.close(); }
  });

  it("follows date_offset, and date_offset 0 turns it off", async () => {
    const tight = await gateway({ consumers: CONSUMERS, date_offset: 60 });
    const off = await gateway({ consumers: CONSUMERS, date_offset: 0 });
    try {
      const twoMin = () => signed({ method: "GET", path: "/x", nowMs: Date.now() - 120_000 });
      assertDenied(await tight.send({ method: "GET", path: "/x", headers: twoMin().headers }), 400, "Invalid Date");
      assert.equal((await off.send({ method: "GET", path: "/x", headers: twoMin().headers })).status, 200);
      const ancient = signed({ method: "GET", path: "/x", nowMs: Date.parse("2001-01-01T00:00:00Z") });
      assert.equal((await off.send({ method: "GET", path: "/x", headers: ancient.headers })).status, 200);
      // Without a window the nonce is still spent (for nonce.ttl).
      assertDenied(await off.send({ method: "GET", path: "/x", headers: ancient.headers }), 400, "Nonce Used");
    } finally { tight.close(); off.close(); }
  });

  it("lets a replay through when nonce.enabled is false (Higress's behaviour)", async () => {
    const gw = await gateway({ consumers: CONSUMERS, nonce: { enabled: false } });
    try {
      const s = signed({ method: "GET", path: "/x", signedHeaders: ["x-ca-key"] });
      assert.equal((await gw.send({ method: "GET", path: "/x", headers: s.headers })).status, 200);
      assert.equal((await gw.send({ method: "GET", path: "/x", headers: s.headers })).status, 200);
    } finally { gw.close(); }
  });
});

describe("keys, signatures and bodies", () => {
  let gw: Gateway;
  before(async () => { gw = await gateway({ consumers: CONSUMERS, max_body_bytes: 1024 }); });
  after(() => gw.close());

  it("401 Invalid Key without or with an unknown x-ca-key, 401 Empty Signature", async () => {
    assertDenied(await gw.send({ method: "GET", path: "/x" }), 401, "Invalid Key");
    const s = sign({ method: "GET", path: "/x", key: "ak-nobody", secret: "x" });
    assertDenied(await gw.send({ method: "GET", path: "/x", headers: s.headers }), 401, "Invalid Key");
    const s2 = signed({ method: "GET", path: "/x" });
    assertDenied(await gw.send({ method: "GET", path: "/x", headers: { ...s2.headers, "x-ca-signature": "" } }), 401, "Empty Signature");
  });

  it("reads no body unless it must: a big JSON body passes a small max_body_bytes", async () => {
    const body = JSON.stringify({ input: "x".repeat(100 * 1024) });
    const s = signed({ method: "POST", path: "/v1/embeddings", headers: JSON_HEADERS });
    const r = await gw.send({ method: "POST", path: "/v1/embeddings", headers: s.headers, chunks: [body.slice(0, 5000), body.slice(5000)] });
    assert.equal(r.status, 200, r.text);
    assert.equal(gw.received.at(-1)!.body.toString(), body);
  });

  it("413 when a body it must read is larger than max_body_bytes", async () => {
    const body = "a=" + "x".repeat(2000);
    const s = signed({ method: "POST", path: "/form", headers: { "content-type": FORM }, body });
    assertDenied(await gw.send({ method: "POST", path: "/form", headers: s.headers, body }), 413, "Request Body Too Large");
    // Streamed without content-length: refused once the buffered size passes the limit.
    const s2 = signed({ method: "POST", path: "/form", headers: { "content-type": FORM }, body });
    const r = await gw.send({ method: "POST", path: "/form", headers: s2.headers, chunks: [body.slice(0, 800), body.slice(800, 1600), body.slice(1600)] });
    assertDenied(r, 413, "Request Body Too Large");
  });

  it("checks Content-MD5 whenever present, also on an empty body", async () => {
    const s = signed({ method: "POST", path: "/v1/x", headers: JSON_HEADERS, body: "", contentMd5: true });
    assert.equal((await gw.send({ method: "POST", path: "/v1/x", headers: s.headers })).status, 200);
    const s2 = signed({ method: "POST", path: "/v1/x", headers: JSON_HEADERS });
    const md5 = createHash("md5").update("other").digest("base64");
    const headers = { ...s2.headers, "content-md5": md5 };
    // Content-MD5 is part of the string to sign: sign again with it.
    const s3 = signed({ method: "POST", path: "/v1/x", headers: { ...JSON_HEADERS, "content-md5": md5 } });
    assertDenied(await gw.send({ method: "POST", path: "/v1/x", headers: { ...s3.headers }, body: "{}" }), 400, "Invalid Content-MD5");
    // A bad signature is reported before a bad Content-MD5 (Higress's order).
    assertDenied(await gw.send({ method: "POST", path: "/v1/x", headers, body: "{}" }), 400, "Invalid Signature");
  });

  it("a form body followed by trailers", async () => {
    const body = "a=1&b=2";
    const s = signed({ method: "POST", path: "/form", headers: { "content-type": FORM }, body });
    const r = await gw.send({ method: "POST", path: "/form", headers: s.headers, body, trailers: { "x-checksum": "1" } });
    assert.equal(r.status, 200, r.text);
    assert.equal(gw.received.at(-1)!.body.toString(), body);
    const s2 = signed({ method: "POST", path: "/form", headers: { "content-type": FORM }, body });
    assertDenied(await gw.send({ method: "POST", path: "/form", headers: s2.headers, body: "a=1&b=3", trailers: { "x-checksum": "1" } }), 400, "Invalid Signature");
  });

  it("a form body split across many chunks", async () => {
    const body = "b=2&a=1&" + Array.from({ length: 40 }, (_, i) => `k${i}=v%20${i}`).join("&");
    const s = signed({ method: "POST", path: "/form?q=1", headers: { "content-type": FORM }, body });
    const chunks = body.match(/.{1,7}/g)!;
    const r = await gw.send({ method: "POST", path: "/form?q=1", headers: s.headers, chunks });
    assert.equal(r.status, 200, r.text);
    assert.equal(gw.received.at(-1)!.body.toString(), body);
  });
});
