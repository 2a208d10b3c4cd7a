// Configuration: Higress's ai-load-balancer schema (lb_type, lb_policy, lb_config), accepted unchanged,
// plus the policies and knobs this plugin adds (see README.md).
import { JsonValue } from "../../shared/json";
import { ConfigError, ConfigParser } from "../../shared/config";
import { RedisClient } from "../../shared/redis";
import { ScoreParams } from "./choose";

export const enum Policy { RoundRobin, LeastRequest, PrefixCache, EndpointMetrics, ConsistentHash, HigressPrefix }
export const enum MetricPolicy { Default, Least, Most }

export class HostWeight {
  constructor(public address: string, public weight: i64) {}
}

export class LbConfig {
  policy: Policy = Policy.LeastRequest;
  policyName: string = "";
  /** Cluster mode when set (counters and the prefix index in Redis); local (shared data) mode otherwise. */
  redis: RedisClient | null = null;
  /** How long a prefix entry lives without being used (Higress `redisKeyTTL`, seconds). */
  ttlMs: i64 = 1800 * 1000;
  /** An in-flight request older than this stops counting (guards against counts lost with a gateway). */
  inflightTimeoutMs: i64 = 3600 * 1000;
  /** Higress `maxRequestCount`: 429 when even the least loaded host has this many in flight (0: off). */
  maxRequestCount: i64 = 0;
  // prefix_cache
  blockBytes: i32 = 256;
  maxBlocks: i32 = 256;
  /** Prompt tokens one in-flight request is worth when it is weighed against a cached prefix. */
  inflightCostTokens: f64 = 256;
  /** Hot-spot guard: a host may carry at most max(margin, (factor - 1) * least) more requests than the least loaded. */
  hotSpotMargin: i64 = 2;
  hotSpotFactor: f64 = 1.25;
  /** Bound on the prefix index: blocks remembered (shared-data slots locally, an LRU set in Redis). */
  maxEntries: i32 = 16384;
  /** The scoring parameters above as pickByScore takes them (main.ts builds them once). */
  score: ScoreParams | null = null;
  // round_robin (weighted)
  weights: HostWeight[] = [];
  // consistent_hash
  hashHeader: string = "x-session-id";
  // endpoint_metrics
  metricPolicy: MetricPolicy = MetricPolicy.Default;
  targetMetric: string = "";
  rateLimit: f64 = 1.0;
  /** endpoint_metrics' rate_limit window: this VM's last picks (Higress keeps 100, per VM too). */
  recent: string[] = [];
  recentNext: i32 = 0;

  weightOf(address: string): i64 {
    for (let i = 0; i < this.weights.length; i++) if (this.weights[i].address == address) return this.weights[i].weight;
    return 1;
  }
  /** Policies that read the prompt from the body (the others decide on the headers). */
  get needsBody(): bool {
    return this.policy == Policy.PrefixCache || this.policy == Policy.HigressPrefix;
  }
}

/** An integer field within [lo, hi]; `def` when absent; i64.MIN_VALUE after err.fail. */
function intField(json: JsonValue, key: string, def: i64, lo: i64, hi: i64, err: ConfigError): i64 {
  const v = json.get(key);
  if (v == null || v.isNull()) return def;
  const n = v.asNumber(NaN);
  if (!v.isNumber() || n != Math.floor(n) || n < <f64>lo || n > <f64>hi) {
    err.fail("lb_config." + key, "must be an integer from " + lo.toString() + " to " + hi.toString());
    return i64.MIN_VALUE;
  }
  return <i64>n;
}

/** A number field within [lo, hi]; `def` when absent; NaN after err.fail. */
function numField(json: JsonValue, key: string, def: f64, lo: f64, hi: f64, err: ConfigError): f64 {
  const v = json.get(key);
  if (v == null || v.isNull()) return def;
  const n = v.asNumber(NaN);
  if (!v.isNumber() || !(n >= lo && n <= hi)) {
    err.fail("lb_config." + key, "must be a number from " + lo.toString() + " to " + hi.toString());
    return NaN;
  }
  return n;
}

function strField(json: JsonValue, key: string, def: string, err: ConfigError): string | null {
  const v = json.get(key);
  if (v == null || v.isNull()) return def;
  if (!v.isString()) { err.fail("lb_config." + key, "must be a string"); return null; }
  return v.asString();
}

function policyOf(name: string): i32 {
  if (name == "round_robin" || name == "weighted_round_robin") return Policy.RoundRobin;
  if (name == "global_least_request" || name == "least_request") return Policy.LeastRequest;
  if (name == "prefix_cache") return Policy.PrefixCache;
  if (name == "endpoint_metrics" || name == "metrics_based") return Policy.EndpointMetrics;
  if (name == "consistent_hash") return Policy.ConsistentHash;
  if (name == "higress_prefix_cache") return Policy.HigressPrefix;
  return -1;
}

