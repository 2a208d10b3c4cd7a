// What prefix_cache keys on: the prompt as one canonical, order-sensitive text, cut into fixed-size
// blocks whose hashes are chained (h_i = SHA-1(h_{i-1} ‖ block_i), h_0 = SHA-1(scope)), so two
// requests share exactly the leading blocks in which their prompts agree, as a model server's
// prefix cache does. The scope (route and model) seeds the chain: the same text on another route or
// model never matches. Also Higress's own keys (XOR of per-turn SHA-1s), for the baseline policy.
import { JsonValue } from "../../shared/json";
import { HashAlg, Hasher, hexEncode, sha1 } from "../../shared/crypto";

// Separators that ordinary text does not contain, so "a"+"bc" and "ab"+"c" render differently.
const MESSAGE = "\u001e";
const FIELD = "\u001f";

/** Text of a message's content: a string, the text parts of a list, or the JSON of anything else. */
function contentText(v: JsonValue | null): string {
  if (v == null || v.isNull()) return "";
  if (v.isString()) return v.asString();
  if (!v.isArray()) return v.toString();
  const parts = new Array<string>();
  for (let i = 0; i < v.length; i++) {
    const p = v.at(i);
    if (p == null) continue;
    if (p.isObject() && p.getString("type") == "text") parts.push(p.getString("text"));
    else parts.push(p.toString());
  }
  return parts.join(FIELD);
}

/**
 * The prompt of a chat (messages, tools) or completions (prompt) body as canonical text; null when the
 * body carries neither or a message is not an object with a string role (a malformed body).
 */
export function promptText(body: JsonValue): string | null {
  const messages = body.getArray("messages");
  if (messages == null) {
    const prompt = body.get("prompt");
    if (prompt == null || prompt.isNull()) return null;
    return "prompt" + FIELD + (prompt.isString() ? prompt.asString() : prompt.toString());
  }
  if (messages.length == 0) return null;
  const out = new Array<string>();
  const tools = body.get("tools");
  if (tools != null && !tools.isNull()) out.push("tools" + FIELD + tools.toString());
  for (let i = 0; i < messages.length; i++) {
    const m = messages.at(i);
    if (m == null || !m.isObject()) return null;
    const role = m.get("role");
    if (role == null || !role.isString()) return null;
    out.push(MESSAGE + role.asString() + FIELD + contentText(m.get("content")));
    const name = m.get("name");
    if (name != null && name.isString()) out.push(FIELD + "name" + FIELD + name.asString());
    const calls = m.get("tool_calls");
    if (calls != null && !calls.isNull()) out.push(FIELD + "tool_calls" + FIELD + calls.toString());
    const callId = m.get("tool_call_id");
    if (callId != null && callId.isString()) out.push(FIELD + "tool_call_id" + FIELD + callId.asString());
  }
  return out.join("");
}

/** The first 8 bytes of a digest as a number. */
@inline function head64(d: Uint8Array): u64 {
  return d.length >= 8 ? load<u64>(d.dataStart) : 0;
}

/** Chained hashes of the full `blockBytes` blocks of `text` (a partial last block is left out), at most `maxBlocks`. */
export function chainHashes(scope: string, text: string, blockBytes: i32, maxBlocks: i32): u64[] {
  const out = new Array<u64>();
  if (blockBytes <= 0) return out;
  const bytes = String.UTF8.encode(text);
  const base = changetype<usize>(bytes);
  const prev = new StaticArray<u64>(1);
  prev[0] = head64(sha1(scope));
  const h = new Hasher(HashAlg.Sha1);
  const full = bytes.byteLength / blockBytes;
  const n = full < maxBlocks ? full : maxBlocks;
  for (let i = 0; i < n; i++) {
    h.write(changetype<usize>(prev), 8);
    h.write(base + <usize>i * <usize>blockBytes, <usize>blockBytes);
    const v = head64(h.digest());
    out.push(v);
    prev[0] = v;
  }
  return out;
}

/** 16 lower-case hex digits. */
export function hex64(v: u64): string {
  const b = new Uint8Array(8);
  for (let i = 0; i < 8; i++) b[i] = <u8>(v >> (<u64>(56 - 8 * i)));
  return hexEncode(b);
}

/**
 * Higress 2.1's prefix keys, reproduced for the baseline: messages rendered as role + ":" + content
 * (content's raw JSON when it is not a string), cut after each user message and after the last one;
 * block i's key is the XOR of the SHA-1s of blocks 1..i, in upper-case hex. Null (no balancing, as in
 * Higress) when there are no messages or one lacks a role or content.
 */
export function higressPrefixKeys(body: JsonValue): string[] | null {
  const messages = body.getArray("messages");
  if (messages == null || messages.length == 0) return null;
  const keys = new Array<string>();
  const acc = new Uint8Array(20);
  let raw = "";
  for (let i = 0; i < messages.length; i++) {
    const m = messages.at(i);
    if (m == null || !m.isObject() || !m.has("role") || !m.has("content")) return null;
    const rv = m.get("role");
    const cv = m.get("content");
    const role = rv == null || rv.isNull() ? "" : rv.isString() ? rv.asString() : rv.toString();
    const content = cv == null || cv.isNull() ? "" : cv.isString() ? cv.asString() : cv.toString();
    raw += role + ":" + content;
    if (role == "user" || i == messages.length - 1) {
      const d = sha1(raw);
      for (let k = 0; k < 20 && k < d.length; k++) acc[k] = acc[k] ^ d[k];
      keys.push(hexEncode(acc, true));
      raw = "";
    }
  }
  return keys;
}
