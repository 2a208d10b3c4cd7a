// shared/json.ts: strict parsing (every malformed input gives null and a reason, never a trap),
// the JsonValue tree API, number and string formatting, limits, and GC safety of big parses.
import {
  JsonValue, JsonType, JsonLimits, parseJson, parseJsonBytes, jsonError, jsonQuote, jsonNumber,
} from "../../shared/json";

function mustParse(text: string): JsonValue {
  const v = parseJson(text);
  if (v == null) throw new Error("parse failed: " + text + " -> " + jsonError());
  return v;
}

function bytes(list: u8[]): ArrayBuffer {
  const b = new ArrayBuffer(list.length);
  for (let i = 0; i < list.length; i++) store<u8>(changetype<usize>(b) + <usize>i, list[i]);
  return b;
}

/** Asserts text is rejected and the reason mentions `reason`. */
function rejects(text: string, reason: string): void {
  expect(parseJson(text)).toBeNull(text);
  const why = jsonError();
  expect(why.includes(reason)).toBe(true, text + " gave: " + why);
}

function numberOf(text: string): f64 {
  return mustParse(text).asNumber(-12345);
}

describe("parseJson round trips", () => {
  it("re-serialises compactly with keys in input order", () => {
    const cases: string[][] = [
      [' { "b" : 1 , "a" : [ true , false , null ] , "c" : { } , "d" : [ ] } ', '{"b":1,"a":[true,false,null],"c":{},"d":[]}'],
      ['"plain"', '"plain"'],
      ['[-1.5,0,2e3,1E-2]', '[-1.5,0,2000,0.01]'],
      ['{"nested":{"deeper":[[[1]],{"x":"y"}]}}', '{"nested":{"deeper":[[[1]],{"x":"y"}]}}'],
      ['\t\r\n 42 \n', '42'],
    ];
    for (let i = 0; i < cases.length; i++) {
      const out = mustParse(cases[i][0]).toString();
      expect(out).toBe(cases[i][1]);
      expect(mustParse(out).toString()).toBe(out); // stable
    }
  });

  it("keeps the first position and the last value of a repeated key", () => {
    const v = mustParse('{"a":1,"b":2,"a":3}');
    expect(v.toString()).toBe('{"a":3,"b":2}');
    expect(v.length).toBe(2);
  });

  it("parses a realistic chat request", () => {
    const v = mustParse('{"model":"gpt-4o","stream":true,"temperature":0.7,"messages":[' +
      '{"role":"system","content":"You are \\"helpful\\".\\nBe brief."},' +
      '{"role":"user","content":"总结一下 😀"}],"max_tokens":1024}');
    expect(v.getString("model")).toBe("gpt-4o");
    expect(v.getBool("stream")).toBe(true);
    expect(v.getNumber("temperature")).toBe(0.7);
    expect(v.getInt("max_tokens")).toBe(1024);
    const messages = v.getArray("messages");
    expect(messages).not.toBeNull();
    if (messages) expect(messages.length).toBe(2);
    expect(v.path("messages.0.content")!.asString()).toBe('You are "helpful".\nBe brief.');
    expect(v.path("messages.1.content")!.asString()).toBe("总结一下 😀");
    expect(v.path("messages.1.role")!.asString()).toBe("user");
  });
});

