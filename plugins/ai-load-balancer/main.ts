// ai-load-balancer: picks the upstream endpoint of an LLM route by prompt-prefix cache affinity
// weighed against load (prefix_cache), by in-flight requests (global_least_request), by the model
// servers' own metrics (endpoint_metrics), round robin (weighted), or a header hash (consistent_hash);
// and sets it with proxy_set_upstream_override_host. Accepts Higress's ai-load-balancer configuration.
// Policies that read the prompt hold the headers (StopIteration) until the body is in and the
// decision made, as Higress's plugin does. See README.md.
export * from "../../shared/proxy/exports";
import { BufferType, DataAction, HeaderAction, LogLevel, MetricType } from "../../shared/proxy/abi";
import {
  getBuffer, getPropertyString, requestHeader, continueRequest, setUpstreamOverrideHost, defineMetric,
  incrementMetric, logDebug, logWarn, nowMillis, nowNanos, setLogPrefix,
} from "../../shared/proxy/hostcalls";
import { HttpContext, RootContext, registerRootContext } from "../../shared/proxy/context";
import { ConfigParser } from "../../shared/config";
import { PluginRoot, replyError } from "../../shared/plugin";
import { JsonValue, parseJsonBytes } from "../../shared/json";
import { kvInit } from "../../shared/kv";
import { LbConfig, LbParser, MetricPolicy, Policy } from "./config";
import { UpstreamHost, healthyHosts } from "./hosts";
import { chainHashes, higressPrefixKeys, promptText } from "./prompt";
import { Rng, ScoreParams, hash64, maxOf, metricValue, pickByScore, rangeFilter, rendezvous } from "./choose";
import { localAdjust, localLoads, localMatch, localRecord, localRoundRobin } from "./local";
import {
  HigressDone, PickDone, higressCountKey, inflightKeys, redisHigressPick, redisHigressRelease, redisPick, redisRelease,
} from "./cluster";

const RATE_WINDOW = 100;

/** The request body as a JSON object; null when absent or malformed. */
function jsonBody(body: ArrayBuffer | null): JsonValue | null {
  if (body == null || body.byteLength == 0) return null;
  const json = parseJsonBytes(body);
  return json != null && json.isObject() ? json : null;
}

class LbRoot extends PluginRoot<LbConfig> {
  rng: Rng = new Rng(<u32>(nowNanos() ^ (nowNanos() >> 32)));
  mDecisions: u32 = 0;
  mPrefixHits: u32 = 0;
  mPrefixHitTokens: u32 = 0;
  mDiversions: u32 = 0;
  mFallbacks: u32 = 0;
  mStoreErrors: u32 = 0;
  mRejected: u32 = 0;
  mNoHealthy: u32 = 0;
  hostMetrics: Map<string, u32> = new Map<string, u32>();

  parser(): ConfigParser<LbConfig> { return new LbParser(); }

  onConfigured(): void {
    kvInit();
    const p = "ai_load_balancer.";
    this.mDecisions = defineMetric(MetricType.Counter, p + "decisions");
    this.mPrefixHits = defineMetric(MetricType.Counter, p + "prefix_hits");
    this.mPrefixHitTokens = defineMetric(MetricType.Counter, p + "prefix_hit_tokens");
    this.mDiversions = defineMetric(MetricType.Counter, p + "load_diversions");
    this.mFallbacks = defineMetric(MetricType.Counter, p + "fallbacks");
    this.mStoreErrors = defineMetric(MetricType.Counter, p + "store_errors");
    this.mRejected = defineMetric(MetricType.Counter, p + "rejected");
    this.mNoHealthy = defineMetric(MetricType.Counter, p + "no_healthy_host");
    const rc = this.config;
    if (rc == null) return;
    const g = rc.global;
    if (g != null) {
      const gr = g.redis;
      if (gr != null) gr.init();
    }
    for (let i = 0; i < rc.rules.length; i++) {
      const r = rc.rules[i].config.redis;
      if (r != null) r.init();
    }
  }

