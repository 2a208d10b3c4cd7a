// ai-token-ratelimit: token and request limits that never overshoot.
// Accepts Higress's ai-token-ratelimit / cluster-key-rate-limit configuration unchanged. A request is
// charged its estimated cost before it goes upstream (prompt estimate + max_tokens or the expected
// output) and admitted only if that fits every window; when the response ends (or the client goes away)
// the reservation is replaced by the real usage. See README.md.
export * from "../../shared/proxy/exports";
import { BufferType, DataAction, HeaderAction, LogLevel, MapType, MetricType } from "../../shared/proxy/abi";
import {
  Header, requestHeader, responseHeader, removeHeader, replaceHeader, getBuffer, setBuffer, getPropertyString,
  sendLocalResponse, continueRequest, defineMetric, incrementMetric, logWarn, logDebug, logEnabled, setLogPrefix,
} from "../../shared/proxy/hostcalls";
import { RootContext, HttpContext, registerRootContext } from "../../shared/proxy/context";
import { ConfigParser } from "../../shared/config";
import { PluginRoot, errorBody } from "../../shared/plugin";
import { JsonValue, parseJsonBytes } from "../../shared/json";
import { kvInit } from "../../shared/kv";
import { cookie, queryParam, parseIpPort } from "../../shared/net";
import { estimateTokens, estimateChatPromptTokens } from "../../shared/tokens";
import { Usage, usageFromJson } from "../../shared/usage";
import { writeAiLog } from "../../shared/ailog";
import { CONSUMER_HEADER, KeyMatch, LimitBy, LimitKey, RateLimitConfig, RateLimitParser, RuleItem, Unit, Window } from "./config";
import { AdmitDone, Charges, admitLocal, admitRedis, reconcileLocal, reconcileRedis } from "./store";
import { SseUsageFilter } from "./stream";

// Non-streaming response bodies are copied (not held back) to read their usage, up to this size.
const MAX_COPIED_BODY: i32 = 8 << 20;
const MAX_OUTPUT: i64 = 1 << 40;
// Smallest extra charge for a stream that outgrows its reservation.
const TOP_UP_MIN: i64 = 64;

class RateLimitRoot extends PluginRoot<RateLimitConfig> {
  parser(): ConfigParser<RateLimitConfig> { return new RateLimitParser(); }

  onConfigured(): void {
    kvInit();
    const rc = this.config;
    if (rc == null) return;
    const g = rc.global;
    if (g != null) setUp(g);
    for (let i = 0; i < rc.rules.length; i++) setUp(rc.rules[i].config);
  }

  newHttpContext(id: u32): HttpContext { return new RateLimitStream(id, this); }
}

/** Per-config work done once: metrics by rule name (bounded by the config) and the Redis connection. */
function setUp(c: RateLimitConfig): void {
  const p = "ai_token_ratelimit." + c.ruleName + ".";
  c.mAdmitted = defineMetric(MetricType.Counter, p + "admitted_requests");
  c.mRejected = defineMetric(MetricType.Counter, p + "rejected_requests");
  c.mTokens = defineMetric(MetricType.Counter, p + "charged_tokens");
  c.mFailures = defineMetric(MetricType.Counter, p + "store_failures");
  const r = c.redis;
  if (r != null) r.init();
}

const enum Phase { Idle, WaitingBody, WaitingStore, Admitted, Finished }

class RateLimitStream extends HttpContext implements AdmitDone {
  cfg: RateLimitConfig | null = null;
  phase: Phase = Phase.Idle;
  charges: Charges = new Charges();
  /** What each window holds for this request now: the reservation, plus top-ups while a stream runs long. */
  held: i64[] = [];
  /** Which entries of `charges` are token windows. */
  isToken: bool[] = [];
  hasTokenWindow: bool = false;
  /** Admission came from a store that could not answer (fail open): nothing to reconcile. */
  unaccounted: bool = false;

  promptTokens: i64 = 0;
  reservation: i64 = 0;
  openAiStream: bool = false;
  injectedUsage: bool = false;

  responseSeen: bool = false;
  responseStatus: i32 = 0;
  sse: SseUsageFilter | null = null;
  copied: ArrayBuffer[] = [];
  copiedBytes: i32 = 0;

