// Configuration of ai-fallback (README.md has the table). Everything is validated and precomputed here,
// at configure time: status tables, protocols, header lists.
import { JsonValue } from "../../shared/json";
import { ConfigError, ConfigParser, stringList } from "../../shared/config";
import { Header } from "../../shared/proxy/hostcalls";
import { Protocol } from "../../shared/translate/types";
import { StatusSet } from "./triggers";
import { CircuitParams } from "./circuit";

/** A fallback target: another cluster (and maybe another API) that can answer the same request. */
export class Target {
  name: string = "";
  cluster: string = "";
  authority: string = "";
  /** "" = the client's path (same protocol) or the protocol's standard path. */
  path: string = "";
  /** "" = keep the client's model. */
  model: string = "";
  /** -1 = the client's protocol. */
  protocol: i32 = -1;
  headers: Header[] = [];
  timeoutMs: u32 = 0;
}

export class FallbackConfig {
  /** The route's own upstream; "" = the cluster_name property of the request. */
  primaryName: string = "";
  targets: Target[] = [];
  onStatus: StatusSet = new StatusSet();
  onReset: bool = true;
  onTimeout: bool = true;
  onMalformed: bool = true;
  onLocalReply: bool = false;
  maxAttempts: i32 = 0;
  timeoutMs: u32 = 60000;
  /** Streaming requests: the primary's first SSE event must come within this; 0 = timeoutMs. */
  firstByteTimeoutMs: u32 = 0;
  maxBodyBytes: i32 = 1 << 20;
  circuit: CircuitParams = new CircuitParams();

  /** How long the primary may take to start answering a request. */
  primaryBudgetMs(stream: bool): u32 {
    return stream && this.firstByteTimeoutMs > 0 ? this.firstByteTimeoutMs : this.timeoutMs;
  }
}

export function protocolOf(name: string): i32 {
  if (name == "openai") return <i32>Protocol.OpenAI;
  if (name == "dashscope" || name == "qwen") return <i32>Protocol.DashScope;
  if (name == "anthropic" || name == "claude") return <i32>Protocol.Anthropic;
  return -2;
}

const DEFAULT_STATUS: string[] = ["5xx", "429"];
const MAX_TIMEOUT_MS: i64 = 3600000;

function readMs(json: JsonValue, key: string, def: i64, min: i64, err: ConfigError): i64 {
  const v = json.get(key);
  if (v === null || v.isNull()) return def;
  if (!v.isNumber()) { err.fail(key, "must be a number of milliseconds"); return -1; }
  const n = v.asInt(-1);
  if (n < min || n > MAX_TIMEOUT_MS) { err.fail(key, "must be " + min.toString() + ".." + MAX_TIMEOUT_MS.toString() + " ms"); return -1; }
  return n;
}

function readBool(json: JsonValue, key: string, def: bool, err: ConfigError): bool {
  const v = json.get(key);
  if (v === null || v.isNull()) return def;
  if (!v.isBool()) { err.fail(key, "must be true or false"); return def; }
  return v.asBool();
}

function readInt(json: JsonValue, key: string, def: i64, min: i64, max: i64, err: ConfigError): i64 {
  const v = json.get(key);
  if (v === null || v.isNull()) return def;
  const n = v.asInt(min - 1);
  if (!v.isNumber() || n < min || n > max || <f64>n != v.asNumber()) {
    err.fail(key, "must be an integer in " + min.toString() + ".." + max.toString());
    return def;
  }
  return n;
}

/** Headers a target must not take from config: the plugin or Envoy sets them. */
function reservedHeader(name: string): bool {
  return name.startsWith(":") || name == "content-length" || name == "host" || name == "transfer-encoding";
}