  /** Counts a pick per host (metric names are bounded by the cluster's endpoints). */
  countHost(address: string): void {
    if (!this.hostMetrics.has(address)) {
      const name = "ai_load_balancer.host." + address.replaceAll(".", "_").replaceAll(":", "_") + ".picks";
      this.hostMetrics.set(address, defineMetric(MetricType.Counter, name));
    }
    incrementMetric(this.hostMetrics.get(address));
  }

  newHttpContext(id: u32): HttpContext { return new LbStream(id, this); }
}

/** The config's scoring parameters, built on first use (they only read the config). */
function scoreParams(cfg: LbConfig): ScoreParams {
  const have = cfg.score;
  if (have != null) return have;
  const p = new ScoreParams();
  p.blockTokens = <f64>cfg.blockBytes / 4;   // ≈ 4 bytes of prompt text per token
  p.inflightCost = cfg.inflightCostTokens;
  p.hotMargin = cfg.hotSpotMargin;
  p.hotFactor = cfg.hotSpotFactor;
  p.maxRequestCount = cfg.maxRequestCount;
  cfg.score = p;
  return p;
}

const enum Phase { Idle, WaitingBody, WaitingStore, Decided }

class StorePick extends PickDone {
  constructor(public s: LbStream) { super(); }
  onPicked(index: i32, matched: i32, load: i64, longest: i32): void { this.s.onStorePick(index, matched, load, longest); }
  onPickFailed(error: string): void { this.s.onStoreFailed(error); }
}

class HigressPick extends HigressDone {
  constructor(public s: LbStream) { super(); }
  onHigressPicked(host: string): void { this.s.onHigressPick(host); }
  onPickFailed(error: string): void { this.s.onStoreFailed(error); }
}

class LbStream extends HttpContext {
  cfg: LbConfig | null = null;
  phase: Phase = Phase.Idle;
  hosts: string[] = [];
  route: string = "";
  cluster: string = "";
  tag: string = "";
  blocks: u64[] = [];
  reqId: string = "";
  /** Host whose local in-flight count this stream holds. */
  heldLocal: string = "";
  /** In-flight sets in Redis this request may be in (all candidates while the pick is on its way). */
  heldKeys: string[] = [];
  /** Higress baseline: the host whose Redis count this stream holds. */
  heldHigress: string = "";

  get lbRoot(): LbRoot { return this.root as LbRoot; }

  onRequestHeaders(n: u32, endOfStream: bool): HeaderAction {
    const cfg = this.lbRoot.configForRequest();
    if (cfg == null) return HeaderAction.Continue;
    this.cfg = cfg;
    if (endOfStream || !cfg.needsBody) {
      return this.decide(cfg, null) ? HeaderAction.Continue : HeaderAction.StopIteration;
    }
    this.phase = Phase.WaitingBody;
    return HeaderAction.StopIteration;
  }

  onRequestBody(size: u32, endOfStream: bool): DataAction {
    const cfg = this.cfg;
    if (cfg == null || this.phase == Phase.Idle || this.phase == Phase.Decided) return DataAction.Continue;
    if (this.phase == Phase.WaitingStore || !endOfStream) return DataAction.StopIterationAndBuffer;
    return this.decide(cfg, getBuffer(BufferType.RequestBody)) ? DataAction.Continue : DataAction.StopIterationAndBuffer;
  }

  onRequestTrailers(n: u32): HeaderAction {
    const cfg = this.cfg;
    if (this.phase == Phase.WaitingStore) return HeaderAction.StopIteration;
    if (cfg == null || this.phase != Phase.WaitingBody) return HeaderAction.Continue;
    return this.decide(cfg, getBuffer(BufferType.RequestBody)) ? HeaderAction.Continue : HeaderAction.StopIteration;
  }