  // ---------------------------------------------------------------- request

  onRequestHeaders(n: u32, endOfStream: bool): HeaderAction {
    const cfg = (this.root as RateLimitRoot).configForRequest();
    if (cfg == null) return HeaderAction.Continue;
    this.cfg = cfg;
    if (!this.collectWindows(cfg)) return HeaderAction.Continue;
    if (this.hasTokenWindow && !endOfStream) {
      // The cost depends on the body; the body may be rewritten (stream_options), so no fixed length.
      removeHeader(MapType.RequestHeaders, "content-length");
      this.phase = Phase.WaitingBody;
      return HeaderAction.StopIteration;
    }
    this.setCosts(cfg, this.hasTokenWindow ? cfg.expectedOutputTokens : 0, 0);
    return this.admit(cfg) ? HeaderAction.Continue : HeaderAction.StopAllIterationAndWatermark;
  }

  onRequestBody(size: u32, endOfStream: bool): DataAction {
    const cfg = this.cfg;
    if (cfg == null || this.phase != Phase.WaitingBody) {
      return this.phase == Phase.WaitingStore ? DataAction.StopIterationAndBuffer : DataAction.Continue;
    }
    if (!endOfStream) return DataAction.StopIterationAndBuffer;
    const body = getBuffer(BufferType.RequestBody);
    this.readRequest(cfg, body == null ? new ArrayBuffer(0) : body);
    return this.admit(cfg) ? DataAction.Continue : DataAction.StopIterationAndBuffer;
  }

  /** Finds the windows this request counts against: the global threshold and the first matching rule item. */
  collectWindows(cfg: RateLimitConfig): bool {
    const g = cfg.global;
    if (g != null) this.addWindows(g, cfg.globalKey);
    for (let i = 0; i < cfg.items.length; i++) {
      const item = cfg.items[i];
      const value = identityOf(item);
      if (value == null) continue;
      const key = matchingKey(item, value);
      if (key == null) continue;
      this.addWindows(key, item.keyPrefix + value);
      break;
    }
    return this.charges.length > 0;
  }

  addWindows(k: LimitKey, id: string): void {
    for (let i = 0; i < k.windows.length; i++) {
      const w = k.windows[i];
      this.charges.add(id + w.keySuffix, w.limit, w.ms, 1);
      this.isToken.push(w.unit == Unit.Tokens);
      if (w.unit == Unit.Tokens) this.hasTokenWindow = true;
    }
  }

  /** Estimates the request's cost from its body and asks the upstream for stream usage if needed. */
  readRequest(cfg: RateLimitConfig, body: ArrayBuffer): void {
    const json = body.byteLength > 0 ? parseJsonBytes(body) : null;
    if (json == null || !json.isObject()) {
      this.setCosts(cfg, estimateTokens(String.UTF8.decode(body)), cfg.expectedOutputTokens);
      return;
    }
    const output = requestedOutput(json);
    this.setCosts(cfg, estimateChatPromptTokens(json), output >= 0 ? output : cfg.expectedOutputTokens);
    if (!json.getBool("stream") || !isOpenAiPath()) return;
    this.openAiStream = true;
    let opts = json.getObject("stream_options");
    if (opts != null && opts.getBool("include_usage")) return;   // the client asked: it gets the usage chunk
    if (!cfg.injectStreamUsage) return;
    if (opts == null) { opts = JsonValue.newObject(); json.set("stream_options", opts); }
    opts.set("include_usage", JsonValue.newBool(true));
    setBuffer(BufferType.RequestBody, String.UTF8.encode(json.toString()));
    this.injectedUsage = true;
  }

  /**
   * Token windows reserve prompt + output. A reservation larger than a window's whole limit is cut to
   * the limit: such a request is admitted only into an empty window (one at a time, as Higress would
   * let it through), instead of never.
   */
  setCosts(cfg: RateLimitConfig, prompt: i64, output: i64): void {
    this.promptTokens = prompt;
    this.reservation = prompt + output;
    const c = this.charges;
    for (let i = 0; i < c.length; i++) {
      if (this.isToken[i]) c.costs[i] = min<i64>(this.reservation, c.limits[i]);
    }
  }

