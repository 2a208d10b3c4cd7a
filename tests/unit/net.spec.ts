import {
  urlDecode, parseQuery, splitPath, queryParam, parseCookies, cookie, Param,
  parseIp, parseIpPort, IpAddr, CidrSet,
} from "../../shared/net";

function dec(s: string, plus: bool = true): string {
  const d = urlDecode(s, plus);
  return d == null ? "<null>" : d;
}
function pairs(ps: Param[]): string {
  let o = "";
  for (let i = 0; i < ps.length; i++) o += "[" + ps[i].key + "=" + ps[i].value + "]";
  return o;
}
function ip(s: string): string {
  const a = parseIp(s);
  return a == null ? "<null>" : a.toString();
}
function hostPort(s: string): string {
  const a = parseIpPort(s);
  return a == null ? "<null>" : a.ip.toString() + " " + a.port.toString();
}
function inSet(set: CidrSet, s: string): bool {
  const a = parseIp(s);
  expect(a).not.toBeNull(s);
  return a != null && set.contains(a);
}

describe("urlDecode", () => {
  it("decodes escapes, plus and UTF-8", () => {
    expect(dec("plain")).toBe("plain");
    expect(dec("a+b%20c")).toBe("a b c");
    expect(dec("a+b", false)).toBe("a+b");
    expect(dec("%2B%2b%25")).toBe("++%");
    expect(dec("%E4%B8%AD%e6%96%87")).toBe("中文");
    expect(dec("%F0%9F%98%80!")).toBe("😀!");
    expect(dec("é%C3%A9")).toBe("éé");       // unescaped non-ASCII passes through
    expect(dec("%00")).toBe("\u0000");
    expect(dec("")).toBe("");
  });
  it("returns null on bad escapes", () => {
    expect(dec("%")).toBe("<null>");
    expect(dec("ab%2")).toBe("<null>");
    expect(dec("%zz")).toBe("<null>");
    expect(dec("%G0")).toBe("<null>");
    expect(dec("%%41")).toBe("<null>");
  });
  it("returns null on bad UTF-8", () => {
    expect(dec("%80")).toBe("<null>");           // lone continuation byte
    expect(dec("%C3")).toBe("<null>");           // truncated sequence
    expect(dec("%C3x")).toBe("<null>");
    expect(dec("%C3%28")).toBe("<null>");        // bad continuation
    expect(dec("%C0%AF")).toBe("<null>");        // overlong '/'
    expect(dec("%E0%80%AF")).toBe("<null>");     // overlong
    expect(dec("%F0%80%80%AF")).toBe("<null>");  // overlong
    expect(dec("%ED%A0%80")).toBe("<null>");     // UTF-16 surrogate
    expect(dec("%F4%90%80%80")).toBe("<null>");  // past U+10FFFF
    expect(dec("%F5%80%80%80")).toBe("<null>");
    expect(dec("%FF")).toBe("<null>");
    expect(dec("%F4%8F%BF%BF")).toBe("\u{10FFFF}"); // the last code point is fine
  });
});

describe("query strings", () => {
  it("keeps order and duplicates, decodes, keeps undecodable pieces raw", () => {
    expect(pairs(parseQuery("a=1&b=&c&a=2"))).toBe("[a=1][b=][c=][a=2]");
    expect(pairs(parseQuery("?x=%41+b&&y=%zz&=v&k=&q=a=b"))).toBe("[x=A b][y=%zz][=v][k=][q=a=b]");
    expect(pairs(parseQuery("na%C3%AFve=caf%C3%A9"))).toBe("[naïve=café]");
    expect(pairs(parseQuery("%E4=1"))).toBe("[%E4=1]");
    expect(parseQuery("").length).toBe(0);
    expect(parseQuery("?").length).toBe(0);
    expect(parseQuery("&&&").length).toBe(0);
  });
  it("splits a :path", () => {
    const a = splitPath("/v1/chat?model=x&y");
    expect(a[0]).toBe("/v1/chat");
    expect(a[1]).toBe("model=x&y");
    const b = splitPath("/only");
    expect(b[0]).toBe("/only");
    expect(b[1]).toBe("");
    expect(splitPath("/p?")[1]).toBe("");
    expect(splitPath("/p?a?b")[1]).toBe("a?b");
  });
  it("finds the first value of a parameter", () => {
    expect(queryParam("/p?key=a%20b&key=2", "key")).toBe("a b");
    expect(queryParam("/p?flag&x=1", "flag")).toBe("");
    expect(queryParam("/p?x=1", "y")).toBeNull();
    expect(queryParam("/p", "x")).toBeNull();
    expect(queryParam("/p?a%5B%5D=1", "a[]")).toBe("1");
    expect(queryParam("/p?Key=1", "key")).toBeNull();   // names are case-sensitive
  });
});

