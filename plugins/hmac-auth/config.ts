// hmac-auth configuration: Higress's fields (consumers / legacy credentials, global_auth,
// date_offset, allow) plus ours (API keys, nonce store, body limit, hide_credentials, IP rules).
// Parsed once per config push; nothing here runs per request.
import { JsonValue } from "../../shared/json";
import { ConfigError, ConfigParser, stringList } from "../../shared/config";
import { hexEncode, sha256, utf8 } from "../../shared/crypto";
import { RedisClient, defaultRedisPort } from "../../shared/redis";
import { IpRules, parseIpRules } from "./ip";
import { asciiLower } from "./text";

export const DEFAULT_DATE_OFFSET_S: i64 = 900;
export const DEFAULT_NONCE_TTL_S: i64 = 900;
export const DEFAULT_MAX_BODY_BYTES: i64 = 32 * 1024 * 1024;   // Higress's limit
export const MAX_NONCE_LENGTH = 128;

/** An AK/SK consumer. Legacy `credentials` have no name (no X-Mse-Consumer, never in an allow list). */
export class Consumer {
  constructor(public name: string, public secret: Uint8Array) {}
}

export class NonceOptions {
  enabled: bool = true;
  /** How long a nonce is remembered when there is no date window. */
  ttlMs: i64 = DEFAULT_NONCE_TTL_S * 1000;
  /** null: the local shared-data store. */
  redis: RedisClient | null = null;
  keyPrefix: string = "hmac-auth:nonce:";
}

export class HmacConfig {
  /** AK → consumer. */
  hmac: Map<string, Consumer> = new Map<string, Consumer>();
  /** hex SHA-256 of an API key → consumer name (looked up by digest so timing says nothing of the key). */
  apiKeys: Map<string, string> = new Map<string, string>();
  keyHeaders: string[] = ["authorization", "x-api-key"];
  keyQuery: string[] = [];
  /** -1 unset, 0 false, 1 true (only the global config's value is used). */
  globalAuth: i32 = -1;
  /** Consumer names allowed here; null: every consumer. */
  allow: Set<string> | null = null;
  /** Date window in ms; 0: no window. */
  dateOffsetMs: i64 = DEFAULT_DATE_OFFSET_S * 1000;
  nonce: NonceOptions = new NonceOptions();
  maxBodyBytes: i64 = DEFAULT_MAX_BODY_BYTES;
  hideCredentials: bool = false;
  ip: IpRules | null = null;

  get hasApiKeys(): bool { return this.apiKeys.size > 0; }
  allows(name: string): bool {
    const a = this.allow;
    return a == null || (name.length > 0 && a.has(name));
  }
}

/** `key` as a string: absent → `def`; present but not a (non-empty when `nonEmpty`) string → error (null). */
function stringField(json: JsonValue, key: string, def: string, nonEmpty: bool, err: ConfigError, where: string): string | null {
  const v = json.get(key);
  if (v == null || v.isNull()) return def;
  if (!v.isString() || (nonEmpty && v.asString().length == 0)) {
    err.fail(where + key, nonEmpty ? "must be a non-empty string" : "must be a string");
    return null;
  }
  return v.asString();
}

/** `key` as an integer in [lo, hi]; absent → `def`. */
function intField(json: JsonValue, key: string, def: i64, lo: i64, hi: i64, err: ConfigError, where: string): i64 {
  const v = json.get(key);
  if (v == null || v.isNull()) return def;
  const n = v.asNumber(f64.NaN);
  if (!v.isNumber() || n != Math.floor(n) || n < <f64>lo || n > <f64>hi) {
    err.fail(where + key, "must be an integer from " + lo.toString() + " to " + hi.toString());
    return i64.MIN_VALUE;
  }
  return <i64>n;
}

function boolField(json: JsonValue, key: string, def: bool, err: ConfigError): i32 {
  const v = json.get(key);
  if (v == null || v.isNull()) return def ? 1 : 0;
  if (!v.isBool()) { err.fail(key, "must be true or false"); return -1; }
  return v.asBool() ? 1 : 0;
}

/** stringList with the field reported as `where` + key. */
function stringsField(json: JsonValue, key: string, err: ConfigError, where: string): string[] | null {
  const saved = err.prefix;
  err.prefix = saved + where;
  const r = stringList(json, key, err);
  err.prefix = saved;
  return r;
}

function lowerList(list: string[]): string[] {
  const out = new Array<string>(list.length);
  for (let i = 0; i < list.length; i++) out[i] = asciiLower(unchecked(list[i]));
  return out;
}