  /** True when the request may go on now; false while waiting for Redis or after a rejection. */
  admit(cfg: RateLimitConfig): bool {
    const redis = cfg.redis;
    if (redis == null) {
      admitLocal(this.charges);
      return this.decide(cfg);
    }
    this.phase = Phase.WaitingStore;
    if (admitRedis(redis, this.charges, this)) return false;
    this.charges.failed = true;
    this.charges.error = "redis call could not be dispatched";
    return this.decide(cfg);
  }

  /** Redis answered (or failed): resume or reject the paused request. */
  onAdmitted(c: Charges): void {
    const cfg = this.cfg;
    if (cfg == null || this.phase != Phase.WaitingStore) return;
    if (this.decide(cfg)) continueRequest();
  }

  /** Applies the store's answer; true when the request goes on. */
  decide(cfg: RateLimitConfig): bool {
    const c = this.charges;
    if (c.failed) {
      incrementMetric(cfg.mFailures);
      logWarn("rule " + cfg.ruleName + ": counters unavailable (" + c.error + "); failing " + (cfg.failOpen ? "open" : "closed"));
      if (cfg.failOpen) {
        this.unaccounted = true;
        this.phase = Phase.Admitted;
        incrementMetric(cfg.mAdmitted);
        return true;
      }
      this.phase = Phase.Finished;
      incrementMetric(cfg.mRejected);
      sendLocalResponse(503, errorBody("rate limit counters unavailable", "service_unavailable", "ratelimit_unavailable"),
        [new Header("content-type", "application/json"), new Header("retry-after", "1")], "ai-token-ratelimit.unavailable");
      return false;
    }
    if (c.admitted) {
      this.held = c.costs.slice(0);
      if (logEnabled(LogLevel.Debug)) {   // admission decisions, at the host's debug level
        const id = requestHeader("x-request-id");
        logDebug("admitted id=" + (id == null ? "-" : id) + " at=" + c.atMs.toString() + " reserved=" + this.reservation.toString());
      }
      this.phase = Phase.Admitted;
      incrementMetric(cfg.mAdmitted);
      return true;
    }
    this.phase = Phase.Finished;
    incrementMetric(cfg.mRejected);
    this.reject(cfg);
    return false;
  }

  reject(cfg: RateLimitConfig): void {
    const c = this.charges;
    let w = c.rejectedWindow();
    if (w < 0) w = 0;
    const tokens = this.isToken[w];
    const unit = tokens ? "tokens" : "requests";
    const remaining = max<i64>(0, c.limits[w] - c.usedBefore[w]);
    const h = new Array<Header>();
    h.push(new Header("retry-after", ceilSeconds(c.fitMs[w]).toString()));
    h.push(new Header("x-ratelimit-limit-" + unit, c.limits[w].toString()));
    h.push(new Header("x-ratelimit-remaining-" + unit, remaining.toString()));
    h.push(new Header("x-ratelimit-reset-" + unit, formatDuration(c.emptyMs[w])));
    h.push(new Header(tokens ? "x-tokenratelimit-reset" : "x-ratelimit-reset", ceilSeconds(c.emptyMs[w]).toString()));
    if (cfg.showQuotaHeader) {
      h.push(new Header(tokens ? "x-tokenratelimit-limit" : "x-ratelimit-limit", c.limits[w].toString()));
      h.push(new Header(tokens ? "x-tokenratelimit-remaining" : "x-ratelimit-remaining", "0"));
    }
    // A rejected_msg that is a JSON object is sent as it is (Higress's documented custom bodies);
    // any other text becomes the message of an OpenAI-style error, which AI clients show.
    const msg = cfg.rejectedMsg;
    let body: string;
    if (msg.trim().startsWith("{")) {
      body = msg;
    } else {
      const limitText = tokens && this.promptTokens > c.limits[w]
        ? msg + ": the prompt alone is about " + this.promptTokens.toString() + " tokens, more than the limit of " +
          c.limits[w].toString() + " (such a request is admitted only while nothing else counts in the window)"
        : msg;
      body = errorBody(limitText, tokens ? "tokens" : "requests", "rate_limit_exceeded");
    }
    h.push(new Header("content-type", "application/json"));
    writeAiLog(JsonValue.newObject().set("token_ratelimit_status", JsonValue.newString("limited")));   // as Higress's
    sendLocalResponse(cfg.rejectedCode, body, h, "ai-token-ratelimit.rejected");
  }

