// Small JsonValue helpers the translators share.
import { JsonValue } from "../json";

export function jstr(s: string): JsonValue { return JsonValue.newString(s); }
export function jobj(): JsonValue { return JsonValue.newObject(); }
export function jarr(): JsonValue { return JsonValue.newArray(); }

/** The string at key, or "" when absent or not a string. */
export function strAt(o: JsonValue | null, key: string): string {
  if (o === null) return "";
  return o.getString(key, "");
}

/** Count at key; -1 when absent or not a number. */
export function countAt(o: JsonValue | null, key: string): i64 {
  if (o === null) return -1;
  const v = o.get(key);
  if (v === null || !v.isNumber()) return -1;
  return v.asInt(0);
}

/** Copy key from src to dst (same name or renamed) when present and not null; true if copied. */
export function copyKey(src: JsonValue, dst: JsonValue, key: string, as: string = ""): bool {
  const v = src.get(key);
  if (v === null || v.isNull()) return false;
  dst.set(as.length ? as : key, v);
  return true;
}

/** Concatenated text of an OpenAI/Anthropic/DashScope content value: a string, or a list of parts. */
export function contentText(content: JsonValue | null, sep: string = ""): string {
  if (content === null) return "";
  if (content.isString()) return content.asString();
  if (!content.isArray()) return "";
  let out = "";
  let first = true;
  const parts = content.items();
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p.isString()) { out += (first ? "" : sep) + p.asString(); first = false; continue; }
    if (!p.isObject()) continue;
    const t = p.get("text");
    if (t !== null && t.isString()) { out += (first ? "" : sep) + t.asString(); first = false; }
  }
  return out;
}

/** Strings of an array value (non-strings skipped), or one string, or []. */
export function stringList(v: JsonValue | null): string[] {
  const out: string[] = [];
  if (v === null) return out;
  if (v.isString()) { out.push(v.asString()); return out; }
  if (!v.isArray()) return out;
  const items = v.items();
  for (let i = 0; i < items.length; i++) if (items[i].isString()) out.push(items[i].asString());
  return out;
}

export function startsWithAny(s: string, prefixes: string[]): bool {
  for (let i = 0; i < prefixes.length; i++) if (s.startsWith(prefixes[i])) return true;
  return false;
}

/** "data:<media>;base64,<data>" split into media type and data; null when not a base64 data URL. */
export function splitDataUrl(url: string): string[] | null {
  if (!url.startsWith("data:")) return null;
  const semi = url.indexOf(";base64,");
  if (semi < 5) return null;
  return [url.substring(5, semi), url.substring(semi + 8)];
}

// Null-tolerant navigation: each returns null when o is null or the child is absent / of another type.
export function valAt(o: JsonValue | null, key: string): JsonValue | null { if (o === null) return null; return o.get(key); }
export function arrAt(o: JsonValue | null, key: string): JsonValue | null { if (o === null) return null; return o.getArray(key); }
export function objAt(o: JsonValue | null, key: string): JsonValue | null { if (o === null) return null; return o.getObject(key); }
export function firstOf(a: JsonValue | null): JsonValue | null { if (a === null) return null; return a.at(0); }