  /** Picks the host; true when done now, false while Redis answers (or after a local reply). */
  decide(cfg: LbConfig, body: ArrayBuffer | null): bool {
    this.phase = Phase.Decided;
    const up = healthyHosts();
    if (up.length == 0) {
      incrementMetric(this.lbRoot.mNoHealthy);
      logWarn("no healthy endpoint reported for this route; leaving the choice to the cluster");
      return true;
    }
    this.hosts = new Array<string>(up.length);
    for (let i = 0; i < up.length; i++) this.hosts[i] = up[i].address;
    const r = getPropertyString("route_name");
    const c = getPropertyString("cluster_name");
    this.route = r == null ? "" : r;
    this.cluster = c == null ? "" : c;
    this.tag = this.route + "|" + this.cluster;

    switch (cfg.policy) {
      case Policy.RoundRobin: {
        const hashes = new Array<u64>(up.length);
        const weights = new Array<i64>(up.length);
        for (let i = 0; i < up.length; i++) { hashes[i] = hash64(up[i].address); weights[i] = cfg.weightOf(up[i].address); }
        const i = localRoundRobin(this.tag, hashes, weights);
        if (i < 0) return this.scored(cfg, "every healthy host has weight 0");
        return this.use(i, "round_robin");
      }
      case Policy.ConsistentHash: {
        const key = requestHeader(cfg.hashHeader);
        if (key == null || key.length == 0) return this.scored(cfg, "no " + cfg.hashHeader + " header");
        const weights = new Array<i64>(up.length);
        for (let i = 0; i < up.length; i++) weights[i] = cfg.weightOf(up[i].address);
        const i = rendezvous(key, this.hosts, weights);
        if (i < 0) return this.scored(cfg, "every healthy host has weight 0");
        return this.use(i, "consistent_hash");
      }
      case Policy.EndpointMetrics:
        return this.byMetrics(cfg, up);
      case Policy.LeastRequest:
        return this.scored(cfg, "");
      case Policy.HigressPrefix:
        return this.higress(cfg, body);
      default: {   // prefix_cache
        const json = jsonBody(body);
        if (json == null) return this.scored(cfg, "body is not a JSON object");
        const text = promptText(json);
        if (text == null) return this.scored(cfg, "no messages or prompt in the body");
        const scope = this.route + "\u0000" + json.getString("model");
        this.blocks = chainHashes(scope, text, cfg.blockBytes, cfg.maxBlocks);
        return this.scored(cfg, "");
      }
    }
    return true;
  }

  /** prefix_cache and least request: pickByScore over in-flight counts and (with blocks) the prefix index. */
  scored(cfg: LbConfig, fallbackWhy: string): bool {
    if (fallbackWhy.length > 0) {
      incrementMetric(this.lbRoot.mFallbacks);
      logDebug("falling back to least request: " + fallbackWhy);
    }
    const p = scoreParams(cfg);
    const tie = this.lbRoot.rng.next();
    const redis = cfg.redis;
    if (redis != null) {
      this.reqId = this.requestId();
      const keys = inflightKeys(this.tag, this.hosts);
      this.heldKeys = keys;
      if (redisPick(redis, this.tag, this.hosts, keys, this.blocks, this.reqId, p, cfg.ttlMs, cfg.inflightTimeoutMs,
        cfg.maxEntries, tie, new StorePick(this))) {
        this.phase = Phase.WaitingStore;
        return false;
      }
      this.heldKeys = [];
      incrementMetric(this.lbRoot.mStoreErrors);
      logWarn("redis call could not be sent; deciding from this gateway's own counts");
    }
    return this.scoredLocally(cfg, p, tie);
  }