export class FallbackParser extends ConfigParser<FallbackConfig> {
  parse(json: JsonValue, err: ConfigError): FallbackConfig | null {
    const c = new FallbackConfig();
    const primary = json.get("primary");
    if (primary !== null && !primary.isNull()) {
      if (!primary.isObject()) { err.fail("primary", "must be an object"); return null; }
      c.primaryName = primary.getString("name");
    }

    const statuses = stringList(json, "on_status", err);
    if (statuses === null) return null;
    const patterns = json.has("on_status") ? statuses : DEFAULT_STATUS;
    for (let i = 0; i < patterns.length; i++) {
      const why = c.onStatus.add(patterns[i]);
      if (why.length) { err.fail("on_status[" + i.toString() + "]", why); return null; }
    }
    c.onReset = readBool(json, "on_reset", true, err);
    c.onTimeout = readBool(json, "on_timeout", true, err);
    c.onMalformed = readBool(json, "on_malformed", true, err);
    c.onLocalReply = readBool(json, "on_local_reply", false, err);

    const timeout = readMs(json, "timeout", 60000, 1, err);
    const firstByte = readMs(json, "first_byte_timeout", 0, 0, err);
    if (err.failed) return null;
    c.timeoutMs = <u32>timeout;
    c.firstByteTimeoutMs = <u32>firstByte;
    c.maxBodyBytes = <i32>readInt(json, "max_body_bytes", 1 << 20, 1, 1 << 30, err);

    const cb = json.get("circuit_breaker");
    if (cb !== null && !cb.isNull()) {
      if (!cb.isObject()) { err.fail("circuit_breaker", "must be an object"); return null; }
      const saved = err.prefix;
      err.prefix = saved + "circuit_breaker.";
      c.circuit.threshold = <i32>readInt(cb, "failure_threshold", 5, 0, 1000000, err);
      c.circuit.openMs = readMs(cb, "open_ms", 30000, 1, err);
      c.circuit.probes = <i32>readInt(cb, "half_open_probes", 1, 1, 1000, err);
      err.prefix = saved;
      if (err.failed) return null;
    }

    const list = json.get("fallbacks");
    if (list !== null && !list.isNull() && !list.isArray()) { err.fail("fallbacks", "must be a list"); return null; }
    const n = list === null ? 0 : list.length;
    for (let i = 0; i < n; i++) {
      const field = "fallbacks[" + i.toString() + "]";
      const tj = (<JsonValue>list).at(i);
      if (tj === null || !tj.isObject()) { err.fail(field, "must be an object"); return null; }
      const t = parseTarget(tj, field, c, err);
      if (t === null) return null;
      for (let k = 0; k < c.targets.length; k++) {
        if (c.targets[k].name == t.name) { err.fail(field + ".name", "duplicate target name " + t.name); return null; }
      }
      c.targets.push(t);
    }

    c.maxAttempts = <i32>readInt(json, "max_attempts", 1 + c.targets.length, 1, 100, err);
    if (err.failed) return null;
    // Probes that never report must not hold half-open forever: free them after the longest attempt.
    let longest: i64 = c.timeoutMs;
    for (let i = 0; i < c.targets.length; i++) longest = max(longest, <i64>c.targets[i].timeoutMs);
    c.circuit.probeTimeoutMs = longest + 1000;
    return c;
  }
}

function parseTarget(tj: JsonValue, field: string, c: FallbackConfig, err: ConfigError): Target | null {
  const t = new Target();
  t.cluster = tj.getString("cluster");
  if (t.cluster.length == 0) { err.fail(field + ".cluster", "required (e.g. outbound|443||dashscope.dns)"); return null; }
  t.name = tj.getString("name", t.cluster);
  t.authority = tj.getString("authority");
  if (t.authority.length == 0) t.authority = authorityFromCluster(t.cluster);
  t.path = tj.getString("path");
  if (t.path.length && !t.path.startsWith("/")) { err.fail(field + ".path", "must start with /"); return null; }
  t.model = tj.getString("model");
  const proto = tj.getString("protocol");
  if (proto.length) {
    t.protocol = protocolOf(proto);
    if (t.protocol < 0) { err.fail(field + ".protocol", "must be openai, dashscope or anthropic"); return null; }
  }
  const hj = tj.get("headers");
  if (hj !== null && !hj.isNull()) {
    if (!hj.isObject()) { err.fail(field + ".headers", "must be an object of strings"); return null; }
    const keys = hj.keys();
    for (let k = 0; k < keys.length; k++) {
      const v = hj.get(keys[k]);
      const name = keys[k].toLowerCase();
      if (v === null || !v.isString()) { err.fail(field + ".headers." + keys[k], "must be a string"); return null; }
      if (reservedHeader(name)) { err.fail(field + ".headers." + keys[k], "is set by the plugin"); return null; }
      t.headers.push(new Header(name, v.asString()));
    }
  }
  const saved = err.prefix;
  err.prefix += field + ".";
  const ms = readMs(tj, "timeout", <i64>c.timeoutMs, 1, err);
  err.prefix = saved;
  if (ms < 0) return null;
  t.timeoutMs = <u32>ms;
  return t;
}

/** `outbound|443||dashscope.dns` → `dashscope.dns`; a plain name stays as it is. */
export function authorityFromCluster(cluster: string): string {
  const parts = cluster.split("|");
  return parts.length >= 4 && parts[3].length ? parts[3] : cluster;
}