describe("parseJson rejects malformed input", () => {
  it("rejects structural errors with the offending character and position", () => {
    rejects("[1,2,]", "unexpected ']' at 5");
    rejects('{"a":1,}', "unexpected '}' at 7");
    rejects("[1 2]", "unexpected '2' at 3");
    rejects('{"a" 1}', "unexpected '1' at 5");
    rejects('{"a":1 "b":2}', "unexpected '\"' at 7");
    rejects("{a:1}", "unexpected 'a' at 1");
    rejects("{'a':1}", "unexpected ''' at 1");
    rejects("[1]]", "unexpected ']' at 3");
    rejects("[1} ", "unexpected '}' at 2");
    rejects("{,}", "unexpected ',' at 1");
    rejects("[,1]", "unexpected ',' at 1");
    rejects("", "unexpected end of input at 0");
    rejects("   ", "unexpected end of input at 3");
    rejects("[1,2", "unexpected end of input at 4");
    rejects('{"a":', "unexpected end of input at 5");
  });

  it("rejects comments, trailing content and non-JSON literals", () => {
    rejects("[1] // c", "unexpected '/' at 4");
    rejects("/* c */ 1", "unexpected '/' at 0");
    rejects("1 2", "unexpected '2' at 2");
    rejects("NaN", "unexpected 'N' at 0");
    rejects("Infinity", "unexpected 'I' at 0");
    rejects("-Infinity", "invalid number at 1");
    rejects("tru", "unexpected 't' at 0");
    rejects("nul", "unexpected 'n' at 0");
    rejects("True", "unexpected 'T' at 0");
    rejects("truex", "unexpected 'x' at 4");
    rejects("undefined", "unexpected 'u' at 0");
  });

  it("rejects malformed numbers", () => {
    rejects("01", "leading zero in number at 0");
    rejects("-01", "leading zero in number at 1");
    rejects("+1", "unexpected '+' at 0");
    rejects(".5", "unexpected '.' at 0");
    rejects("1.", "unexpected end of input in number at 2");
    rejects("1.e5", "invalid number at 2");
    rejects("1e", "unexpected end of input in number at 2");
    rejects("1e+", "unexpected end of input in number at 3");
    rejects("--1", "invalid number at 1");
    rejects("0x10", "unexpected 'x' at 1");
    rejects("[1e400]", "number out of range at 1");
    rejects("-1e400", "number out of range at 0");
    rejects("1.7976931348623159e308", "number out of range at 0");
  });

  it("rejects bad strings: escapes, control characters, unterminated", () => {
    rejects('"\\x"', "invalid escape at 1");
    rejects('"\\u12"', "invalid \\u escape at 1");
    rejects('"\\u12G4"', "invalid \\u escape at 1");
    rejects('"a\\', "unterminated string at 0");
    rejects('"abc', "unterminated string at 0");
    rejects('["ok","abc', "unterminated string at 6");
    rejects('"tab\there"', "control character in string at 4");
    rejects('"nl\nhere"', "control character in string at 3");
    rejects('"\u0000"', "control character in string at 1");
  });

  it("rejects invalid UTF-8 in parseJsonBytes", () => {
    const bad: u8[][] = [
      [0x22, 0xC0, 0x80, 0x22],             // overlong NUL
      [0x22, 0xE0, 0x80, 0xAF, 0x22],       // overlong '/'
      [0x22, 0xED, 0xA0, 0x80, 0x22],       // encoded surrogate
      [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], // above U+10FFFF
      [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], // above U+10FFFF
      [0x22, 0x80, 0x22],                   // lone continuation byte
      [0x22, 0xE4, 0xB8, 0x22],             // truncated sequence
      [0x22, 0xFF, 0x22],
    ];
    for (let i = 0; i < bad.length; i++) {
      expect(parseJsonBytes(bytes(bad[i]))).toBeNull();
      expect(jsonError()).toBe("invalid UTF-8 at 1");
    }
    // Bytes outside strings are structural errors.
    expect(parseJsonBytes(bytes([0xE4, 0xB8, 0xAD]))).toBeNull();
    expect(jsonError()).toBe("unexpected byte 0xe4 at 0");
    // Valid multi-byte UTF-8 decodes.
    const ok = parseJsonBytes(bytes([0x22, 0xC3, 0xA9, 0xE4, 0xB8, 0xAD, 0xF0, 0x9F, 0x98, 0x80, 0x22]));
    expect(ok).not.toBeNull();
    expect(ok!.asString()).toBe("é中😀");
  });

  it("clears the error after a successful parse", () => {
    rejects("[", "end of input");
    mustParse("[]");
    expect(jsonError()).toBe("");
  });
});