  // ---------------------------------------------------------------- response

  onResponseHeaders(n: u32, endOfStream: bool): HeaderAction {
    const cfg = this.cfg;
    if (cfg == null || this.phase != Phase.Admitted) return HeaderAction.Continue;
    this.responseSeen = true;
    const status = responseHeader(":status");
    this.responseStatus = status == null ? 0 : I32.parseInt(status);
    if (cfg.showQuotaHeader && !this.unaccounted) this.addQuotaHeaders();
    if (!this.hasTokenWindow) { this.phase = Phase.Finished; return HeaderAction.Continue; }
    const ct = responseHeader("content-type");
    if (ct != null && ct.toLowerCase().includes("text/event-stream")) {
      this.sse = new SseUsageFilter(this.injectedUsage);
      if (this.injectedUsage) removeHeader(MapType.ResponseHeaders, "content-length");
    }
    if (endOfStream) this.finish(true);
    return HeaderAction.Continue;
  }

  addQuotaHeaders(): void {
    const c = this.charges;
    let bestT = -1, bestR = -1;
    for (let i = 0; i < c.length; i++) {
      const left = c.limits[i] - c.usedBefore[i] - c.costs[i];
      if (this.isToken[i]) { if (bestT < 0 || left < c.limits[bestT] - c.usedBefore[bestT] - c.costs[bestT]) bestT = i; }
      else if (bestR < 0 || left < c.limits[bestR] - c.usedBefore[bestR] - c.costs[bestR]) bestR = i;
    }
    if (bestT >= 0) {
      const left = max<i64>(0, c.limits[bestT] - c.usedBefore[bestT] - c.costs[bestT]).toString();
      replaceHeader(MapType.ResponseHeaders, "x-ratelimit-limit-tokens", c.limits[bestT].toString());
      replaceHeader(MapType.ResponseHeaders, "x-ratelimit-remaining-tokens", left);
      replaceHeader(MapType.ResponseHeaders, "x-tokenratelimit-limit", c.limits[bestT].toString());
      replaceHeader(MapType.ResponseHeaders, "x-tokenratelimit-remaining", left);
    }
    if (bestR >= 0) {
      const left = max<i64>(0, c.limits[bestR] - c.usedBefore[bestR] - c.costs[bestR]).toString();
      replaceHeader(MapType.ResponseHeaders, "x-ratelimit-limit-requests", c.limits[bestR].toString());
      replaceHeader(MapType.ResponseHeaders, "x-ratelimit-remaining-requests", left);
      replaceHeader(MapType.ResponseHeaders, "x-ratelimit-limit", c.limits[bestR].toString());
      replaceHeader(MapType.ResponseHeaders, "x-ratelimit-remaining", left);
    }
  }

  onResponseBody(size: u32, endOfStream: bool): DataAction {
    if (this.phase != Phase.Admitted || !this.hasTokenWindow) return DataAction.Continue;
    const chunk = size > 0 ? getBuffer(BufferType.ResponseBody, 0, <i32>size) : null;
    const data = chunk == null ? new ArrayBuffer(0) : chunk;
    const sse = this.sse;
    if (sse != null) {
      const out = sse.push(data, endOfStream);
      if (this.injectedUsage) setBuffer(BufferType.ResponseBody, out);
      if (!endOfStream) this.topUp(sse);
    } else if (this.copiedBytes + data.byteLength <= MAX_COPIED_BODY) {
      this.copied.push(data);
      this.copiedBytes += data.byteLength;
    }
    if (endOfStream) this.finish(true);
    return DataAction.Continue;
  }

  onDone(): void {
    if (this.phase == Phase.Admitted) this.finish(false);
  }

