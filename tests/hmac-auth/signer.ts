// An independent client-side signer: the Higress Dify plugin's HmacAuthenticator
// (higress-group/higress-dify-plugin models/utils/auth.py) written again in TypeScript over
// node:crypto. It shares no code with the plugin; tests sign with it and the plugin must agree.
import { createHash, createHmac, randomUUID } from "node:crypto";

export interface SignInput {
  method: string;
  /** Path with optional query, exactly as it goes on the wire (`:path`). */
  path: string;
  key: string;
  secret: string;
  /** "HmacSHA256" (what Dify sends) or "HmacSHA1". */
  algorithm?: "HmacSHA256" | "HmacSHA1";
  /** Headers the request carries besides the x-ca-* ones (accept, content-type, …). */
  headers?: Record<string, string>;
  /** Form body (signed when content-type is x-www-form-urlencoded). */
  body?: string | Buffer;
  /** Adds Content-MD5 of the body (the Dify plugin leaves it out; Aliyun SDKs send it). */
  contentMd5?: boolean;
  nowMs?: number;
  nonce?: string;
  /** Headers to sign; default the Dify plugin's four. */
  signedHeaders?: string[];
  /** Leave the Date header out (the timestamp then carries the time). */
  noDate?: boolean;
}

export interface Signed {
  headers: Record<string, string>;
  stringToSign: string;
}

const DIFY_SIGNED = ["x-ca-key", "x-ca-nonce", "x-ca-signature-method", "x-ca-timestamp"];

const utf8 = new TextDecoder(); // replaces bad UTF-8 like Python's errors="replace"

/** Python's unquote_plus: `+` is a space, valid `%XX` a byte, the bytes read as UTF-8. */
function unquotePlus(s: string): string {
  const src = Buffer.from(s.replace(/\+/g, " "), "utf8");
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const hex = src.subarray(i + 1, i + 3).toString("latin1");
    if (src[i] === 0x25 && /^[0-9a-fA-F]{2}$/.test(hex)) { out.push(parseInt(hex, 16)); i += 2; } else out.push(src[i]);
  }
  return utf8.decode(Uint8Array.from(out));
}

/**
 * Python's parse_qs(keep_blank_values=True) then values[0]. (Node's URLSearchParams is not used:
 * on a bad escape it falls back to a decoder that cuts non-ASCII characters to one byte.)
 */
function firstValues(query: string, into: Map<string, string>): void {
  for (const field of query.split("&")) {
    if (field === "") continue;
    const eq = field.indexOf("=");
    const k = unquotePlus(eq < 0 ? field : field.slice(0, eq));
    const v = eq < 0 ? "" : unquotePlus(field.slice(eq + 1));
    if (!into.has(k)) into.set(k, v);
  }
}

/** Python sorts str keys by code point, which is UTF-8 byte order. */
function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

export function pathAndParameters(path: string, body: string | Buffer | undefined, contentType: string): string {
  const q = path.indexOf("?");
  const bare = q < 0 ? path : path.slice(0, q);
  const params = new Map<string, string>();
  // Python's parse_qs keeps the first value within one source.
  if (q >= 0) firstValues(path.slice(q + 1), params);
  if (body !== undefined && contentType.toLowerCase().includes("application/x-www-form-urlencoded")) {
    // The one departure from the Dify plugin, which lets a form value replace a query value of the
    // same key: Higress keeps the first (the query's). The Dify plugin itself only sends JSON bodies.
    firstValues(body.toString(), params);
  }
  if (params.size === 0) return bare || "/";
  const keys = [...params.keys()].sort(byCodePoint);
  return `${bare}?${keys.map((k) => `${k}=${params.get(k)}`).join("&")}`;
}

export function sign(input: SignInput): Signed {
  const now = input.nowMs ?? Date.now();
  const alg = input.algorithm ?? "HmacSHA256";
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers ?? {})) h[k.toLowerCase()] = v;
  h["x-ca-key"] = input.key;
  h["x-ca-timestamp"] = String(now);
  h["x-ca-nonce"] = input.nonce ?? randomUUID();
  h["x-ca-signature-method"] = alg;
  if (!input.noDate) h["date"] = new Date(Math.floor(now / 1000) * 1000).toUTCString();
  if (input.contentMd5) h["content-md5"] = createHash("md5").update(input.body ?? "").digest("base64");
  const signed = [...(input.signedHeaders ?? DIFY_SIGNED)].map((x) => x.toLowerCase()).sort();
  let sts = `${input.method.toUpperCase()}\n${h["accept"] ?? ""}\n${h["content-md5"] ?? ""}\n${h["content-type"] ?? ""}\n${h["date"] ?? ""}\n`;
  for (const name of signed) {
    if (["accept", "content-md5", "content-type", "date", "x-ca-signature", "x-ca-signature-headers"].includes(name)) continue;
    sts += `${name}:${h[name] ?? ""}\n`;
  }
  sts += pathAndParameters(input.path, input.body, h["content-type"] ?? "");
  h["x-ca-signature"] = createHmac(alg === "HmacSHA1" ? "sha1" : "sha256", Buffer.from(input.secret, "utf8"))
    .update(Buffer.from(sts, "utf8")).digest("base64");
  h["x-ca-signature-headers"] = signed.join(",");
  return { headers: h, stringToSign: sts };
}

/** What the plugin puts in X-Ca-Error-Message for a string to sign. */
export function errorMessageFor(stringToSign: string): string {
  return `Server StringToSign:\`${stringToSign.replace(/\n/g, "#")}\``;
}