describe("limits", () => {
  it("rejects 100k nested arrays without exhausting the stack", () => {
    const deep = "[".repeat(100000);
    expect(parseJson(deep)).toBeNull();
    expect(jsonError()).toBe("nesting deeper than 64 at 64");
    const closed = "[".repeat(100000) + "]".repeat(100000);
    expect(parseJson(closed)).toBeNull();
    expect(jsonError()).toBe("nesting deeper than 64 at 64");
  });

  it("accepts nesting up to maxDepth and rejects one more", () => {
    expect(parseJson("[".repeat(64) + "]".repeat(64))).not.toBeNull();
    expect(parseJson("[".repeat(65) + "]".repeat(65))).toBeNull();
    const lim = new JsonLimits();
    lim.maxDepth = 3;
    expect(parseJson('{"a":[{}]}', lim)).not.toBeNull();
    expect(parseJson('{"a":[{"b":[]}]}', lim)).toBeNull();
    expect(jsonError()).toBe("nesting deeper than 3 at 11");
  });

  it("handles a 5000-deep tree iteratively when the limit allows it", () => {
    const lim = new JsonLimits();
    lim.maxDepth = 100000;
    const text = '{"a":'.repeat(5000) + "1" + "}".repeat(5000);
    const v = parseJson(text, lim);
    expect(v != null).toBe(true); // not expect(v): as-pect would reflect the deep tree recursively
    if (v) {
      expect(v.toString()).toBe(text);
      expect(v.clone().toString()).toBe(text);
    }
  });

  it("rejects input above maxBytes before parsing", () => {
    const lim = new JsonLimits();
    lim.maxBytes = 10;
    expect(parseJson("[1,2,3,4,5]", lim)).toBeNull();
    expect(jsonError()).toBe("input of 11 bytes exceeds maxBytes 10");
    expect(parseJson("[1,2,3,4]", lim)).not.toBeNull();
  });
});

describe("numbers", () => {
  it("parses integers, fractions and exponents exactly", () => {
    expect(numberOf("0")).toBe(0);
    expect(numberOf("-7")).toBe(-7);
    expect(numberOf("0.1")).toBe(0.1);
    expect(numberOf("-2.5e-3")).toBe(-0.0025);
    expect(numberOf("1E2")).toBe(100);
    expect(numberOf("1e308")).toBe(1e308);
    expect(numberOf("1e-400")).toBe(0);
    expect(numberOf("0e999999999")).toBe(0);
  });

  it("keeps the sign of -0 and writes it as 0", () => {
    const z = numberOf("-0");
    expect(z).toBe(0);
    expect(1 / z).toBe(-Infinity);
    expect(mustParse("-0.0").toString()).toBe("0");
  });

  it("rounds long and hard decimals correctly to f64", () => {
    expect(numberOf("12345678901234567")).toBe(12345678901234568);
    expect(numberOf("9007199254740993")).toBe(9007199254740992);
    expect(numberOf("0.30000000000000004")).toBe(0.30000000000000004);
    expect(numberOf("1e23")).toBe(1e23);
    expect(numberOf("2.2250738585072011e-308")).toBe(2.2250738585072011e-308);
    expect(numberOf("4.9e-324")).toBe(5e-324);
    expect(numberOf("2.4703282292062328e-324")).toBe(5e-324); // just above half the smallest subnormal
    expect(numberOf("2.4703282292062327e-324")).toBe(0);      // just below
    expect(numberOf("1.7976931348623157e308")).toBe(f64.MAX_VALUE);
    expect(numberOf("123456789012345678901234567890")).toBe(1.2345678901234568e+29);
    expect(numberOf("7.038531e-26")).toBe(7.038531e-26);
    // 800 significant digits: the tail beyond the kept digits still decides the rounding.
    const half = "9007199254740993" + "0".repeat(790);  // exactly halfway: ties to even
    expect(numberOf(half + "e-790")).toBe(9007199254740992);
    expect(numberOf(half + "1e-791")).toBe(9007199254740994);
  });

  it("formats numbers like JSON.stringify for integers and specials", () => {
    expect(jsonNumber(1)).toBe("1");
    expect(jsonNumber(-42)).toBe("-42");
    expect(jsonNumber(-0.0)).toBe("0");
    expect(jsonNumber(1.5)).toBe("1.5");
    expect(jsonNumber(0.1)).toBe("0.1");
    expect(jsonNumber(123.456)).toBe("123.456");
    expect(jsonNumber(1e20)).toBe("100000000000000000000");
    expect(jsonNumber(1e21)).toBe("1e+21");
    expect(jsonNumber(9007199254740992)).toBe("9007199254740992");
    expect(jsonNumber(5e-324)).toBe("5e-324");
    expect(jsonNumber(NaN)).toBe("null");
    expect(jsonNumber(Infinity)).toBe("null");
    expect(jsonNumber(-Infinity)).toBe("null");
    expect(JsonValue.newNumber(NaN).toString()).toBe("null");
  });

  it("writes full-precision values with JSON.stringify's shortest, closest digits", () => {
    // Expected texts from Node's JSON.stringify; parse each, write it back.
    const texts = [
      "0.30000000000000004", "1e+23", "-0.0069516398065031515", "0.10000000149011612", "5e-324",
      "8.98846567431158e+307", "2.2250738585072014e-308", "1.2e-7", "-4.5312066396923354e-7",
      "123456789.12345679", "0.7999999999999999", "0.3333333333333333", "5e-7", "0.000001",
      "123000000000000000000", "1.5e+300", "1.7976931348623157e+308", "7.29059465366215e-310",
    ];
    for (let i = 0; i < texts.length; i++) expect(jsonNumber(numberOf(texts[i]))).toBe(texts[i]);
  });

  it("writes numbers that parse back to the same f64", () => {
    const xs: f64[] = [0.30000000000000004, 1e23, 2.2250738585072014e-308, 5e-324, 1.7976931348623157e308, -123.456e-7, 0.7];
    for (let i = 0; i < xs.length; i++) expect(numberOf(jsonNumber(xs[i]))).toBe(xs[i]);
  });
});