  scoredLocally(cfg: LbConfig, p: ScoreParams, tie: u32): bool {
    const loads = localLoads(this.tag, this.hosts);
    const now = nowMillis();
    const hostHashes = new Array<u64>(this.hosts.length);
    for (let i = 0; i < this.hosts.length; i++) hostHashes[i] = hash64(this.hosts[i]);
    const matched = this.blocks.length > 0
      ? localMatch(this.blocks, hostHashes, now, cfg.ttlMs, cfg.maxEntries)
      : new Array<i32>(this.hosts.length);
    const i = pickByScore(loads, matched, p, tie);
    if (i < 0) { this.reject(); return false; }
    if (localAdjust(this.tag, this.hosts[i], 1)) this.heldLocal = this.hosts[i];
    if (this.blocks.length > 0 && !localRecord(this.blocks, hostHashes[i], now, cfg.maxEntries, cfg.ttlMs / 4)) {
      incrementMetric(this.lbRoot.mStoreErrors);
    }
    return this.usePrefix(cfg, i, matched[i], loads[i], maxOf(matched));
  }

  onStorePick(index: i32, matched: i32, load: i64, longest: i32): void {
    const cfg = this.cfg;
    if (cfg == null || this.phase != Phase.WaitingStore) return;
    this.phase = Phase.Decided;
    if (index < 0) { this.heldKeys = []; this.reject(); return; }
    this.heldKeys = [this.heldKeys[index]];
    if (this.usePrefix(cfg, index, matched, load, longest)) continueRequest();
  }

  onStoreFailed(error: string): void {
    const cfg = this.cfg;
    if (cfg == null || this.phase != Phase.WaitingStore) return;
    this.phase = Phase.Decided;
    incrementMetric(this.lbRoot.mStoreErrors);
    if (cfg.policy == Policy.HigressPrefix) {
      // As Higress: no override, the cluster's own balancing decides.
      logWarn("redis failed (" + error + "); no override");
      continueRequest();
      return;
    }
    logWarn("redis failed (" + error + "); deciding from this gateway's own counts");
    if (this.scoredLocally(cfg, scoreParams(cfg), this.lbRoot.rng.next())) continueRequest();
  }

  usePrefix(cfg: LbConfig, i: i32, matched: i32, load: i64, longest: i32): bool {
    const root = this.lbRoot;
    const tokens = <i64>matched * <i64>(cfg.blockBytes / 4);
    if (matched > 0) { incrementMetric(root.mPrefixHits); incrementMetric(root.mPrefixHitTokens, tokens); }
    if (longest > matched) incrementMetric(root.mDiversions);
    const why = this.blocks.length == 0 ? "least_request in_flight=" + load.toString()
      : "prefix matched_tokens=" + tokens.toString() + "/" + (<i64>this.blocks.length * <i64>(cfg.blockBytes / 4)).toString() +
        " longest_any=" + (<i64>longest * <i64>(cfg.blockBytes / 4)).toString() + " in_flight=" + load.toString();
    return this.use(i, why);
  }

  /** Sets the override to hosts[i], counts and logs the decision. Always true (the request goes on). */
  use(i: i32, why: string): bool {
    if (i < 0 || i >= this.hosts.length) return true;
    const host = this.hosts[i];
    if (setUpstreamOverrideHost(host) != 0) logWarn("the host refused override " + host);
    incrementMetric(this.lbRoot.mDecisions);
    this.lbRoot.countHost(host);
    const cfg = this.cfg;
    logDebug("route " + this.route + ": " + host + " by " + (cfg == null ? "" : cfg.policyName) + " (" + why + ")");
    return true;
  }

  reject(): void {
    incrementMetric(this.lbRoot.mRejected);
    replyError(429, "Exceeded maximum request limit from ai-load-balancer.", "rate_limit_exceeded",
      "max_request_count", [], "ai_load_balancer.max_request_count");
  }