  /**
   * A stream that outgrows its reservation (no max_tokens, a long answer) is charged as it goes, in
   * steps, so requests admitted meanwhile see it: the window is overshot by at most one step per stream.
   */
  topUp(sse: SseUsageFilter): void {
    const cfg = this.cfg;
    if (cfg == null || this.unaccounted) return;
    const sofar = this.promptTokens + <i64>sse.tracker.outputText();
    const step = max<i64>(TOP_UP_MIN, this.reservation / 4);
    const c = this.charges;
    let deltas: i64[] | null = null;
    for (let i = 0; i < c.length; i++) {
      if (!this.isToken[i] || sofar - this.held[i] < step) continue;
      if (deltas == null) deltas = new Array<i64>(c.length);
      deltas[i] = sofar - this.held[i];
      this.held[i] = sofar;
    }
    if (deltas == null) return;
    const redis = cfg.redis;
    if (redis == null) reconcileLocal(c, deltas);
    else reconcileRedis(redis, c, deltas);
  }

  /** Replaces the reservation by the real usage (or the best estimate of it). */
  finish(complete: bool): void {
    const cfg = this.cfg;
    this.phase = Phase.Finished;
    if (cfg == null || !this.hasTokenWindow || this.unaccounted) return;
    // What the provider reported: from the stream's events, or the copied body (parsed once, here).
    const sse = this.sse;
    const body = this.responseSeen && sse == null ? this.copiedBody() : null;
    const json = body != null && body.byteLength > 0 ? parseJsonBytes(body) : null;
    let reported: Usage | null = null;
    if (sse != null) reported = sse.tracker.usage();
    else if (json != null) reported = usageFromJson(json);
    // The access log's token counts: a usage chunk this plugin asked for and strips is seen nowhere else.
    if (complete && reported != null && (reported.input >= 0 || reported.output >= 0)) {
      const attrs = JsonValue.newObject();
      if (reported.input >= 0) attrs.set("input_token", JsonValue.newNumber(<f64>reported.input));
      if (reported.output >= 0) attrs.set("output_token", JsonValue.newNumber(<f64>reported.output));
      writeAiLog(attrs);
    }
    const actual = this.actualTokens(reported, body, json);
    incrementMetric(cfg.mTokens, actual);
    const c = this.charges;
    const deltas = new Array<i64>(c.length);
    for (let i = 0; i < c.length; i++) deltas[i] = this.isToken[i] ? actual - this.held[i] : 0;
    const redis = cfg.redis;
    if (redis == null) reconcileLocal(c, deltas);
    else reconcileRedis(redis, c, deltas);
  }

  /** `body`/`json`: the copied non-streaming body and its parse (null for streams or when absent). */
  actualTokens(reported: Usage | null, body: ArrayBuffer | null, json: JsonValue | null): i64 {
    if (!this.responseSeen) return this.promptTokens;        // gone before any answer: the prompt was sent
    if (reported != null) {
      const t = reported.totalTokens();
      if (t >= 0) return t;
    }
    const sse = this.sse;
    if (sse != null) {
      const out = sse.tracker.outputText();
      return this.responseStatus >= 200 && this.responseStatus < 300 || out > 0 ? this.promptTokens + out : 0;
    }
    if (this.responseStatus < 200 || this.responseStatus >= 300) return 0;   // an error reply consumed nothing
    if (json != null) return this.promptTokens + answerTokens(json);
    return this.promptTokens + (body != null ? estimateTokens(String.UTF8.decode(body)) : 0);
  }

  copiedBody(): ArrayBuffer {
    if (this.copied.length == 1) return this.copied[0];
    const out = new ArrayBuffer(this.copiedBytes);
    let at: usize = 0;
    for (let i = 0; i < this.copied.length; i++) {
      const b = this.copied[i];
      memory.copy(changetype<usize>(out) + at, changetype<usize>(b), b.byteLength);
      at += b.byteLength;
    }
    return out;
  }
}

/** The value identifying the requester for a rule item, or null when the request does not carry it. */
function identityOf(item: RuleItem): string | null {
  switch (item.by) {
    case LimitBy.Header: case LimitBy.PerHeader: case LimitBy.Consumer: case LimitBy.PerConsumer:
      return requestHeader(item.name);
    case LimitBy.Param: case LimitBy.PerParam: {
      const path = requestHeader(":path");
      return path == null ? null : queryParam(path, item.name);
    }
    case LimitBy.Cookie: case LimitBy.PerCookie: {
      const h = requestHeader("cookie");
      if (h == null) return null;
      const v = cookie(h, item.name);
      return v != null && v.length > 0 ? v : null;
    }
    case LimitBy.PerIp: {
      let raw: string | null;
      if (item.ipHeader.length > 0) {
        const h = requestHeader(item.ipHeader);
        raw = h == null ? null : h.split(",")[0].trim();
      } else raw = getPropertyString("source.address");
      if (raw == null) return null;
      const ip = parseIpPort(raw);
      return ip == null ? null : ip.ip.toString();
    }
    default: return null;
  }
}