export class LbParser extends ConfigParser<LbConfig> {
  parse(json: JsonValue, err: ConfigError): LbConfig | null {
    const c = new LbConfig();
    const lbType = json.getString("lb_type", "endpoint");
    if (lbType != "endpoint") { err.fail("lb_type", "only \"endpoint\" is supported (cluster policies are not implemented)"); return null; }
    const pv = json.get("lb_policy");
    if (pv == null || !pv.isString()) { err.fail("lb_policy", "is required (a string)"); return null; }
    const p = policyOf(pv.asString());
    if (p < 0) { err.fail("lb_policy", "unknown policy \"" + pv.asString() + "\""); return null; }
    c.policy = <Policy>p;
    c.policyName = pv.asString();
    let lc = json.get("lb_config");
    if (lc != null && !lc.isNull() && !lc.isObject()) { err.fail("lb_config", "must be an object"); return null; }
    if (lc == null || lc.isNull()) lc = JsonValue.newObject();
    const cfg = lc as JsonValue;

    // Redis: Higress's fields. Present → cluster mode.
    const fqdn = strField(cfg, "serviceFQDN", "", err);
    if (fqdn == null) return null;
    if (fqdn.length > 0) {
      const port = intField(cfg, "servicePort", 0, 1, 65535, err);
      const timeout = intField(cfg, "timeout", 3000, 1, 600000, err);
      const db = intField(cfg, "database", 0, 0, 1 << 20, err);
      const user = strField(cfg, "username", "", err);
      const pass = strField(cfg, "password", "", err);
      if (err.failed || user == null || pass == null) return null;
      if (port == 0) { err.fail("lb_config.servicePort", "is required with serviceFQDN"); return null; }
      c.redis = RedisClient.forService(fqdn, <i32>port, user, pass, <u32>timeout, <i32>db);
    } else if (c.policy == Policy.HigressPrefix) {
      err.fail("lb_config.serviceFQDN", "higress_prefix_cache needs Redis, as Higress's prefix_cache does");
      return null;
    }

    const ttl = intField(cfg, "redisKeyTTL", 1800, 1, 30 * 86400, err);
    const inflight = intField(cfg, "inflightTimeout", 3600, 1, 86400, err);
    c.maxRequestCount = intField(cfg, "maxRequestCount", 0, 0, 1 << 30, err);
    c.blockBytes = <i32>intField(cfg, "blockSize", 256, 16, 65536, err);
    c.maxBlocks = <i32>intField(cfg, "maxBlocks", 256, 1, 4096, err);
    c.inflightCostTokens = numField(cfg, "inflightCostTokens", 256, 0, 1e9, err);
    c.hotSpotMargin = intField(cfg, "hotSpotMargin", 2, 0, 1 << 20, err);
    c.hotSpotFactor = numField(cfg, "hotSpotFactor", 1.25, 1, 1000, err);
    c.maxEntries = <i32>intField(cfg, "maxEntries", 16384, 16, 1 << 24, err);
    c.rateLimit = numField(cfg, "rate_limit", 1.0, 0, 1, err);
    if (err.failed) return null;
    c.ttlMs = ttl * 1000;
    c.inflightTimeoutMs = inflight * 1000;

    const header = strField(cfg, "hash_header", "x-session-id", err);
    if (header == null) return null;
    if (header.length == 0) { err.fail("lb_config.hash_header", "must not be empty"); return null; }
    c.hashHeader = header.toLowerCase();

    const mp = strField(cfg, "metric_policy", "default", err);
    if (mp == null) return null;
    if (mp == "default") c.metricPolicy = MetricPolicy.Default;
    else if (mp == "least") c.metricPolicy = MetricPolicy.Least;
    else if (mp == "most") c.metricPolicy = MetricPolicy.Most;
    else { err.fail("lb_config.metric_policy", "must be default, least or most"); return null; }
    const tm = strField(cfg, "target_metric", "", err);
    if (tm == null) return null;
    if (c.metricPolicy != MetricPolicy.Default && tm.length == 0) {
      err.fail("lb_config.target_metric", "is required with metric_policy " + mp);
      return null;
    }
    c.targetMetric = tm;

    const w = cfg.get("weights");
    if (w != null && !w.isNull()) {
      if (!w.isObject()) { err.fail("lb_config.weights", "must be an object of \"ip:port\": weight"); return null; }
      const keys = w.keys();
      for (let i = 0; i < keys.length; i++) {
        const wv = w.get(keys[i]);
        const n = wv == null ? NaN : wv.asNumber(NaN);
        if (!(n >= 0 && n <= 1000000) || n != Math.floor(n)) {
          err.fail("lb_config.weights." + keys[i], "must be an integer from 0 to 1000000");
          return null;
        }
        c.weights.push(new HostWeight(keys[i], <i64>n));
      }
    }
    return c;
  }
}