  byMetrics(cfg: LbConfig, up: UpstreamHost[]): bool {
    const n = up.length;
    const all = new Array<i32>(n);
    for (let i = 0; i < n; i++) all[i] = i;
    let idx: i32[];
    let primary = new Array<f64>(n);
    if (cfg.metricPolicy == MetricPolicy.Default) {
      // GIE's filter chain as Higress runs it: least queue, then least KV-cache use.
      const kv = new Array<f64>(n);
      for (let i = 0; i < n; i++) {
        primary[i] = metricValue(up[i].metrics, "vllm:num_requests_waiting");
        let u = metricValue(up[i].metrics, "vllm:gpu_cache_usage_perc");
        if (isNaN(u)) u = metricValue(up[i].metrics, "vllm:kv_cache_usage_perc");
        kv[i] = u;
      }
      idx = rangeFilter(kv, rangeFilter(primary, all, true), true);
    } else {
      for (let i = 0; i < n; i++) primary[i] = metricValue(up[i].metrics, cfg.targetMetric);
      idx = rangeFilter(primary, all, cfg.metricPolicy == MetricPolicy.Least);
    }
    let known = false;
    for (let i = 0; i < n; i++) if (!isNaN(primary[i])) known = true;
    if (!known || idx.length == 0) return this.scored(cfg, "no endpoint reports the metrics");
    const rng = this.lbRoot.rng;
    let pick = idx[rng.below(idx.length)];
    // rate_limit: a host that took more than this share of the last picks yields to a random other.
    const recent = cfg.recent;
    if (recent.length > 0 && n > 1) {
      let count = 0;
      for (let k = 0; k < recent.length; k++) if (recent[k] == this.hosts[pick]) count++;
      if (<f64>count / <f64>recent.length > cfg.rateLimit) {
        const other = rng.below(n - 1);
        pick = other < pick ? other : other + 1;
      }
    }
    if (recent.length < RATE_WINDOW) recent.push(this.hosts[pick]);
    else { recent[cfg.recentNext] = this.hosts[pick]; cfg.recentNext = (cfg.recentNext + 1) % RATE_WINDOW; }
    return this.use(pick, "endpoint_metrics value=" + (isNaN(primary[pick]) ? "none" : primary[pick].toString()));
  }

  /** The Higress 2.1 prefix_cache, for comparison (needs Redis). */
  higress(cfg: LbConfig, body: ArrayBuffer | null): bool {
    const redis = cfg.redis;
    const json = jsonBody(body);
    let keys: string[] | null = null;
    if (json != null) keys = higressPrefixKeys(json);
    if (redis == null || keys == null || this.route.length == 0 || this.cluster.length == 0) {
      logDebug("higress_prefix_cache: nothing to balance on; no override");
      return true;
    }
    const rng = this.lbRoot.rng;
    const dflt = this.hosts[rng.below(this.hosts.length)];
    if (redisHigressPick(redis, higressCountKey(this.route, this.cluster), keys, cfg.ttlMs / 1000, dflt, rng.next(),
      this.hosts, new HigressPick(this))) {
      this.phase = Phase.WaitingStore;
      return false;
    }
    incrementMetric(this.lbRoot.mStoreErrors);
    return true;
  }

  onHigressPick(host: string): void {
    if (this.phase != Phase.WaitingStore) return;
    this.phase = Phase.Decided;
    this.heldHigress = host;
    const i = this.hosts.indexOf(host);
    if (i >= 0) this.use(i, "higress prefix");
    else setUpstreamOverrideHost(host);
    continueRequest();
  }

  requestId(): string {
    const x = requestHeader("x-request-id");
    return (x == null ? "" : x) + "/" + this.id.toString() + "/" + nowNanos().toString();
  }

  /** Stream end, completed or aborted: give back the in-flight count. */
  onDone(): void {
    const cfg = this.cfg;
    if (cfg == null) return;
    if (this.heldLocal.length > 0) localAdjust(this.tag, this.heldLocal, -1);
    this.heldLocal = "";
    const redis = cfg.redis;
    if (redis == null) return;
    if (this.heldKeys.length > 0) redisRelease(redis, this.heldKeys, this.reqId);
    this.heldKeys = [];
    if (this.heldHigress.length > 0) redisHigressRelease(redis, higressCountKey(this.route, this.cluster), this.heldHigress);
    this.heldHigress = "";
  }
}

setLogPrefix("ai-load-balancer");
registerRootContext((id: u32): RootContext => new LbRoot(id));
