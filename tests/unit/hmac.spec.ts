// hmac-auth's pure parts: parameter decoding and order, the string to sign, HTTP dates,
// timestamps and the local nonce ring (over an in-memory shared-data stand-in).
// The whole plugin against an independent signer runs in tests/hmac-auth/*.test.ts.
import { Params, compareCodePoints, formDecode, queryParams, utf8Lossy, withoutParam } from "../../plugins/hmac-auth/params";
import {
  HeaderView, errorMessage, headerPart, pathAndParameters, signature, signatureAlg, signedHeaderNames,
} from "../../plugins/hmac-auth/sign";
import { asciiLower } from "../../plugins/hmac-auth/text";
import { NO_TIME, parseHttpDate, parseTimestamp } from "../../plugins/hmac-auth/httpdate";
import { Claim, claimLocalNonce, nonceFingerprint } from "../../plugins/hmac-auth/nonce";
import { Header } from "../../shared/proxy/hostcalls";
import { setKvBackend } from "../../shared/kv";
import { MemKv } from "./support/mem-kv";
import { HashAlg, utf8 } from "../../shared/crypto";

function lossy(bytes: i32[]): string {
  const b = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) b[i] = <u8>bytes[i];
  return utf8Lossy(b.dataStart, b.length);
}

function params(q: string): string {
  const p = new Params();
  p.addEncoded(utf8(q));
  return p.toString();
}

describe("parameters", () => {
  it("sorts keys, keeps the first value, writes k= for empty values", () => {
    expect(params("b=2&a=1&a=3&c=")).toBe("a=1&b=2&c=");
    expect(params("flag&x=1")).toBe("flag=&x=1");
  });
  it("decodes as application/x-www-form-urlencoded", () => {
    expect(params("q=a+b%20c%2Bd")).toBe("q=a b c+d");
    expect(params("k%C3%A9y=%E4%BD%A0%E5%A5%BD")).toBe("kéy=你好");
    expect(params("t=%41")).toBe("t=A");
    expect(params("bad=%zz%4")).toBe("bad=%zz%4");    // bad escapes stay as they are
  });
  it("skips empty segments", () => {
    expect(params("&&a=1&&")).toBe("a=1");
    expect(params("")).toBe("");
  });
  it("orders by code point, not UTF-16 unit", () => {
    expect(compareCodePoints("\uE000", "😀")).toBeLessThan(0);
    expect(compareCodePoints("😀", "\uFFFF")).toBeGreaterThan(0);
    expect(compareCodePoints("a", "ab")).toBeLessThan(0);
    expect(params("%F0%9F%98%80=1&%EE%80%80=2&z=3")).toBe("z=3&\uE000=2&😀=1");
  });
  it("replaces invalid UTF-8 as the WHATWG decoder does (vectors from node's TextDecoder)", () => {
    expect(lossy([0xe6, 0x95, 0x25])).toBe("\ufffd%");
    expect(lossy([0xf0, 0x9f, 0x98, 0x80])).toBe("😀");
    expect(lossy([0xc0, 0x80])).toBe("\ufffd\ufffd");
    expect(lossy([0xed, 0xa0, 0x80])).toBe("\ufffd\ufffd\ufffd");
    expect(lossy([0xe6])).toBe("\ufffd");
    expect(lossy([0xf4, 0x90, 0x80, 0x80])).toBe("\ufffd\ufffd\ufffd\ufffd");
    expect(lossy([0xe0, 0x80, 0x41])).toBe("\ufffd\ufffdA");
    expect(lossy([0xf0, 0x9f, 0x41])).toBe("\ufffdA");
    expect(lossy([0x61, 0xff, 0x62])).toBe("a\ufffdb");
    expect(lossy([0xe2, 0x82, 0xac, 0xe2, 0x82])).toBe("€\ufffd");
    expect(params("k=%E6%95%25")).toBe("k=\ufffd%");
  });
  it("decodes a byte range", () => {
    expect(formDecode(utf8("xa%2Fby"), 1, 6)).toBe("a/b");
  });
  it("reads and strips query parameters", () => {
    const q = queryParams("/p?api_key=k%201&x=2");
    expect(q.get("api_key")).toBe("k 1");
    expect(q.get("nope")).toBeNull();
    expect(withoutParam("/p?api_key=k&x=2&api%5Fkey=z", "api_key")).toBe("/p?x=2");
    expect(withoutParam("/p?api_key=k", "api_key")).toBe("/p");
    expect(withoutParam("/p", "api_key")).toBe("/p");
  });
});

