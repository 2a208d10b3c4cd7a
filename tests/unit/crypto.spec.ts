// Published test vectors (RFC 1321, FIPS 180-4 examples, RFC 2202, RFC 4231, RFC 4648)
// for shared/crypto.ts. Random inputs against node:crypto: tests/crypto/crypto.test.ts.
import {
  md5, sha1, sha256, hmacSha1, hmacSha256, hmac, HashAlg, Hasher, Md5, Sha1, Sha256,
  hexEncode, base64Encode, base64Decode, constantTimeEqual, constantTimeEqualString, utf8, digestLength,
} from "../../shared/crypto";

function filled(n: i32, v: u8): Uint8Array {
  const b = new Uint8Array(n);
  b.fill(v);
  return b;
}
function decoded(s: string, loose: bool = false): string {
  const d = base64Decode(s, loose);
  return d == null ? "null" : String.UTF8.decode(d.slice().buffer);
}

describe("md5 (RFC 1321 §A.5)", () => {
  it("hashes the suite", () => {
    expect(hexEncode(md5(""))).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(hexEncode(md5("a"))).toBe("0cc175b9c0f1b6a831c399e269772661");
    expect(hexEncode(md5("abc"))).toBe("900150983cd24fb0d6963f7d28e17f72");
    expect(hexEncode(md5("message digest"))).toBe("f96b697d7cb7938d525a2f31aaf161d0");
    expect(hexEncode(md5("abcdefghijklmnopqrstuvwxyz"))).toBe("c3fcd3d76192e4007dfb496cca67e13b");
    expect(hexEncode(md5("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")))
      .toBe("d174ab98d277d9f5a5611c2c9f419d9f");
    expect(hexEncode(md5("12345678901234567890123456789012345678901234567890123456789012345678901234567890")))
      .toBe("57edf4a22be3c955ac49da2e2107b67a");
  });
});

