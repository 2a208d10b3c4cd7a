// The AK/SK string to sign, exactly as Higress's hmac-auth builds it and the Dify plugin signs it:
//
//   METHOD\n Accept\n Content-MD5\n Content-Type\n Date\n        (each line even when empty)
//   name:value\n for each header named in x-ca-signature-headers (lower-cased, sorted)
//   path[?k=v&…]                                                   (query + form parameters)
//
// The signature is Base64(HMAC-SHA256 or -SHA1(secret, UTF-8 of that string)).
import { Header } from "../../shared/proxy/hostcalls";
import { HashAlg, hmac, base64Encode } from "../../shared/crypto";
import { compareCodePoints, queryParams } from "./params";
import { asciiLower, builder } from "./text";

export const FIXED_HEADERS: string[] = [":method", "accept", "content-md5", "content-type", "date"];

/** The request headers as the host gave them (names lower-case); a name's first value counts. */
export class HeaderView {
  constructor(public list: Header[]) {}
  get(name: string): string | null {
    const l = this.list;
    for (let i = 0; i < l.length; i++) if (unchecked(l[i]).name == name) return unchecked(l[i]).value;
    return null;
  }
  /** The value, or "" when absent (as the string to sign writes it). */
  value(name: string): string {
    const v = this.get(name);
    return v == null ? "" : v;
  }
  has(name: string): bool { return this.get(name) != null; }
}

function isFixed(name: string): bool {
  for (let i = 0; i < FIXED_HEADERS.length; i++) if (unchecked(FIXED_HEADERS[i]) == name) return true;
  return false;
}

/**
 * The dynamic header names of `x-ca-signature-headers`: split on `,` (not trimmed, as Higress),
 * lower-cased, the signature headers and the fixed five left out, sorted. Empty names are
 * skipped (Higress would sign a stray `:\n` for them, which its own docs do not describe).
 */
export function signedHeaderNames(list: string): string[] {
  const out = new Array<string>();
  if (list.length == 0) return out;
  let from = 0;
  while (from <= list.length) {
    let comma = list.indexOf(",", from);
    if (comma < 0) comma = list.length;
    const n = asciiLower(list.substring(from, comma));
    if (n.length > 0 && n != "x-ca-signature" && n != "x-ca-signature-headers" && !isFixed(n)) out.push(n);
    from = comma + 1;
  }
  out.sort(compareCodePoints);
  return out;
}

/** True when `name` is among the headers the client signed. */
export function isSigned(names: string[], name: string): bool {
  for (let i = 0; i < names.length; i++) if (unchecked(names[i]) == name) return true;
  return false;
}

/** Everything before the path: the five fixed lines, then `name:value\n` per signed header. */
export function headerPart(h: HeaderView, signed: string[]): string {
  const b = builder.reset();
  for (let i = 0; i < FIXED_HEADERS.length; i++) b.add(h.value(unchecked(FIXED_HEADERS[i]))).add("\n");
  for (let i = 0; i < signed.length; i++) {
    const n = unchecked(signed[i]);
    b.add(n).add(":").add(h.value(n)).add("\n");
  }
  return b.toString();
}

/** `path` (up to `?`, not decoded) then `?k=v&…` over the query and, if given, a form body. */
export function pathAndParameters(path: string, form: Uint8Array | null): string {
  const q = path.indexOf("?");
  if (q < 0 && form == null) return path;
  const params = queryParams(path);
  if (form != null) params.addEncoded(form);
  const bare = q >= 0 ? path.substring(0, q) : path;
  return params.size == 0 ? bare : bare + "?" + params.toString();
}

/** Base64 of the HMAC of the string to sign. */
export function signature(alg: HashAlg, secret: Uint8Array, stringToSign: string): string {
  return base64Encode(hmac(alg, secret, stringToSign));
}

/** `HmacSHA1` selects SHA-1; anything else (including nothing) means SHA-256, as in Higress. */
export function signatureAlg(method: string): HashAlg {
  return method == "HmacSHA1" ? HashAlg.Sha1 : HashAlg.Sha256;
}

/** Characters a header value cannot carry (tab can). */
function isControl(c: i32): bool { return (c < 32 && c != 9) || c == 127; }

/**
 * The `X-Ca-Error-Message` Higress returns with `Invalid Signature`: the server's string to sign
 * with newlines as `#`. Other control characters (a decoded `%0D` can put one there) cannot
 * travel in a header either and become `#` too.
 */
export function errorMessage(stringToSign: string): string {
  let clean = true;
  for (let i = 0; i < stringToSign.length; i++) {
    const c = stringToSign.charCodeAt(i);
    if (isControl(c)) { clean = false; break; }
  }
  let s = stringToSign;
  if (!clean) {
    const parts = new Array<string>();
    let from = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (isControl(c)) { parts.push(s.substring(from, i)); from = i + 1; }
    }
    parts.push(s.substring(from));
    s = parts.join("#");
  }
  return "Server StringToSign:`" + s + "`";
}