describe("path and parameters", () => {
  it("is the bare path without parameters", () => {
    expect(pathAndParameters("/v1/chat/completions", null)).toBe("/v1/chat/completions");
    expect(pathAndParameters("/p?", null)).toBe("/p");
  });
  it("merges query and form; the query's value wins", () => {
    expect(pathAndParameters("/p?b=&a=1", utf8("c=3&a=9"))).toBe("/p?a=1&b=&c=3");
  });
  it("does not decode the path itself", () => {
    expect(pathAndParameters("/%E6%95%B0/x?k=%E6%95%B0", null)).toBe("/%E6%95%B0/x?k=数");
  });
});

function view(pairs: string[]): HeaderView {
  const list = new Array<Header>();
  for (let i = 0; i + 1 < pairs.length; i += 2) list.push(new Header(pairs[i], pairs[i + 1]));
  return new HeaderView(list);
}

describe("string to sign", () => {
  it("lists signed headers lower-cased and sorted, without fixed and signature headers", () => {
    const names = signedHeaderNames("x-ca-timestamp,X-Ca-Key,x-ca-nonce,accept,x-ca-signature,Date,,x-ca-signature-method");
    expect(names.join(",")).toBe("x-ca-key,x-ca-nonce,x-ca-signature-method,x-ca-timestamp");
    expect(signedHeaderNames("").length).toBe(0);
  });
  it("writes the five fixed lines even when empty, then name:value per signed header", () => {
    const h = view([":method", "POST", "content-type", "application/json", "x-ca-key", "ak", "x-b", ""]);
    expect(headerPart(h, ["x-b", "x-ca-key", "x-missing"])).toBe("POST\n\n\napplication/json\n\nx-b:\nx-ca-key:ak\nx-missing:\n");
  });
  it("takes a header's first value", () => {
    const h = view(["x-a", "1", "x-a", "2"]);
    expect(h.value("x-a")).toBe("1");
    expect(h.value("x-none")).toBe("");
  });
  it("reproduces Higress's published test vector", () => {
    // plugin_test.cc (alibaba/higress hmac_auth): appKey/appSecret, GET, no signature method.
    const h = view([
      ":method", "GET", "accept", "application/json", "content-type", "application/json",
      "x-ca-timestamp", "1646365291734", "x-ca-nonce", "787dd0c2-7bd8-41cd-9c19-62c05ea524a2", "x-ca-key", "appKey",
    ]);
    const sts = headerPart(h, signedHeaderNames("x-ca-key,x-ca-nonce,x-ca-timestamp")) + pathAndParameters("/Third/Tools/checkSign", null);
    expect(signature(signatureAlg(""), utf8("appSecret"), sts)).toBe("EdJSFAMOWyXZOpXhevZnjuS0ZafnwnCqaSk5hz+tXo8=");
  });
  it("selects SHA-1 only for HmacSHA1", () => {
    expect(signatureAlg("HmacSHA1")).toBe(HashAlg.Sha1);
    expect(signatureAlg("HmacSHA256")).toBe(HashAlg.Sha256);
    expect(signatureAlg("hmacsha1")).toBe(HashAlg.Sha256);
  });
  it("puts the server's string in X-Ca-Error-Message with newlines as #", () => {
    expect(errorMessage("GET\n\n/p")).toBe("Server StringToSign:`GET##/p`");
    expect(errorMessage("a\r\nb\tc")).toBe("Server StringToSign:`a##b\tc`");
  });
  it("lower-cases ASCII only", () => {
    expect(asciiLower("X-Ca-KEY")).toBe("x-ca-key");
    expect(asciiLower("Ä-a")).toBe("Ä-a");
  });
});