describe("strings", () => {
  it("decodes escapes including surrogate pairs and lone surrogates", () => {
    expect(mustParse('"\\"\\\\\\/\\b\\f\\n\\r\\t"').asString()).toBe("\"\\/\b\f\n\r\t");
    expect(mustParse('"\\u00e9\\u4E2D"').asString()).toBe("é中");
    expect(mustParse('"\\uD83D\\uDE00"').asString()).toBe("😀");
    const lone = mustParse('"a\\uD800b"').asString();
    expect(lone.length).toBe(3);
    expect(lone.charCodeAt(1)).toBe(0xD800);
  });

  it("escapes on output: quotes, backslashes, controls, lone surrogates; keeps other text", () => {
    expect(jsonQuote("a\"b\\c")).toBe('"a\\"b\\\\c"');
    expect(jsonQuote("\b\f\n\r\t\u0001\u001f")).toBe('"\\b\\f\\n\\r\\t\\u0001\\u001f"');
    expect(jsonQuote("é中😀/")).toBe('"é中😀/"');
    expect(jsonQuote("x" + String.fromCharCode(0xDC00) + "y" + String.fromCharCode(0xD83D))).toBe('"x\\udc00y\\ud83d"');
    expect(jsonQuote("")).toBe('""');
    expect(mustParse('"\\ud800"').toString()).toBe('"\\ud800"');
  });

  it("round-trips every BMP code unit through toString and parseJson", () => {
    let s = "";
    for (let c = 0; c < 0x10000; c += 7) s += String.fromCharCode(c);
    const v = mustParse(JsonValue.newString(s).toString());
    expect(v.asString()).toBe(s);
  });

  it("reports byte offsets after non-ASCII text", () => {
    rejects('["中", x]', "unexpected 'x' at 8");
  });
});

