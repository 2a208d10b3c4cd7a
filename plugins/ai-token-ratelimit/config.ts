// Configuration: Higress's ai-token-ratelimit and cluster-key-rate-limit schemas, accepted unchanged,
// plus the fields this plugin adds (see README.md).
import { JsonValue } from "../../shared/json";
import { ConfigError, ConfigParser } from "../../shared/config";
import { Regex, compileRegex, regexError } from "../../shared/regex";
import { CidrSet } from "../../shared/net";
import { RedisClient } from "../../shared/redis";

export const enum LimitBy {
  Global, Header, Param, Cookie, Consumer, PerHeader, PerParam, PerCookie, PerConsumer, PerIp,
}
export const enum KeyMatch { Exact, Any, Regexp, Cidr }
export const enum Unit { Tokens, Requests }

/** The header Higress's auth plugins put the consumer name in. */
export const CONSUMER_HEADER = "x-mse-consumer";

/** One enforced limit: at most `limit` tokens (or requests) in any `seconds`-long stretch of time. */
export class Window {
  /** The end of its counter key, ":token:60" (built here, not per request). */
  keySuffix: string;
  constructor(public unit: Unit, public limit: i64, public seconds: i64) {
    this.keySuffix = ":" + (unit == Unit.Tokens ? "token" : "query") + ":" + seconds.toString();
  }
  get ms(): i64 { return this.seconds * 1000; }
}

/** A `limit_keys` entry (or the global threshold): which values it applies to and its windows. */
export class LimitKey {
  match: KeyMatch = KeyMatch.Exact;
  key: string = "";
  regex: Regex | null = null;
  cidrs: CidrSet | null = null;
  windows: Window[] = [];
  get hasTokenWindow(): bool {
    for (let i = 0; i < this.windows.length; i++) if (this.windows[i].unit == Unit.Tokens) return true;
    return false;
  }
}

export class RuleItem {
  by: LimitBy = LimitBy.Header;
  /** The config field name (limit_by_header, ...): part of the counter keys, as in Higress. */
  typeName: string = "";
  /** Header / param / cookie name; x-mse-consumer for consumers; the per-IP source. */
  name: string = "";
  /** limit_by_per_ip: the header to read the client IP from ("" = the connection's remote address). */
  ipHeader: string = "";
  keys: LimitKey[] = [];
  /** Counter keys of this item start with this, then the value (built at configure time). */
  keyPrefix: string = "";
}

// Counter keys: ai-token-ratelimit:{rule}:global_threshold:token:60 and
// ai-token-ratelimit:{rule}:limit_by_header:x-app:<value>:query:3600 ({rule}: one Redis Cluster slot per rule).
const KEY_PREFIX = "ai-token-ratelimit:";

export class RateLimitConfig {
  ruleName: string = "";
  /** The global threshold's counter keys start with this. */
  globalKey: string = "";
  global: LimitKey | null = null;
  items: RuleItem[] = [];
  rejectedCode: u32 = 429;
  rejectedMsg: string = "Too many requests";
  showQuotaHeader: bool = false;
  /** Cluster mode when set; local (shared data) mode otherwise. */
  redis: RedisClient | null = null;
  /** Admit (true) or reject when the counters cannot be reached. */
  failOpen: bool = true;
  /** Output tokens reserved for a request that names no max_tokens. */
  expectedOutputTokens: i64 = 256;
  /** Add stream_options.include_usage to OpenAI streaming requests (and hide the extra chunk). */
  injectStreamUsage: bool = true;
  // Metric ids, set in onConfigured.
  mAdmitted: u32 = 0;
  mRejected: u32 = 0;
  mTokens: u32 = 0;
  mFailures: u32 = 0;
}

const TOKEN_FIELDS: string[] = ["token_per_second", "token_per_minute", "token_per_hour", "token_per_day"];
const QUERY_FIELDS: string[] = ["query_per_second", "query_per_minute", "query_per_hour", "query_per_day"];
const SECONDS: i64[] = [1, 60, 3600, 86400];

// limit_by_* fields in the order Higress checks them (a later one wins if several are set).
const BY_FIELDS: string[] = [
  "limit_by_header", "limit_by_param", "limit_by_cookie", "limit_by_per_header", "limit_by_per_param",
  "limit_by_per_cookie", "limit_by_consumer", "limit_by_per_consumer", "limit_by_per_ip",
];
const BY_KINDS: LimitBy[] = [
  LimitBy.Header, LimitBy.Param, LimitBy.Cookie, LimitBy.PerHeader, LimitBy.PerParam,
  LimitBy.PerCookie, LimitBy.Consumer, LimitBy.PerConsumer, LimitBy.PerIp,
];

function isPer(by: LimitBy): bool {
  return by == LimitBy.PerHeader || by == LimitBy.PerParam || by == LimitBy.PerCookie || by == LimitBy.PerConsumer;
}

/** A string field, or an integer written as a number (YAML `key: 102234`). */
function scalarText(v: JsonValue | null): string | null {
  if (v == null) return null;
  if (v.isString()) return v.asString();
  if (v.isNumber()) {
    const n = v.asNumber();
    return n == Math.trunc(n) && Math.abs(n) < 9007199254740992.0 ? (<i64>n).toString() : n.toString();
  }
  return null;
}

