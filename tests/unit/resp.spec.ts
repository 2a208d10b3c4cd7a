import {
  parseResp, parseRespAll, respError, respCommand, respEval, respEvalSha, RespScript, isNoScript,
  RespType, RespValue, MAX_DEPTH,
} from "../../shared/resp";

function buf(s: string): ArrayBuffer { return String.UTF8.encode(s); }
function text(b: ArrayBuffer): string { return String.UTF8.decode(b); }
function ok(s: string): RespValue {
  const v = parseResp(buf(s));
  expect(respError()).toBe("", s);
  return v != null ? v : new RespValue(RespType.Error);
}
function bad(s: string): string {
  expect(parseResp(buf(s))).toBeNull(s);
  return respError();
}

describe("respCommand", () => {
  it("encodes arrays of bulk strings with UTF-8 byte lengths", () => {
    expect(text(respCommand(["GET", "k"]))).toBe("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    expect(text(respCommand(["SET", "clé", ""]))).toBe("*3\r\n$3\r\nSET\r\n$4\r\nclé\r\n$0\r\n\r\n");
    expect(text(respCommand([]))).toBe("*0\r\n");
    const long = "x".repeat(1234);
    expect(text(respCommand([long]))).toBe("*1\r\n$1234\r\n" + long + "\r\n");
  });
  it("keeps CR/LF inside arguments (bulk strings are length-prefixed)", () => {
    expect(text(respCommand(["SET", "a\r\nb"]))).toBe("*2\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n");
  });
  it("builds EVAL and EVALSHA", () => {
    expect(text(respEval("return 1", ["k1", "k2"], ["5"])))
      .toBe("*6\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n2\r\n$2\r\nk1\r\n$2\r\nk2\r\n$1\r\n5\r\n");
    expect(text(respEvalSha("abc", [], []))).toBe("*3\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n0\r\n");
  });
  it("RespScript pairs EVALSHA with the EVAL fallback", () => {
    const s = new RespScript("return 1");
    expect(s.sha).toBe("e0e1f9fabfc9d4800c877a703b823ac0578ff8db"); // as Redis's SCRIPT LOAD reports it
    expect(text(s.evalSha(["k"], ["a"]))).toBe(text(respEvalSha(s.sha, ["k"], ["a"])));
    expect(text(s.eval(["k"], ["a"]))).toBe(text(respEval("return 1", ["k"], ["a"])));
    expect(isNoScript(parseResp(buf("-NOSCRIPT No matching script. Please use EVAL.\r\n")))).toBe(true);
    expect(isNoScript(parseResp(buf("-ERR unknown command\r\n")))).toBe(false);
    expect(isNoScript(parseResp(buf("+NOSCRIPT\r\n")))).toBe(false);
    expect(isNoScript(null)).toBe(false);
  });
});

describe("parseResp: RESP2", () => {
  it("simple strings, errors and integers", () => {
    const s = ok("+OK\r\n");
    expect(s.type).toBe(RespType.Simple);
    expect(s.asString()).toBe("OK");
    const e = ok("-WRONGTYPE Operation against a key\r\n");
    expect(e.isError()).toBe(true);
    expect(e.str).toBe("WRONGTYPE Operation against a key");
    expect(ok(":1000\r\n").asInt()).toBe(1000);
    expect(ok(":-42\r\n").int).toBe(-42);
    expect(ok(":9223372036854775807\r\n").int).toBe(i64.MAX_VALUE);
    expect(ok(":-9223372036854775808\r\n").int).toBe(i64.MIN_VALUE);
    expect(ok(":7\r\n").asString()).toBe("7");
  });
  it("bulk strings, empty and null", () => {
    const b = ok("$6\r\nfoo\r\nb\r\n");
    expect(b.type).toBe(RespType.Bulk);
    expect(b.str).toBe("foo\r\nb");
    expect(ok("$0\r\n\r\n").str).toBe("");
    expect(ok("$4\r\nclé\r\n").str).toBe("clé");
    expect(ok("$-1\r\n").isNull()).toBe(true);
  });
  it("arrays: empty, null, nested, with nulls inside", () => {
    expect(ok("*0\r\n").items.length).toBe(0);
    expect(ok("*-1\r\n").isNull()).toBe(true);
    const a = ok("*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n");
    expect(a.type).toBe(RespType.Array);
    expect(a.items.length).toBe(3);
    expect(a.at(0).asInt()).toBe(1);
    expect(a.at(1).at(0).str).toBe("a");
    expect(a.at(1).at(1).isNull()).toBe(true);
    expect(a.at(2).str).toBe("x");
    expect(a.at(3).isNull()).toBe(true);     // out of range: Null, not a trap
    expect(a.at(-1).isNull()).toBe(true);
  });
  it("asInt parses numeric bulk/simple strings and falls back otherwise", () => {
    expect(ok("$2\r\n42\r\n").asInt()).toBe(42);
    expect(ok("+-17\r\n").asInt()).toBe(-17);
    expect(ok("$3\r\n1.5\r\n").asInt(-1)).toBe(-1);
    expect(ok("$3\r\n 42\r\n").asInt(-1)).toBe(-1);
    expect(ok("$0\r\n\r\n").asInt(-1)).toBe(-1);
    expect(ok("$1\r\n-\r\n").asInt(-1)).toBe(-1);
    expect(ok("$20\r\n99999999999999999999\r\n").asInt(-1)).toBe(-1);
    expect(ok("$-1\r\n").asInt(5)).toBe(5);
    expect(ok("-ERR 12\r\n").asInt(5)).toBe(5);
    expect(ok("*1\r\n:3\r\n").asInt(5)).toBe(5);
  });
});

describe("parseResp: RESP3", () => {
  it("null, booleans, doubles, big numbers", () => {
    expect(ok("_\r\n").isNull()).toBe(true);
    expect(ok("#t\r\n").asInt()).toBe(1);
    expect(ok("#f\r\n").asString()).toBe("false");
    expect(ok(",3.25\r\n").asFloat()).toBe(3.25);
    expect(ok(",-1e3\r\n").asFloat()).toBe(-1000.0);
    expect(ok(",inf\r\n").asFloat()).toBe(Infinity);
    expect(ok(",-inf\r\n").asFloat()).toBe(-Infinity);
    expect(isNaN(ok(",nan\r\n").asFloat())).toBe(true);
    expect(ok(",10\r\n").asInt()).toBe(10);
    expect(ok(",3.25\r\n").asInt(-1)).toBe(-1);
    expect(ok("$3\r\n2.5\r\n").asFloat()).toBe(2.5);      // INCRBYFLOAT replies in a bulk string
    expect(ok(":7\r\n").asFloat()).toBe(7.0);
    expect(ok("$1\r\nx\r\n").asFloat(-1)).toBe(-1.0);
    expect(ok("*0\r\n").asFloat(-1)).toBe(-1.0);
    const big = ok("(3492890328409238509324850943850943825024385\r\n");
    expect(big.type).toBe(RespType.BigNumber);
    expect(big.asInt(-1)).toBe(-1);
    expect(ok("(-12\r\n").asInt()).toBe(-12);
  });
  it("maps, sets, pushes, verbatim strings, blob errors, attributes", () => {
    const m = ok("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n");
    expect(m.type).toBe(RespType.Map);
    expect(m.items.length).toBe(4);
    expect(m.at(2).str).toBe("second");
    expect(m.at(3).asInt()).toBe(2);
    const s = ok("~2\r\n+a\r\n+b\r\n");
    expect(s.type).toBe(RespType.Set);
    expect(s.items.length).toBe(2);
    expect(ok(">2\r\n+message\r\n+hi\r\n").type).toBe(RespType.Push);
    const v = ok("=15\r\ntxt:Some string\r\n");
    expect(v.type).toBe(RespType.Bulk);
    expect(v.str).toBe("Some string");
    const e = ok("!21\r\nSYNTAX invalid syntax\r\n");
    expect(e.isError()).toBe(true);
    expect(e.str).toBe("SYNTAX invalid syntax");
    const withAttr = ok("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2039123\r\n");
    expect(withAttr.type).toBe(RespType.Array);
    expect(withAttr.at(0).asInt()).toBe(2039123);
  });
});

describe("parseResp: malformed and truncated replies", () => {
  it("rejects bad framing with a reason", () => {
    expect(bad("")).toBe("truncated reply");
    expect(bad("+OK")).toBe("truncated reply");
    expect(bad("+OK\r")).toBe("truncated reply");
    expect(bad("+OK\rx\n")).toBe("CR without LF at byte 3");
    expect(bad("?\r\n")).toBe("unknown reply type at byte 0");
    expect(bad(":\r\n")).toBe("bad integer at byte 1");
    expect(bad(":12a\r\n")).toBe("bad integer at byte 1");
    expect(bad(":9223372036854775808\r\n")).toBe("bad integer at byte 1");
    expect(bad("$-2\r\n")).toBe("bad length at byte 0");
    expect(bad("*-2\r\n")).toBe("bad length at byte 0");
    expect(bad("~-1\r\n")).toBe("bad length at byte 0");
    expect(bad("$3\r\nabcd\r\n")).toBe("bulk not followed by CRLF at byte 7");
    expect(bad("$5\r\nab\r\n")).toBe("truncated reply");
    expect(bad("#x\r\n")).toBe("bad boolean at byte 0");
    expect(bad("#tt\r\n")).toBe("bad boolean at byte 0");
    expect(bad("_x\r\n")).toBe("bad null at byte 0");
    expect(bad("=2\r\nab\r\n")).toBe("bad verbatim string at byte 0");
    expect(bad("+OK\r\n+OK\r\n")).toBe("trailing bytes after reply");
  });
  it("never trusts declared sizes", () => {
    expect(bad("$9223372036854775807\r\nabc\r\n")).toBe("truncated reply");
    expect(bad("*2147483647\r\n:1\r\n")).toBe("truncated reply");
    expect(bad("%9223372036854775807\r\n")).toBe("truncated reply");
    expect(bad("*4\r\n:1\r\n:2\r\n:3\r\n")).toBe("truncated reply");
  });
  it("limits nesting depth", () => {
    expect(ok("*1\r\n".repeat(MAX_DEPTH) + ":1\r\n").type).toBe(RespType.Array);
    expect(bad("*1\r\n".repeat(MAX_DEPTH + 1) + ":1\r\n")).toBe("nesting deeper than " + MAX_DEPTH.toString());
    expect(bad("|0\r\n".repeat(MAX_DEPTH + 1) + ":1\r\n")).toBe("nesting deeper than " + MAX_DEPTH.toString());
  });
  it("reports every proper prefix of a valid reply as truncated", () => {
    const full = "*5\r\n$5\r\nhello\r\n:-12\r\n%1\r\n+k\r\n#t\r\n*2\r\n$-1\r\n,1.5\r\n=7\r\ntxt:abc\r\n";
    expect(ok(full).items.length).toBe(5);
    const bytes = buf(full);
    for (let n = 0; n < bytes.byteLength; n++) {
      expect(parseResp(bytes.slice(0, n))).toBeNull();
      expect(respError()).toBe("truncated reply", n.toString());
    }
  });
  it("survives random corruption", () => {
    const full = buf("*4\r\n$5\r\nhello\r\n:-12\r\n%1\r\n+k\r\n*2\r\n$-1\r\n(123\r\n~1\r\n_\r\n");
    const alphabet = "*$:+-%~#_,(=!|>\r\n0123456789-x";
    let seed: u32 = 12345;
    let parsed = 0, rejected = 0;
    for (let round = 0; round < 3000; round++) {
      const b = full.slice(0);
      for (let k = 0; k < 3; k++) {
        seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
        store<u8>(changetype<usize>(b) + <usize>(seed % <u32>b.byteLength), alphabet.charCodeAt(<i32>((seed >> 8) % <u32>alphabet.length)));
      }
      const v = parseResp(b);
      if (v == null) { expect(respError().length > 0).toBe(true); rejected++; } else parsed++;
    }
    expect(rejected > 0 && parsed > 0).toBe(true);
  });
});

describe("parseRespAll", () => {
  it("splits pipelined replies", () => {
    const all = parseRespAll(buf("+OK\r\n:3\r\n$-1\r\n"));
    expect(all != null && all.length == 3).toBe(true);
    if (all != null) expect(all[1].asInt()).toBe(3);
    const none = parseRespAll(buf(""));
    expect(none != null && none.length == 0).toBe(true);
    expect(parseRespAll(buf("+OK\r\n:3"))).toBeNull();
    expect(respError()).toBe("truncated reply");
  });
});