export class HmacParser extends ConfigParser<HmacConfig> {
  parse(json: JsonValue, err: ConfigError): HmacConfig | null {
    const c = new HmacConfig();
    if (json.has("consumers") && json.has("credentials")) {
      err.fail("consumers", "cannot be used together with credentials");
      return null;
    }
    if (!this.consumers(json, c, err)) return null;

    if (json.has("global_auth")) {
      const g = boolField(json, "global_auth", false, err);
      if (g < 0) return null;
      c.globalAuth = g;
    }
    if (json.has("allow")) {
      const names = stringList(json, "allow", err);
      if (names == null) return null;
      const set = new Set<string>();
      for (let i = 0; i < names.length; i++) set.add(unchecked(names[i]));
      c.allow = set;
    }
    const offset = intField(json, "date_offset", DEFAULT_DATE_OFFSET_S, -1, 86400 * 365, err, "");
    if (offset == i64.MIN_VALUE) return null;
    c.dateOffsetMs = offset > 0 ? offset * 1000 : 0;

    const maxBody = intField(json, "max_body_bytes", DEFAULT_MAX_BODY_BYTES, 0, i32.MAX_VALUE, err, "");
    if (maxBody == i64.MIN_VALUE) return null;
    c.maxBodyBytes = maxBody;

    const hide = boolField(json, "hide_credentials", false, err);
    if (hide < 0) return null;
    c.hideCredentials = hide == 1;

    if (!this.apiKeySources(json, c, err)) return null;
    if (!this.nonce(json, c, err)) return null;

    const ipJson = json.get("ip_restriction");
    if (ipJson != null && !ipJson.isNull()) {
      const ip = parseIpRules(ipJson, err);
      if (ip == null) return null;
      c.ip = ip;
    }
    return c;
  }

  private consumers(json: JsonValue, c: HmacConfig, err: ConfigError): bool {
    const legacy = json.has("credentials");
    const field = legacy ? "credentials" : "consumers";
    const list = json.get(field);
    if (list == null || list.isNull()) return true;
    if (!list.isArray()) return err.fail(field, "must be a list");
    for (let i = 0; i < list.length; i++) {
      const where = field + "[" + i.toString() + "].";
      const item = list.at(i);
      if (item == null || !item.isObject()) return err.fail(where, "must be an object");
      const name = legacy ? "" : stringField(item, "name", "", true, err, where);
      if (name == null) return false;
      if (!legacy && !item.has("name")) return err.fail(where + "name", "is required");
      const key = stringField(item, "key", "", true, err, where);
      const secret = stringField(item, "secret", "", true, err, where);
      const apiKey = legacy ? "" : stringField(item, "api_key", "", true, err, where);
      if (key == null || secret == null || apiKey == null) return false;
      if ((key.length > 0) != (secret.length > 0)) return err.fail(where + (key.length > 0 ? "secret" : "key"), "is required with " + (key.length > 0 ? "key" : "secret"));
      if (key.length == 0 && apiKey.length == 0) return err.fail(where, legacy ? "needs key and secret" : "needs key and secret, or api_key");
      if (key.length > 0) {
        if (c.hmac.has(key)) return err.fail(where + "key", "duplicate key");
        c.hmac.set(key, new Consumer(name, utf8(secret)));
      }
      if (apiKey.length > 0) {
        const digest = hexEncode(sha256<string>(apiKey));
        if (c.apiKeys.has(digest)) return err.fail(where + "api_key", "duplicate api_key");
        c.apiKeys.set(digest, name);
      }
    }
    return true;
  }

  private apiKeySources(json: JsonValue, c: HmacConfig, err: ConfigError): bool {
    const v = json.get("api_key");
    if (v == null || v.isNull()) return true;
    if (!v.isObject()) return err.fail("api_key", "must be an object with headers and/or query");
    const headers = v.has("headers") ? stringsField(v, "headers", err, "api_key.") : c.keyHeaders;
    const query = stringsField(v, "query", err, "api_key.");
    if (headers == null || query == null) return false;
    if (headers.length + query.length == 0) return err.fail("api_key", "needs at least one header or query parameter");
    c.keyHeaders = lowerList(headers);
    c.keyQuery = query;
    return true;
  }

  private nonce(json: JsonValue, c: HmacConfig, err: ConfigError): bool {
    const v = json.get("nonce");
    if (v == null || v.isNull()) return true;
    if (!v.isObject()) return err.fail("nonce", "must be an object");
    const n = c.nonce;
    const en = v.get("enabled");
    if (en != null && !en.isNull()) {
      if (!en.isBool()) return err.fail("nonce.enabled", "must be true or false");
      n.enabled = en.asBool();
    }
    const ttl = intField(v, "ttl", DEFAULT_NONCE_TTL_S, 1, 86400 * 30, err, "nonce.");
    if (ttl == i64.MIN_VALUE) return false;
    n.ttlMs = ttl * 1000;
    const r = v.get("redis");
    if (r == null || r.isNull()) return true;
    if (!r.isObject()) return err.fail("nonce.redis", "must be an object");
    const w = "nonce.redis.";
    const service = stringField(r, "service_name", "", true, err, w);
    if (service == null) return false;
    if (service.length == 0) return err.fail(w + "service_name", "is required");
    const port = intField(r, "service_port", defaultRedisPort(service), 1, 65535, err, w);
    const db = intField(r, "database", 0, 0, 255, err, w);
    const timeout = intField(r, "timeout", 1000, 1, 60000, err, w);
    const user = stringField(r, "username", "", false, err, w);
    const pass = stringField(r, "password", "", false, err, w);
    const prefix = stringField(r, "key_prefix", n.keyPrefix, false, err, w);
    if (port == i64.MIN_VALUE || db == i64.MIN_VALUE || timeout == i64.MIN_VALUE || user == null || pass == null || prefix == null) return false;
    n.redis = RedisClient.forService(service, <i32>port, user, pass, <u32>timeout, <i32>db);
    n.keyPrefix = prefix;
    return true;
  }
}