/** A positive integer field; 0 when absent; -1 (after err.fail) when present but invalid. */
function positiveInt(json: JsonValue, field: string, err: ConfigError, where: string): i64 {
  const v = json.get(field);
  if (v == null || v.isNull()) return 0;
  const n = v.asNumber(-1);
  if (!v.isNumber() || n != Math.trunc(n) || n < 1 || n > 1e15) { err.fail(where + field, "must be a positive integer"); return -1; }
  return <i64>n;
}

/** The windows of one limit key / global threshold; false after err.fail. */
function parseWindows(json: JsonValue, into: LimitKey, err: ConfigError, where: string): bool {
  let tokenUnit = Unit.Tokens;
  const lt = json.get("limit_type");
  if (lt != null && !lt.isNull()) {
    const s = lt.asString();
    if (s == "request") tokenUnit = Unit.Requests;
    else if (s != "token") return err.fail(where + "limit_type", "must be \"token\" or \"request\"");
  }
  for (let i = 0; i < 4; i++) {
    const t = positiveInt(json, TOKEN_FIELDS[i], err, where);
    if (t < 0) return false;
    if (t > 0) into.windows.push(new Window(tokenUnit, t, SECONDS[i]));
    const q = positiveInt(json, QUERY_FIELDS[i], err, where);
    if (q < 0) return false;
    if (q > 0) into.windows.push(new Window(Unit.Requests, q, SECONDS[i]));
  }
  if (into.windows.length == 0) {
    return err.fail(where.length ? where.substring(0, where.length - 1) : "global_threshold",
      "needs one of token_per_second|minute|hour|day or query_per_second|minute|hour|day");
  }
  return true;
}

function parseLimitKey(json: JsonValue, item: RuleItem, err: ConfigError, where: string): LimitKey | null {
  if (!json.isObject()) { err.fail(where.substring(0, where.length - 1), "must be an object"); return null; }
  const lk = new LimitKey();
  const key = scalarText(json.get("key"));
  if (key == null || key.length == 0) { err.fail(where + "key", "is required (a string)"); return null; }
  lk.key = key;
  if (item.by == LimitBy.PerIp) {
    const set = new CidrSet();
    if (!set.add(key)) { err.fail(where + "key", "must be an IP address or CIDR range, got \"" + key + "\""); return null; }
    lk.match = KeyMatch.Cidr;
    lk.cidrs = set;
  } else if (isPer(item.by)) {
    if (key == "*") lk.match = KeyMatch.Any;
    else if (key.startsWith("regexp:")) {
      const re = compileRegex(key.substring(7));
      if (re == null) { err.fail(where + "key", "bad regular expression: " + regexError()); return null; }
      lk.match = KeyMatch.Regexp;
      lk.regex = re;
    } else {
      err.fail(where + "key", "for " + item.typeName + " must be \"*\" or start with \"regexp:\"");
      return null;
    }
  }
  if (!parseWindows(json, lk, err, where)) return null;
  return lk;
}

function parseRuleItem(json: JsonValue, err: ConfigError, where: string): RuleItem | null {
  if (!json.isObject()) { err.fail(where.substring(0, where.length - 1), "must be an object"); return null; }
  const item = new RuleItem();
  let found = false;
  for (let i = 0; i < BY_FIELDS.length; i++) {
    const f = BY_FIELDS[i];
    const v = json.get(f);
    if (v == null || v.isNull()) continue;
    const kind = BY_KINDS[i];
    const s = scalarText(v);
    if (s == null) { err.fail(where + f, "must be a string"); return null; }
    // As in Higress: consumer kinds need no value; the others are ignored when empty.
    if (s.length == 0 && kind != LimitBy.Consumer && kind != LimitBy.PerConsumer) continue;
    item.by = kind;
    item.typeName = f;
    item.name = s;
    found = true;
  }
  if (!found) { err.fail(where.substring(0, where.length - 1), "needs one of " + BY_FIELDS.join(", ")); return null; }
  switch (item.by) {
    case LimitBy.Header: case LimitBy.PerHeader: item.name = item.name.toLowerCase(); break;
    case LimitBy.Consumer: case LimitBy.PerConsumer: item.name = CONSUMER_HEADER; break;
    case LimitBy.PerIp: {
      if (item.name.startsWith("from-header-") && item.name.length > 12) item.ipHeader = item.name.substring(12).toLowerCase();
      else if (item.name != "from-remote-addr") {
        err.fail(where + "limit_by_per_ip", "must be from-header-<name> or from-remote-addr");
        return null;
      }
      break;
    }
    default: break; // param and cookie names are case-sensitive
  }
  const keys = json.get("limit_keys");
  if (keys == null || !keys.isArray() || keys.length == 0) { err.fail(where + "limit_keys", "must be a non-empty list"); return null; }
  for (let i = 0; i < keys.length; i++) {
    const kj = keys.at(i);
    if (kj == null) continue;
    const lk = parseLimitKey(kj, item, err, where + "limit_keys[" + i.toString() + "].");
    if (lk == null) return null;
    item.keys.push(lk);
  }
  return item;
}