describe("JsonValue API", () => {
  it("builds values and reads them back with typed defaults", () => {
    const o = JsonValue.newObject()
      .set("s", JsonValue.newString("x"))
      .set("n", JsonValue.newNumber(-3.9))
      .set("b", JsonValue.newBool(true))
      .set("z", JsonValue.newNull())
      .set("arr", JsonValue.newArray().push(JsonValue.newNumber(1)).push(JsonValue.newString("two")));
    expect(o.toString()).toBe('{"s":"x","n":-3.9,"b":true,"z":null,"arr":[1,"two"]}');
    expect(o.getString("s")).toBe("x");
    expect(o.getString("n", "def")).toBe("def");
    expect(o.getString("missing", "def")).toBe("def");
    expect(o.getNumber("s", 5)).toBe(5);
    expect(o.getInt("n")).toBe(-3);          // toward zero
    expect(o.getBool("b")).toBe(true);
    expect(o.getBool("s", true)).toBe(true);
    expect(o.getObject("arr")).toBeNull();
    expect(o.getArray("arr")).not.toBeNull();
    expect(o.get("z")!.isNull()).toBe(true);
    expect(o.has("z")).toBe(true);
    expect(o.has("nope")).toBe(false);
    expect(o.get("nope")).toBeNull();
  });

  it("asInt truncates toward zero, clamps, and defaults on NaN and infinities", () => {
    expect(JsonValue.newNumber(2.9).asInt()).toBe(2);
    expect(JsonValue.newNumber(-2.9).asInt()).toBe(-2);
    expect(JsonValue.newNumber(NaN).asInt(7)).toBe(7);
    expect(JsonValue.newNumber(Infinity).asInt(7)).toBe(7);
    expect(JsonValue.newNumber(1e300).asInt()).toBe(i64.MAX_VALUE);
    expect(JsonValue.newNumber(-1e300).asInt()).toBe(i64.MIN_VALUE);
    expect(JsonValue.newString("5").asInt(-1)).toBe(-1);
  });

  it("replaces in place, appends new keys, removes", () => {
    const o = mustParse('{"a":1,"b":2,"c":3}');
    o.set("b", JsonValue.newString("B"));
    o.set("d", JsonValue.newNumber(4));
    expect(o.toString()).toBe('{"a":1,"b":"B","c":3,"d":4}');
    expect(o.remove("a")).toBe(true);
    expect(o.remove("a")).toBe(false);
    expect(o.toString()).toBe('{"b":"B","c":3,"d":4}');
    expect(o.keys()).toStrictEqual(["b", "c", "d"]);
    expect(o.values().length).toBe(3);
    expect(o.values()[1].asNumber()).toBe(3);
  });

  it("looks up, replaces and removes keys in big (indexed) objects", () => {
    const o = JsonValue.newObject();
    for (let i = 0; i < 100; i++) o.set("k" + i.toString(), JsonValue.newNumber(i));
    expect(o.length).toBe(100);
    expect(o.getInt("k73")).toBe(73);
    o.set("k73", JsonValue.newNumber(-1));
    expect(o.getInt("k73")).toBe(-1);
    expect(o.length).toBe(100);
    expect(o.remove("k10")).toBe(true);
    expect(o.has("k10")).toBe(false);
    expect(o.getInt("k99")).toBe(99);
    expect(o.keys()[10]).toBe("k11");
    o.set("k10", JsonValue.newNumber(10));
    expect(o.keys()[99]).toBe("k10");
    // Duplicates in a big parsed object: last value at the first position.
    let text = "{";
    for (let i = 0; i < 50; i++) text += '"k' + i.toString() + '":' + i.toString() + ",";
    text += '"k3":"again"}';
    const p = mustParse(text);
    expect(p.length).toBe(50);
    expect(p.keys()[3]).toBe("k3");
    expect(p.getString("k3")).toBe("again");
  });

  it("type-checks every accessor instead of aborting", () => {
    const s = JsonValue.newString("x");
    expect(s.get("a")).toBeNull();
    expect(s.at(0)).toBeNull();
    expect(s.length).toBe(0);
    expect(s.keys().length).toBe(0);
    expect(s.values().length).toBe(0);
    expect(s.items().length).toBe(0);
    expect(s.remove("a")).toBe(false);
    expect(s.set("a", JsonValue.newNull()).toString()).toBe('"x"');
    expect(s.push(JsonValue.newNull()).toString()).toBe('"x"');
    expect(s.asBool(true)).toBe(true);
    expect(s.asNumber(2)).toBe(2);
    const arr = mustParse("[10,20]");
    expect(arr.at(-1)).toBeNull();
    expect(arr.at(2)).toBeNull();
    expect(arr.at(1)!.asInt()).toBe(20);
    expect(arr.get("0")).toBeNull();
    expect(arr.items().length).toBe(2);
    expect(arr.keys().length).toBe(0);
    expect(JsonValue.newNumber(1).asString("d")).toBe("d");
  });

  it("walks dotted paths through objects and arrays", () => {
    const v = mustParse('{"choices":[{"delta":{"content":"hi"}}],"a":{"0":"zero"},"":{"x":1}}');
    expect(v.path("choices.0.delta.content")!.asString()).toBe("hi");
    expect(v.path("a.0")!.asString()).toBe("zero");  // numeric segment on an object is a key
    expect(v.path("choices.1")).toBeNull();
    expect(v.path("choices.x")).toBeNull();
    expect(v.path("choices.-1")).toBeNull();
    expect(v.path("choices.0.delta.content.more")).toBeNull();
    expect(v.path("nope.0")).toBeNull();
    expect(v.path("")).toBe(v);
    expect(v.path(".x")!.asInt()).toBe(1);
  });

  it("clones deeply", () => {
    const v = mustParse('{"a":[1,{"b":"c"}],"d":{"e":null}}');
    const c = v.clone();
    expect(c.toString()).toBe(v.toString());
    c.getArray("a")!.push(JsonValue.newNumber(3));
    c.path("a.1")!.set("b", JsonValue.newString("changed"));
    c.set("new", JsonValue.newBool(false));
    expect(v.toString()).toBe('{"a":[1,{"b":"c"}],"d":{"e":null}}');
    expect(c.toString()).toBe('{"a":[1,{"b":"changed"},3],"d":{"e":null},"new":false}');
  });

  it("reports types", () => {
    const v = mustParse('[null,true,1,"s",[],{}]');
    const types: JsonType[] = [JsonType.Null, JsonType.Bool, JsonType.Number, JsonType.String, JsonType.Array, JsonType.Object];
    for (let i = 0; i < 6; i++) expect(v.at(i)!.type).toBe(types[i]);
    expect(v.at(0)!.isNull()).toBe(true);
    expect(v.at(1)!.isBool()).toBe(true);
    expect(v.at(2)!.isNumber()).toBe(true);
    expect(v.at(3)!.isString()).toBe(true);
    expect(v.at(4)!.isArray()).toBe(true);
    expect(v.at(5)!.isObject()).toBe(true);
  });
});

