// shared/regex.ts: the safe matcher used for `regexp:` rate-limit keys, status and model patterns.
import { compileRegex, regexError } from "../../shared/regex";

function matches(p: string, s: string): bool {
  const r = compileRegex(p);
  if (r == null) return false;
  return r.test(s);
}
function whole(p: string, s: string): bool {
  const r = compileRegex(p);
  if (r == null) return false;
  return r.matchesWhole(s);
}
function refused(p: string): bool { return compileRegex(p) == null && regexError().length > 0; }

describe("regex: Higress-style keys", () => {
  it("prefix patterns as in the Higress README", () => {
    expect(matches("^a.*", "a6a6d7f2")).toBe(true);
    expect(matches("^a.*", "9a342114")).toBe(false);
    expect(matches("^b.*", "b")).toBe(true);
  });
  it("searches anywhere unless anchored (Go MatchString)", () => {
    expect(matches("sk-", "Bearer sk-123")).toBe(true);
    expect(matches("^sk-", "Bearer sk-123")).toBe(false);
    expect(matches("123$", "Bearer sk-123")).toBe(true);
    expect(matches("12$", "Bearer sk-123")).toBe(false);
  });
  it("whole-text matching for status codes and model names", () => {
    expect(whole("4.*", "429")).toBe(true);
    expect(whole("5.*", "429")).toBe(false);
    expect(whole("5..", "5000")).toBe(false);
    expect(whole("gpt-4.*", "gpt-4o-mini")).toBe(true);
    expect(whole("gpt-4", "gpt-4o")).toBe(false);
  });
});

describe("regex: syntax", () => {
  it("classes, ranges, negation and escapes", () => {
    expect(whole("[a-c]+", "abcab")).toBe(true);
    expect(whole("[^0-9]+", "ab1")).toBe(false);
    expect(whole("\\d{3}-\\d{4}", "555-1234")).toBe(true);
    expect(whole("[\\w.-]+@x\\.com", "a.b-c@x.com")).toBe(true);
    expect(whole("[\\w.-]+@x\\.com", "a.b-c@xycom")).toBe(false);
    expect(whole("\\s\\S", " a")).toBe(true);
    expect(whole("[]a]+", "]a]")).toBe(true);
    expect(whole("\\x41\\x{263a}", "A\u263a")).toBe(true);
  });
  it("alternation, groups and counted repeats", () => {
    expect(whole("(ab|cd)+", "abcdab")).toBe(true);
    expect(whole("(ab|cd)+", "abce")).toBe(false);
    expect(whole("(?:x){2,3}", "xxx")).toBe(true);
    expect(whole("(?:x){2,3}", "xxxx")).toBe(false);
    expect(whole("x{2,}", "xxxxxx")).toBe(true);
    expect(whole("(?P<name>a)b?", "a")).toBe(true);
    expect(whole("a{,2}", "a{,2}")).toBe(true);
  });
  it("dot skips newline unless (?s); (?m) anchors at lines", () => {
    expect(whole("a.b", "a\nb")).toBe(false);
    expect(whole("(?s)a.b", "a\nb")).toBe(true);
    expect(matches("^b$", "a\nb")).toBe(false);
    expect(matches("(?m)^b$", "a\nb\nc")).toBe(true);
  });
  it("word boundaries", () => {
    expect(matches("\\bfoo\\b", "a foo b")).toBe(true);
    expect(matches("\\bfoo\\b", "afoob")).toBe(false);
    expect(matches("\\Boo\\B", "afoob")).toBe(true);
  });
  it("case folding for ASCII letters", () => {
    expect(matches("(?i)hello", "Say HELLO")).toBe(true);
    expect(matches("hello", "Say HELLO")).toBe(false);
    expect(whole("(?i)[a-c]+", "AbC")).toBe(true);
    expect(whole("(?i:a)b", "Ab")).toBe(true);
    expect(whole("(?i:a)b", "AB")).toBe(false);
  });
  it("non-ASCII and astral code points count as one character", () => {
    expect(whole("中.文", "中a文")).toBe(true);
    expect(whole("a.b", "a\u{1F600}b")).toBe(true);
    expect(whole("[\u{1F600}-\u{1F64F}]", "\u{1F60A}")).toBe(true);
  });
});

describe("regex: safety", () => {
  it("refuses what it does not support, with a reason", () => {
    expect(refused("(")).toBe(true);
    expect(refused("a**")).toBe(true);
    expect(refused("[a")).toBe(true);
    expect(refused("\\p{Han}")).toBe(true);
    expect(refused("(?=a)")).toBe(true);
    expect(refused("\\1")).toBe(true);
    expect(refused("a{1001}")).toBe(true);
    expect(refused("(a{1000}){1000}")).toBe(true);
    expect(refused("x\\")).toBe(true);
    expect(refused(")")).toBe(true);
    expect(refused("a{2,1}")).toBe(true);
    expect(refused("(".repeat(200) + "a" + ")".repeat(200))).toBe(true);
  });
  it("runs catastrophic-backtracking patterns in linear time", () => {
    // (a*)*b against a long run of a's: exponential for a backtracker, one pass here.
    const s = "a".repeat(20000) + "c";
    expect(matches("(a*)*b", s)).toBe(false);
    expect(matches("(a|aa)+$", s)).toBe(false);
    expect(matches("(a|aa)+c$", s)).toBe(true);
  });
  it("a compiled regex can be reused", () => {
    const r = compileRegex("^a+$");
    if (r == null) { expect(false).toBe(true); return; }
    expect(r.test("aaa")).toBe(true);
    expect(r.test("aab")).toBe(false);
    expect(r.test("a")).toBe(true);
    expect(r.test("")).toBe(false);
  });
});