describe("dates", () => {
  it("parses the HTTP date forms Higress accepts", () => {
    expect(parseHttpDate("Thu, 01 Jan 2026 00:00:00 GMT")).toBe(1767225600000);
    expect(parseHttpDate("Wed, 09 May 2018 13:30:29 GMT+00:00")).toBe(1525872629000);
    expect(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT")).toBe(784111777000);
    expect(parseHttpDate("Sun Nov  6 08:49:37 1994")).toBe(784111777000);
    expect(parseHttpDate(" Thu, 29 Feb 2024 23:59:59 GMT ")).toBe(1709251199000);
  });
  it("refuses anything else", () => {
    expect(parseHttpDate("")).toBe(NO_TIME);
    expect(parseHttpDate("Thu, 30 Feb 2024 00:00:00 GMT")).toBe(NO_TIME);
    expect(parseHttpDate("Thu, 01 Jan 2026 24:00:00 GMT")).toBe(NO_TIME);
    expect(parseHttpDate("Thu, 01 Jan 2026 00:00:00 UTC")).toBe(NO_TIME);
    expect(parseHttpDate("Thu, 01 Foo 2026 00:00:00 GMT")).toBe(NO_TIME);
    expect(parseHttpDate("1767225600")).toBe(NO_TIME);
    expect(parseHttpDate("Thu, 01 Jan 2026 00:00:00 GMT junk")).toBe(NO_TIME);
  });
  it("reads timestamps in ms (13+ digits) or seconds", () => {
    expect(parseTimestamp("1646365291734")).toBe(1646365291734);
    expect(parseTimestamp("1646365291")).toBe(1646365291000);
    expect(parseTimestamp("")).toBe(NO_TIME);
    expect(parseTimestamp("-1")).toBe(NO_TIME);
    expect(parseTimestamp("12a")).toBe(NO_TIME);
    expect(parseTimestamp("99999999999999999999")).toBe(NO_TIME);
  });
});


describe("local nonce store", () => {
  it("accepts a nonce once per key and signed time window", () => {
    const mem = new MemKv(0);
    setKvBackend(mem);
    const span: i64 = 900000;
    const t: i64 = 1767225600000;
    const fp = nonceFingerprint("ak", "n-1");
    expect(claimLocalNonce(fp, t, span, 0)).toBe(Claim.Fresh);
    expect(claimLocalNonce(fp, t, span, 0)).toBe(Claim.Replayed);
    expect(claimLocalNonce(nonceFingerprint("ak2", "n-1"), t, span, 0)).toBe(Claim.Fresh);
    expect(claimLocalNonce(nonceFingerprint("ak", "n-2"), t, span, 0)).toBe(Claim.Fresh);
    // Four buckets later the slot is reused: the old nonce is gone (its window closed long ago).
    expect(claimLocalNonce(fp, t + 4 * span, span, 0)).toBe(Claim.Fresh);
    expect(claimLocalNonce(fp, t + 4 * span, span, 0)).toBe(Claim.Replayed);
  });
  it("looks one bucket back when anchored at arrival time", () => {
    setKvBackend(new MemKv(0));
    const span: i64 = 1000;
    const fp = nonceFingerprint("ak", "n");
    expect(claimLocalNonce(fp, 5500, span, 1)).toBe(Claim.Fresh);
    expect(claimLocalNonce(fp, 6200, span, 1)).toBe(Claim.Replayed);
    expect(claimLocalNonce(fp, 7100, span, 1)).toBe(Claim.Fresh);
  });
  it("keeps routes with different windows apart", () => {
    setKvBackend(new MemKv(0));
    const fp = nonceFingerprint("ak", "n");
    expect(claimLocalNonce(fp, 1000000, 300000, 0)).toBe(Claim.Fresh);
    expect(claimLocalNonce(fp, 1000000, 900000, 0)).toBe(Claim.Fresh);
    expect(claimLocalNonce(fp, 1000000, 300000, 0)).toBe(Claim.Replayed);
  });
});