// A Redis answer later than this is no use to a request held waiting for it (the host's call timeout is a u32).
const MAX_REDIS_TIMEOUT_MS: i64 = 600000;

function parseRedis(json: JsonValue, err: ConfigError): RedisClient | null {
  const name = json.getString("service_name");
  if (name.length == 0) { err.fail("redis.service_name", "is required"); return null; }
  const port = positiveInt(json, "service_port", err, "redis.");
  if (port < 0 || port > 65535) { if (port > 65535) err.fail("redis.service_port", "must be a port number"); return null; }
  const timeout = positiveInt(json, "timeout", err, "redis.");
  if (timeout < 0) return null;
  if (timeout > MAX_REDIS_TIMEOUT_MS) { err.fail("redis.timeout", "must be at most " + MAX_REDIS_TIMEOUT_MS.toString() + " ms"); return null; }
  const dbv = json.get("database");
  let db: i64 = 0;
  if (dbv != null && !dbv.isNull()) {
    db = dbv.asInt(-1);
    if (!dbv.isNumber() || db < 0 || db > 1 << 20) { err.fail("redis.database", "must be a non-negative integer"); return null; }
  }
  const user = json.getString("username");
  const pass = json.getString("password");
  return RedisClient.forService(name, <i32>port, user, pass, timeout > 0 ? <u32>timeout : 1000, <i32>db);
}

export class RateLimitParser extends ConfigParser<RateLimitConfig> {
  parse(json: JsonValue, err: ConfigError): RateLimitConfig | null {
    const c = new RateLimitConfig();
    const rn = json.get("rule_name");
    const ruleName = scalarText(rn);
    if (ruleName == null || ruleName.length == 0) { err.fail("rule_name", "is required"); return null; }
    c.ruleName = ruleName;
    const base = KEY_PREFIX + "{" + ruleName + "}:";
    c.globalKey = base + "global_threshold";

    const g = json.get("global_threshold");
    const items = json.get("rule_items");
    const hasGlobal = g != null && !g.isNull();
    const hasItems = items != null && !items.isNull();
    if (!hasGlobal && !hasItems) { err.fail("rule_items", "set rule_items or global_threshold"); return null; }
    if (g != null && hasGlobal) {
      if (!g.isObject()) { err.fail("global_threshold", "must be an object"); return null; }
      const lk = new LimitKey();
      lk.match = KeyMatch.Any;
      if (!parseWindows(g, lk, err, "global_threshold.")) return null;
      c.global = lk;
    }
    if (items != null && hasItems) {
      if (!items.isArray() || items.length == 0) { err.fail("rule_items", "must be a non-empty list"); return null; }
      for (let i = 0; i < items.length; i++) {
        const ij = items.at(i);
        if (ij == null) continue;
        const item = parseRuleItem(ij, err, "rule_items[" + i.toString() + "].");
        if (item == null) return null;
        item.keyPrefix = base + item.typeName + ":" + item.name + ":";
        c.items.push(item);
      }
    }

    const code = json.get("rejected_code");
    if (code != null && !code.isNull()) {
      const n = code.asNumber(-1);
      if (!code.isNumber() || n != Math.trunc(n) || n < 100 || n > 599) { err.fail("rejected_code", "must be an HTTP status (100-599)"); return null; }
      c.rejectedCode = <u32>n;
    }
    const msg = json.get("rejected_msg");
    if (msg != null && !msg.isNull()) {
      if (!msg.isString()) { err.fail("rejected_msg", "must be a string"); return null; }
      c.rejectedMsg = msg.asString();
    }
    const sq = json.get("show_limit_quota_header");
    if (sq != null && !sq.isNull()) {
      if (!sq.isBool()) { err.fail("show_limit_quota_header", "must be true or false"); return null; }
      c.showQuotaHeader = sq.asBool();
    }
    const redis = json.get("redis");
    if (redis != null && !redis.isNull()) {
      if (!redis.isObject()) { err.fail("redis", "must be an object"); return null; }
      c.redis = parseRedis(redis, err);
      if (c.redis == null) return null;
    }
    const fp = json.get("failure_policy");
    if (fp != null && !fp.isNull()) {
      const s = fp.asString();
      if (s == "open") c.failOpen = true;
      else if (s == "closed") c.failOpen = false;
      else { err.fail("failure_policy", "must be \"open\" or \"closed\""); return null; }
    }
    const eo = json.get("expected_output_tokens");
    if (eo != null && !eo.isNull()) {
      const n = eo.asNumber(-1);
      if (!eo.isNumber() || n != Math.trunc(n) || n < 0 || n > 1e9) { err.fail("expected_output_tokens", "must be a non-negative integer"); return null; }
      c.expectedOutputTokens = <i64>n;
    }
    const iu = json.get("inject_stream_usage");
    if (iu != null && !iu.isNull()) {
      if (!iu.isBool()) { err.fail("inject_stream_usage", "must be true or false"); return null; }
      c.injectStreamUsage = iu.asBool();
    }
    return c;
  }
}