function matchingKey(item: RuleItem, value: string): LimitKey | null {
  const per = item.by == LimitBy.PerHeader || item.by == LimitBy.PerParam || item.by == LimitBy.PerCookie || item.by == LimitBy.PerConsumer;
  const ip = item.by == LimitBy.PerIp ? parseIpPort(value) : null;
  for (let i = 0; i < item.keys.length; i++) {
    const k = item.keys[i];
    switch (k.match) {
      case KeyMatch.Any: return k;
      case KeyMatch.Regexp: { const re = k.regex; if (re != null && re.test(value)) return k; break; }
      case KeyMatch.Cidr: { const set = k.cidrs; if (set != null && ip != null && set.contains(ip.ip)) return k; break; }
      default: break;
    }
    if (!per && k.match == KeyMatch.Exact && k.key == value) return k;
  }
  return null;
}

/** Output tokens the request allows (max_tokens and its spellings, times n); -1 when it names none. */
function requestedOutput(json: JsonValue): i64 {
  let m = json.getInt("max_completion_tokens", -1);
  if (m < 0) m = json.getInt("max_tokens", -1);
  if (m < 0) m = json.getInt("max_output_tokens", -1);                 // OpenAI Responses
  if (m < 0) {
    const gc = json.getObject("generationConfig");                     // Gemini
    if (gc != null) m = gc.getInt("maxOutputTokens", -1);
  }
  if (m < 0) {
    const p = json.getObject("parameters");                            // DashScope native
    if (p != null) m = p.getInt("max_tokens", -1);
  }
  if (m < 0) return -1;
  m = min<i64>(m, MAX_OUTPUT);                                          // absurd values cannot overflow the sums
  const n = json.getInt("n", 1);
  return n > 1 && n <= 128 ? m * n : m;
}

function isOpenAiPath(): bool {
  const p = requestHeader(":path");
  if (p == null) return false;
  const q = p.indexOf("?");
  const path = q < 0 ? p : p.substring(0, q);
  return path.endsWith("/chat/completions") || path.endsWith("/completions");
}

/** Estimated tokens of the answer in a non-streaming body that reports no usage. */
function answerTokens(json: JsonValue): i64 {
  let text = "";
  const choices = json.getArray("choices");
  if (choices != null) {
    for (let i = 0; i < choices.length; i++) {
      const ch = choices.at(i);
      if (ch == null || !ch.isObject()) continue;
      text += ch.getString("text");
      const m = ch.getObject("message");
      if (m != null) text += m.getString("content") + m.getString("reasoning_content");
    }
  }
  const content = json.getArray("content");                             // Anthropic
  if (content != null) {
    for (let i = 0; i < content.length; i++) {
      const part = content.at(i);
      if (part != null && part.isObject()) text += part.getString("text");
    }
  }
  const answer = json.get("answer");                                    // Dify blocking mode
  if (answer != null) text += answer.asString();
  return estimateTokens(text);
}

function ceilSeconds(ms: i64): i64 {
  const s = (ms + 999) / 1000;
  return s > 0 ? s : 1;
}

/** OpenAI's reset format: "20ms", "1s", "6m0s", "1h2m3s". */
function formatDuration(ms: i64): string {
  if (ms < 1000) return ms.toString() + "ms";
  let s = (ms + 999) / 1000;
  const h = s / 3600; s -= h * 3600;
  const m = s / 60; s -= m * 60;
  if (h > 0) return h.toString() + "h" + m.toString() + "m" + s.toString() + "s";
  if (m > 0) return m.toString() + "m" + s.toString() + "s";
  return s.toString() + "s";
}

setLogPrefix("ai-token-ratelimit");
registerRootContext((id: u32): RootContext => new RateLimitRoot(id));