describe("big documents and the garbage collector", () => {
  it("keeps every value of a multi-megabyte parse intact", () => {
    // Enough allocation that incremental GC steps run in the middle of the parse.
    const parts: string[] = [];
    for (let i = 0; i < 20000; i++) {
      parts.push('{"id":' + i.toString() + ',"k' + (i % 700).toString() + '":"v' + i.toString() +
        '","tags":["a","' + "x".repeat(i % 40) + '"],"text":"line\\n' + i.toString() + '中"}');
    }
    const text = "[" + parts.join(",") + "]";
    const v = mustParse(text);
    __collect();
    expect(v.length).toBe(20000);
    let ok = true;
    for (let i = 0; i < 20000; i++) {
      const o = v.at(i)!;
      if (o.getInt("id") != i || o.getString("k" + (i % 700).toString()) != "v" + i.toString() ||
        o.path("tags.1")!.asString().length != i % 40 || o.getString("text") != "line\n" + i.toString() + "中") {
        ok = false;
        break;
      }
    }
    expect(ok).toBe(true);
    expect(v.toString()).toBe(text);
  });

  it("keeps results of many parses intact across collections", () => {
    // Objects of every size class (pairwise key check, set() with index), arrays, strings.
    const texts: string[] = [];
    const kept: JsonValue[] = [];
    for (let i = 0; i < 300; i++) {
      let big = "{";
      for (let k = 0; k < 20 + (i % 7); k++) big += (k > 0 ? "," : "") + '"key' + k.toString() + '":' + (i * k).toString();
      big += "}";
      const text = '{"i":' + i.toString() + ',"s":"' + "é".repeat(i % 50) + '","a":[' + big + ',[1,[2,[3]]],{"x":{"y":"z"}}],"b":' + big + "}";
      const v = mustParse(text);
      if (i % 3 == 0) { texts.push(text); kept.push(v); }
      if (i % 50 == 0) __collect();
    }
    __collect();
    let same = true;
    for (let i = 0; i < kept.length; i++) if (kept[i].toString() != texts[i]) same = false;
    expect(same).toBe(true);
  });

  it("recovers after failures deep inside big documents", () => {
    for (let round = 0; round < 5; round++) {
      const parts: string[] = [];
      for (let i = 0; i < 3000; i++) parts.push('{"a":[' + i.toString() + ',"s' + i.toString() + '"]}');
      expect(parseJson("[" + parts.join(",") + ",]")).toBeNull();
      __collect();
      const good = mustParse("[" + parts.join(",") + "]");
      expect(good.path("2999.a.1")!.asString()).toBe("s2999");
    }
  });
});