describe("sha1 (FIPS 180 examples)", () => {
  it("hashes the examples", () => {
    expect(hexEncode(sha1(""))).toBe("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    expect(hexEncode(sha1("abc"))).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");
    expect(hexEncode(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))
      .toBe("84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  });
  it("hashes one million 'a' fed in uneven chunks", () => {
    const h = new Sha1();
    const chunk = filled(997, 0x61);
    let left = 1000000;
    while (left > 0) { const n = min(left, 997); h.update(chunk.subarray(0, n)); left -= n; }
    expect(hexEncode(h.digest())).toBe("34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  });
});

describe("sha256 (FIPS 180 examples)", () => {
  it("hashes the examples", () => {
    expect(hexEncode(sha256(""))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hexEncode(sha256("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hexEncode(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))
      .toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });
  it("hashes one million 'a'", () => {
    expect(hexEncode(sha256(filled(1000000, 0x61)))).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });
  it("treats a string, its UTF-8 ArrayBuffer and Uint8Array alike", () => {
    const s = "héllo wörld 😀";
    const want = hexEncode(sha256(s));
    expect(hexEncode(sha256(String.UTF8.encode(s)))).toBe(want);
    expect(hexEncode(sha256(utf8(s)))).toBe(want);
    expect(utf8(s).length).toBe(18);
  });
  it("hashes a lone surrogate as U+FFFD, as node:crypto does", () => {
    expect(hexEncode(utf8("a\uD800b"))).toBe("61efbfbd62");
    expect(hexEncode(sha256("\uDC00"))).toBe(hexEncode(sha256("\uFFFD")));
  });
});

describe("streaming hashers", () => {
  it("give the one-shot digest for any split and reset after digest", () => {
    const text = "The quick brown fox jumps over the lazy dog, sixty-four bytes and then some more.";
    const h = new Md5();
    h.update(text.substring(0, 3)).update(text.substring(3, 70)).update(text.substring(70));
    expect(hexEncode(h.digest())).toBe(hexEncode(md5(text)));
    h.update(text);
    expect(hexEncode(h.digest())).toBe(hexEncode(md5(text)));
    expect(hexEncode(new Sha256().update(text.substring(0, 64)).update(text.substring(64)).digest()))
      .toBe(hexEncode(sha256(text)));
    expect(hexEncode(new Hasher(HashAlg.Sha1).update("").update(text).digest())).toBe(hexEncode(sha1(text)));
  });
  it("reports digest lengths", () => {
    expect(digestLength(HashAlg.Md5)).toBe(16);
    expect(new Sha1().digest().length).toBe(20);
    expect(new Sha256().digest().length).toBe(32);
  });
});

describe("hmac", () => {
  it("HMAC-SHA256 (RFC 4231 cases 1, 2, 6)", () => {
    expect(hexEncode(hmacSha256(filled(20, 0x0b), "Hi There")))
      .toBe("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    expect(hexEncode(hmacSha256("Jefe", "what do ya want for nothing?")))
      .toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    expect(hexEncode(hmacSha256(filled(131, 0xaa), "Test Using Larger Than Block-Size Key - Hash Key First")))
      .toBe("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  });
  it("HMAC-SHA1 and HMAC-MD5 (RFC 2202)", () => {
    expect(hexEncode(hmacSha1(filled(20, 0x0b), "Hi There"))).toBe("b617318655057264e28bc0b6fb378c8ef146be00");
    expect(hexEncode(hmacSha1("Jefe", "what do ya want for nothing?"))).toBe("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    expect(hexEncode(hmacSha1(filled(80, 0xaa), "Test Using Larger Than Block-Size Key - Hash Key First")))
      .toBe("aa4ae5e15272d00e95705637ce8a3b55ed402112");
    expect(hexEncode(hmac(HashAlg.Md5, filled(16, 0x0b), "Hi There"))).toBe("9294727a3638bb1c13f48ef8158bfc9d");
    expect(hexEncode(hmac(HashAlg.Md5, "Jefe", "what do ya want for nothing?"))).toBe("750c783e6ab0b503eaa86e310a5db738");
  });
});

describe("hex", () => {
  it("encodes lower and upper case", () => {
    const b = new Uint8Array(5);
    b[1] = 0x0f; b[2] = 0xa0; b[3] = 0xff; b[4] = 0x9c;
    expect(hexEncode(b)).toBe("000fa0ff9c");
    expect(hexEncode(b, true)).toBe("000FA0FF9C");
    expect(hexEncode(new Uint8Array(0))).toBe("");
  });
});

describe("base64 (RFC 4648 §10)", () => {
  it("encodes the test vectors", () => {
    expect(base64Encode(utf8(""))).toBe("");
    expect(base64Encode(utf8("f"))).toBe("Zg==");
    expect(base64Encode(utf8("fo"))).toBe("Zm8=");
    expect(base64Encode(utf8("foo"))).toBe("Zm9v");
    expect(base64Encode(utf8("foob"))).toBe("Zm9vYg==");
    expect(base64Encode(utf8("fooba"))).toBe("Zm9vYmE=");
    expect(base64Encode(utf8("foobar"))).toBe("Zm9vYmFy");
    const all = new Uint8Array(3);
    all[0] = 0xfb; all[1] = 0xff; all[2] = 0xbf;
    expect(base64Encode(all)).toBe("+/+/");
  });
  it("decodes the test vectors", () => {
    expect(decoded("")).toBe("");
    expect(decoded("Zg==")).toBe("f");
    expect(decoded("Zm8=")).toBe("fo");
    expect(decoded("Zm9v")).toBe("foo");
    expect(decoded("Zm9vYg==")).toBe("foob");
    expect(decoded("Zm9vYmE=")).toBe("fooba");
    expect(decoded("Zm9vYmFy")).toBe("foobar");
    const d = base64Decode("+/+/");
    expect(d != null && hexEncode(d) == "fbffbf").toBe(true);
  });
  it("rejects anything but canonical padded base64 by default", () => {
    expect(decoded("Zg")).toBe("null");          // missing padding
    expect(decoded("Zg=")).toBe("null");         // partial padding
    expect(decoded("Zh==")).toBe("null");        // unused bits set
    expect(decoded("Zm9=")).toBe("null");
    expect(decoded("Z===")).toBe("null");
    expect(decoded("====")).toBe("null");
    expect(decoded("=")).toBe("null");
    expect(decoded("Zg==Zg==")).toBe("null");    // padding in the middle
    expect(decoded("Zm9v YmFy")).toBe("null");   // whitespace
    expect(decoded("Zm9vYmFy\n")).toBe("null");
    expect(decoded("-_-_")).toBe("null");        // URL-safe alphabet
    expect(decoded("Zm9\u00e9")).toBe("null");   // non-ASCII
    expect(decoded("Zm9\u0100")).toBe("null");   // low byte would be valid ('\0'+'A'): must not alias
    expect(decoded("Zm9\u0176")).toBe("null");   // U+0176: low byte is 'v'
  });
  it("accepts missing padding only when asked", () => {
    expect(decoded("Zg", true)).toBe("f");
    expect(decoded("Zm8", true)).toBe("fo");
    expect(decoded("Zm9vYmE", true)).toBe("fooba");
    expect(decoded("Zm9vYmE=", true)).toBe("fooba");
    expect(decoded("Z", true)).toBe("null");
    expect(decoded("Zg=", true)).toBe("null");
    expect(decoded("Zh", true)).toBe("null");
  });
});

describe("constant-time comparison", () => {
  it("compares bytes", () => {
    expect(constantTimeEqual(utf8("secret"), utf8("secret"))).toBe(true);
    expect(constantTimeEqual(utf8("secret"), utf8("Secret"))).toBe(false);
    expect(constantTimeEqual(utf8("secret"), utf8("secreT"))).toBe(false);
    expect(constantTimeEqual(utf8("secret"), utf8("secret!"))).toBe(false);
    expect(constantTimeEqual(utf8("secret"), utf8(""))).toBe(false);
    expect(constantTimeEqual(utf8(""), utf8(""))).toBe(true);
    const z1 = new Uint8Array(1), z0 = new Uint8Array(0);
    expect(constantTimeEqual(z1, z0)).toBe(false);   // a trailing zero byte still differs
  });
  it("compares strings by UTF-16 code unit", () => {
    expect(constantTimeEqualString("sig=é", "sig=é")).toBe(true);
    expect(constantTimeEqualString("sig=é", "sig=e")).toBe(false);
    expect(constantTimeEqualString("ab", "ab\u0000")).toBe(false);
    expect(constantTimeEqualString("\u0100", "\u0000")).toBe(false);
    expect(constantTimeEqualString("", "")).toBe(true);
  });
});