describe("cookies", () => {
  it("parses tolerant of spaces, quotes and missing '='", () => {
    expect(pairs(parseCookies("a=1; b=2"))).toBe("[a=1][b=2]");
    expect(pairs(parseCookies(" a = 1 ;b=\"q v\";;c; =x;\td=\"\t"))).toBe("[a=1][b=q v][c=][=x][d=\"]");
    expect(pairs(parseCookies("sid=abc=def; e="))).toBe("[sid=abc=def][e=]");
    expect(pairs(parseCookies("q=\"\""))).toBe("[q=]");
    expect(pairs(parseCookies("v=%41"))).toBe("[v=%41]");   // not URL-decoded
    expect(parseCookies("").length).toBe(0);
    expect(parseCookies(" ; ;").length).toBe(0);
  });
  it("looks up the first cookie by exact name", () => {
    expect(cookie("a=1; session=xyz; session=2", "session")).toBe("xyz");
    expect(cookie("a=1", "A")).toBeNull();
    expect(cookie("", "a")).toBeNull();
    expect(cookie("flag; b=1", "flag")).toBe("");
  });
});

describe("parseIp", () => {
  it("parses IPv4 strictly", () => {
    expect(ip("1.2.3.4")).toBe("1.2.3.4");
    expect(ip("0.0.0.0")).toBe("0.0.0.0");
    expect(ip("255.255.255.255")).toBe("255.255.255.255");
    expect(ip("256.1.1.1")).toBe("<null>");
    expect(ip("01.2.3.4")).toBe("<null>");     // leading zero (octal in some parsers)
    expect(ip("1.2.3")).toBe("<null>");
    expect(ip("1.2.3.4.5")).toBe("<null>");
    expect(ip("1..3.4")).toBe("<null>");
    expect(ip("1.2.3.4 ")).toBe("<null>");
    expect(ip("")).toBe("<null>");
    const a = parseIp("10.1.2.3");
    expect(a != null && !a.v6 && a.isV4() && a.v4Bits() == 0x0a010203).toBe(true);
  });
  it("parses IPv6 and prints RFC 5952 form", () => {
    expect(ip("::")).toBe("::");
    expect(ip("::1")).toBe("::1");
    expect(ip("1::")).toBe("1::");
    expect(ip("2001:DB8::1")).toBe("2001:db8::1");
    expect(ip("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");  // leftmost of equal runs
    expect(ip("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1"); // a single 0 is not "::"
    expect(ip("1:2:3:4:5:6:7::")).toBe("1:2:3:4:5:6:7:0");
    expect(ip("0000:0000:0000:0000:0000:0000:0000:0001")).toBe("::1");
    expect(ip("1:2:3:4:5:6:1.2.3.4")).toBe("1:2:3:4:5:6:102:304");
    expect(ip("::ffff:1.2.3.4")).toBe("::ffff:1.2.3.4");
    expect(ip("::FFFF:102:304")).toBe("::ffff:1.2.3.4");
    const m = parseIp("::ffff:10.0.0.1");
    expect(m != null && m.v6 && m.isV4() && m.v4Bits() == 0x0a000001).toBe(true);
    const v6 = parseIp("2001:db8::1");
    expect(v6 != null && v6.hi == 0x20010db800000000 && v6.lo == 1 && !v6.isV4()).toBe(true);
  });
  it("rejects malformed IPv6, zones and brackets", () => {
    const badOnes = [
      "fe80::1%eth0", "fe80::1%25eth0", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1", "1:", ":::", "::1:2:3:4:5:6:7:8",
      "12345::", "1:2:3:4:5:6:7", "g::1", "[::1]", "::1 ", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "::256.1.1.1",
      "1.2.3.4::", "::ffff:01.2.3.4", ":", "1:2:3:4:5:6:7:8::",
    ];
    for (let i = 0; i < badOnes.length; i++) expect(ip(badOnes[i])).toBe("<null>", badOnes[i]);
  });
});

describe("parseIpPort", () => {
  it("accepts address, address:port and [v6]:port", () => {
    expect(hostPort("1.2.3.4:5678")).toBe("1.2.3.4 5678");
    expect(hostPort("1.2.3.4")).toBe("1.2.3.4 -1");
    expect(hostPort("[::1]:80")).toBe("::1 80");
    expect(hostPort("[2001:db8::1]")).toBe("2001:db8::1 -1");
    expect(hostPort("::1")).toBe("::1 -1");   // bare IPv6: the last group is not a port
    expect(hostPort("1.2.3.4:0")).toBe("1.2.3.4 0");
    expect(hostPort("1.2.3.4:65535")).toBe("1.2.3.4 65535");
  });
  it("rejects bad ports and brackets", () => {
    expect(hostPort("1.2.3.4:")).toBe("<null>");
    expect(hostPort("1.2.3.4:65536")).toBe("<null>");
    expect(hostPort("1.2.3.4:123456")).toBe("<null>");
    expect(hostPort("1.2.3.4:8a")).toBe("<null>");
    expect(hostPort("[1.2.3.4]:80")).toBe("<null>");
    expect(hostPort("[::1]80")).toBe("<null>");
    expect(hostPort("[::1]:")).toBe("<null>");
    expect(hostPort("[::1")).toBe("<null>");
    expect(hostPort("[fe80::1%eth0]:80")).toBe("<null>");
    expect(hostPort("")).toBe("<null>");
  });
});

describe("CidrSet", () => {
  it("matches IPv4 prefixes and bare addresses", () => {
    const s = new CidrSet();
    expect(s.add("10.0.0.0/8")).toBe(true);
    expect(s.add("192.168.1.1")).toBe(true);
    expect(s.add("172.16.5.9/12")).toBe(true);      // host bits ignored
    expect(s.size).toBe(3);
    expect(inSet(s, "10.0.0.0")).toBe(true);
    expect(inSet(s, "10.255.255.255")).toBe(true);
    expect(inSet(s, "11.0.0.0")).toBe(false);
    expect(inSet(s, "9.255.255.255")).toBe(false);
    expect(inSet(s, "192.168.1.1")).toBe(true);
    expect(inSet(s, "192.168.1.2")).toBe(false);
    expect(inSet(s, "172.31.255.255")).toBe(true);
    expect(inSet(s, "172.32.0.0")).toBe(false);
    expect(inSet(s, "::ffff:10.1.2.3")).toBe(true);  // IPv4-mapped IPv6 matches IPv4 rules
    expect(inSet(s, "::10.1.2.3")).toBe(false);      // IPv4-compatible form is plain IPv6
  });
  it("matches IPv6 prefixes, /0 and /128, keeping families apart", () => {
    const s = new CidrSet();
    expect(s.add("2001:db8::/32")).toBe(true);
    expect(s.add("::1")).toBe(true);
    expect(inSet(s, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(inSet(s, "2001:db9::")).toBe(false);
    expect(inSet(s, "::1")).toBe(true);
    expect(inSet(s, "::2")).toBe(false);
    expect(inSet(s, "127.0.0.1")).toBe(false);
    const all6 = new CidrSet();
    all6.add("::/0");
    expect(inSet(all6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(inSet(all6, "1.2.3.4")).toBe(false);
    const all4 = new CidrSet();
    all4.add("0.0.0.0/0");
    expect(inSet(all4, "255.255.255.255")).toBe(true);
    expect(inSet(all4, "::ffff:0.0.0.0")).toBe(true);
    expect(inSet(all4, "::1")).toBe(false);
  });
  it("accepts IPv4-mapped rules as IPv4 rules", () => {
    const s = new CidrSet();
    expect(s.add("::ffff:172.16.0.0/108")).toBe(true);  // = 172.16.0.0/12
    expect(inSet(s, "172.20.1.1")).toBe(true);
    expect(inSet(s, "172.32.0.1")).toBe(false);
  });
  it("rejects malformed prefixes without adding anything", () => {
    const s = new CidrSet();
    const badOnes = ["", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/8/8", "::/129",
      "10.0.0.0 /8", "x", "fe80::/10%eth0", "[::1]/128", "10.0.0.0/1000"];
    for (let i = 0; i < badOnes.length; i++) expect(s.add(badOnes[i])).toBe(false, badOnes[i]);
    expect(s.size).toBe(0);
    expect(inSet(s, "10.0.0.1")).toBe(false);
  });
  it("merges overlapping and adjacent ranges and stays correct after more adds", () => {
    const s = new CidrSet();
    s.add("10.0.0.0/25");
    s.add("10.0.0.128/25");   // adjacent
    s.add("10.0.0.64/26");    // inside
    expect(inSet(s, "10.0.0.200")).toBe(true);
    expect(inSet(s, "10.0.1.0")).toBe(false);
    s.add("10.0.1.0/24");     // added after a lookup
    expect(inSet(s, "10.0.1.0")).toBe(true);
    s.add("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120");
    s.add("ffff:ffff:ffff:ffff::/64");
    expect(inSet(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(inSet(s, "ffff:ffff:ffff:fffe::")).toBe(false);
  });
  it("handles thousands of prefixes (checked against a linear scan)", () => {
    const s = new CidrSet();
    const starts = new Array<u32>();
    for (let i = 0; i < 4000; i++) {
      const a = (<u32>i * 2654435761) & 0xfffffff0;   // scattered /28s, some overlapping
      starts.push(a);
      expect(s.add(((a >> 24)).toString() + "." + ((a >> 16) & 255).toString() + "." + ((a >> 8) & 255).toString() + "." + (a & 255).toString() + "/28")).toBe(true);
    }
    expect(s.size).toBe(4000);
    let seed: u32 = 88172645, hits = 0;
    for (let q = 0; q < 1500; q++) {
      seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
      const x = q & 1 ? seed : starts[q] + (seed & 31);   // half near a start, half anywhere
      let want = false;
      for (let i = 0; i < starts.length; i++) if (x - starts[i] < 16) want = true;
      expect(s.contains(IpAddr.v4(x))).toBe(want, x.toString());
      if (want) hits++;
    }
    expect(hits > 250).toBe(true);   // about half of the 750 near-start probes hit
  });
});

describe("malformed input never traps", () => {
  it("survives random strings in every parser", () => {
    const alphabet = "0123456789abcdefABCDEF:.%/[]=&;+ \"\t?xé\u0000\uD800😀";
    let seed: u32 = 2463534242;
    for (let round = 0; round < 4000; round++) {
      let s = "";
      seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
      const len = seed % 24;
      for (let k: u32 = 0; k < len; k++) {
        seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
        s += alphabet.charAt(<i32>(seed % <u32>alphabet.length));
      }
      urlDecode(s);
      urlDecode(s, false);
      parseQuery(s);
      parseCookies(s);
      queryParam(s, "a");
      splitPath(s);
      const a = parseIp(s);
      if (a != null) expect(ip(a.toString())).toBe(a.toString(), s);   // printing round-trips
      parseIpPort(s);
      const set = new CidrSet();
      if (set.add(s)) expect(set.size).toBe(1);
      if (a != null) set.contains(a);
    }
  });
});
