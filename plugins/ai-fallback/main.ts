// ai-fallback: model and provider fallback with circuit breaking and timeouts, as one proxy-wasm plugin.
// The request goes to the route's own upstream (the primary) while the plugin keeps its body. When the
// primary's answer is a failure (a status pattern, a reset, a timeout, a broken 2xx body), the answer is
// held back and the kept request goes, rewritten and translated as needed, to the next fallback target
// with an HTTP callout; the client gets that target's answer as a local reply. A target whose circuit is
// open is skipped, the primary included (then the request never reaches it). See README.md.
export * from "../../shared/proxy/exports";
import { BufferType, DataAction, HeaderAction, MapType, MetricType, proxy_set_effective_context } from "../../shared/proxy/abi";
import {
  Header, addHeader, defineMetric, getBuffer, getHeaders, getPropertyString, incrementMetric, logInfo, logWarn, nowMillis,
  recordMetric, requestHeader, responseHeader, sendLocalResponse, setLogPrefix, setTickPeriod,
} from "../../shared/proxy/hostcalls";
import {
  HttpCallCallback, HttpContext, RootContext, enterStream, httpCall, httpCallResponseBody, httpCallResponseHeaders,
  httpCallResponseStatus, leaveStream, registerRootContext,
} from "../../shared/proxy/context";
import { ConfigParser } from "../../shared/config";
import { PluginRoot } from "../../shared/plugin";
import { isWholeJson } from "./scan";
import { kvInit } from "../../shared/kv";
import { detectRoute } from "../../shared/translate/index";
import { FallbackConfig, FallbackParser, Target } from "./config";
import { Admission, CircuitResult, CircuitState, admitTarget, releaseProbe, reportTarget } from "./circuit";
import { Cause, Origin, causeName, originOf } from "./triggers";
import { Call, Check, ClientRequest, FirstEventCheck, Verdict, exhaustedError, isForwarded, judgeCall, prepareCall } from "./attempt";

const SERVED_BY = "x-ai-served-by";
const FALLBACK_FROM = "x-ai-fallback-from";
const TRIED = "x-ai-fallback-tried";
/** response.code_details of the answers this plugin gives. */
const DETAILS_SERVED = "via_ai_fallback";
const DETAILS_EXHAUSTED = "ai_fallback_exhausted";
const DETAILS_UNAVAILABLE = "ai_fallback_circuit_open";

class TargetMetrics {
  attempts: u32;
  failures: u32;
  skips: u32;
  state: u32;
  constructor(name: string) {
    const p = "ai_fallback." + metricName(name) + ".";
    this.attempts = defineMetric(MetricType.Counter, p + "attempts");
    this.failures = defineMetric(MetricType.Counter, p + "failures");
    this.skips = defineMetric(MetricType.Counter, p + "circuit_skips");
    this.state = defineMetric(MetricType.Gauge, p + "circuit_state");
  }
}

/** A target name as one stat-name segment: `outbound|443||qwen.dns` → `outbound_443__qwen_dns`. */
function metricName(name: string): string {
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const keep = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95;
    out += keep ? String.fromCharCode(c) : "_";
  }
  return out;
}

class FallbackRoot extends PluginRoot<FallbackConfig> {
  /** Streams of this VM waiting on the primary with a deadline, checked on every tick. */
  waiting: Map<u32, FallbackStream> = new Map<u32, FallbackStream>();
  private targets: Map<string, TargetMetrics> = new Map<string, TargetMetrics>();
  mFallbacks: u32 = 0;
  mExhausted: u32 = 0;
  private calls: i64 = 0;

  parser(): ConfigParser<FallbackConfig> { return new FallbackParser(); }
  newHttpContext(id: u32): HttpContext { return new FallbackStream(id, this); }

  onConfigured(): void {
    kvInit();
    this.mFallbacks = defineMetric(MetricType.Counter, "ai_fallback.fallbacks");
    this.mExhausted = defineMetric(MetricType.Counter, "ai_fallback.exhausted");
    // Deadlines are checked on ticks: a tenth of the shortest budget, within 10 ms .. 1 s.
    let shortest: u32 = 0xFFFFFFFF;
    const rc = this.config;
    if (rc === null) return;
    const g = rc.global;
    if (g !== null) shortest = min(shortest, shortestBudget(g));
    for (let i = 0; i < rc.rules.length; i++) shortest = min(shortest, shortestBudget(rc.rules[i].config));
    setTickPeriod(max<u32>(10, min<u32>(1000, shortest / 10)));
  }

  metrics(name: string): TargetMetrics {
    if (this.targets.has(name)) return this.targets.get(name);
    const m = new TargetMetrics(name);
    this.targets.set(name, m);
    return m;
  }

  admit(name: string, cfg: FallbackConfig): CircuitResult {
    const r = admitTarget(name, cfg.circuit, nowMillis());
    const m = this.metrics(name);
    if (r.changed) recordMetric(m.state, <u64>r.state);
    if (r.admission == Admission.Reject) incrementMetric(m.skips);
    else incrementMetric(m.attempts);
    return r;
  }

  report(name: string, cfg: FallbackConfig, ok: bool, probe: bool): void {
    const r = reportTarget(name, cfg.circuit, nowMillis(), ok, probe);
    const m = this.metrics(name);
    if (!ok) incrementMetric(m.failures);
    if (r.changed) {
      recordMetric(m.state, <u64>r.state);
      if (r.state == CircuitState.Open) logWarn("circuit of " + name + " is open");
      else if (probe && r.state == CircuitState.Closed) logInfo("circuit of " + name + " is closed again");
    }
  }

  nextRequestId(): string { return "ai-fallback-" + (++this.calls).toString(); }

  onTick(): void {
    if (this.waiting.size == 0) return;
    const now = nowMillis();
    const list = this.waiting.values();
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (s.deadline > now) continue;
      // Act on the stream's behalf: its host calls and callouts belong to it.
      proxy_set_effective_context(s.id);
      enterStream(s.id);
      s.onDeadline();
      leaveStream();
    }
  }
}

function shortestBudget(c: FallbackConfig): u32 {
  return c.firstByteTimeoutMs > 0 ? min(c.firstByteTimeoutMs, c.timeoutMs) : c.timeoutMs;
}

const enum Phase {
  /** The plugin stays out of this request (no config for the route). */
  Off,
  /** The request goes to the primary; its answer has not been judged yet. */
  Primary,
  /** The primary's 2xx answer is held until its body shows it is well-formed. */
  Checking,
  /** The primary's answer goes to the client. */
  Passed,
  /** The primary's circuit is open: the body is collected to go to a fallback instead. */
  Skipping,
  /** A fallback call is in flight; whatever the primary still sends is dropped. */
  FallingBack,
  /** The plugin's own reply is on its way. */
  Answered,
}

class FallbackStream extends HttpContext {
  cfg: FallbackConfig | null = null;
  phase: Phase = Phase.Off;
  req: ClientRequest = new ClientRequest();
  private chunks: ArrayBuffer[] = [];
  private bodyBytes: i32 = 0;
  private bodyTooLarge: bool = false;
  private bodyComplete: bool = false;

  private primary: string = "";
  private primaryProbe: bool = false;
  private primaryReported: bool = false;
  /** nowMillis() by which the primary must start answering; 0 = not watched. */
  deadline: i64 = 0;
  private firstEvent: FirstEventCheck | null = null;
  private checkedBytes: i32 = 0;

  private next: i32 = 0;
  private attempts: i32 = 0;
  private tried: string[] = [];
  private lastCause: Cause = Cause.None;
  private lastStatus: i32 = 0;
  private lastMessage: string = "";
  private retryAfterMs: i64 = 0;
  private inFlight: Target | null = null;
  private inFlightProbe: bool = false;
  private call: Call | null = null;

  constructor(id: u32, public fr: FallbackRoot) { super(id, fr); }

  // ---------------------------------------------------------------- request

  onRequestHeaders(n: u32, eos: bool): HeaderAction {
    const cfg = this.fr.configForRequest();
    if (cfg === null) return HeaderAction.Continue;
    this.cfg = cfg;
    const req = this.req;
    // One read of the header map: what a fallback call carries over, and the few values used here.
    const all = getHeaders(MapType.RequestHeaders);
    for (let i = 0; i < all.length; i++) {
      const h = all[i];
      if (h.name == ":method") req.method = h.value;
      else if (h.name == ":path") req.path = h.value;
      else if (isForwarded(h.name)) {
        req.headers.push(h);
        if (h.name == "x-request-id") req.requestId = h.value;
        else if (h.name == "x-dashscope-sse") req.streamHeader = req.streamHeader || h.value.toLowerCase() == "enable";
        else if (h.name == "accept") req.streamHeader = req.streamHeader || h.value.includes("text/event-stream");
      }
    }
    if (req.requestId.length == 0) req.requestId = this.fr.nextRequestId();
    req.route = detectRoute(req.path);
    req.created = nowMillis() / 1000;

    let name = cfg.primaryName;
    if (name.length == 0) {
      const cluster = getPropertyString("cluster_name");
      name = cluster !== null && cluster.length ? cluster : "primary";
    }
    this.primary = name;
    const a = this.fr.admit(name, cfg);
    if (a.admission == Admission.Reject) {
      this.skipped(name, a.retryAfterMs);
      this.phase = Phase.Skipping;
      if (eos) this.requestComplete();
      return HeaderAction.StopIteration;
    }
    this.primaryProbe = a.admission == Admission.Probe;
    this.attempts = 1;
    this.phase = Phase.Primary;
    if (eos) this.requestComplete();
    return HeaderAction.Continue;
  }

  onRequestBody(size: u32, eos: bool): DataAction {
    const cfg = this.cfg;
    if (cfg === null) return DataAction.Continue;
    if (this.phase == Phase.Skipping) {
      // Envoy buffers the body for us; the last callback sees all of it.
      if (!eos) return DataAction.StopIterationAndBuffer;
      if (<i64>size > <i64>cfg.maxBodyBytes) {
        // Too large to keep: let it reach the primary after all rather than fail it.
        logWarn("request body of " + size.toString() + " bytes is over max_body_bytes: sent to " + this.primary + " despite its open circuit");
        this.tried.length = 0;
        this.bodyTooLarge = true;
        this.phase = Phase.Primary;
        this.attempts = 1;
        return DataAction.Continue;
      }
      const all = size > 0 ? getBuffer(BufferType.RequestBody, 0, <i32>size) : null;
      if (all !== null) this.req.body = all;
      this.requestComplete();
      return DataAction.StopIterationAndBuffer;
    }
    if (this.phase != Phase.Primary) return DataAction.Continue;
    if (!this.bodyTooLarge && size > 0) {
      if (this.bodyBytes + <i32>size > cfg.maxBodyBytes) {
        this.bodyTooLarge = true;
        this.chunks.length = 0;
      } else {
        const chunk = getBuffer(BufferType.RequestBody, 0, <i32>size);
        if (chunk !== null) { this.chunks.push(chunk); this.bodyBytes += chunk.byteLength; }
      }
    }
    if (eos) {
      if (!this.bodyTooLarge) this.req.body = concat(this.chunks, this.bodyBytes);
      this.chunks.length = 0;
      this.requestComplete();
    }
    return DataAction.Continue;
  }

  /** The whole request is here: read it, then watch the primary or go straight to a fallback. */
  private requestComplete(): void {
    const cfg = this.cfg;
    if (cfg === null) return;
    this.bodyComplete = true;
    this.req.bodyComplete();
    if (this.phase == Phase.Skipping) {
      if (!this.dispatchNext()) this.replyUnavailable();
      return;
    }
    if (this.phase == Phase.Primary) {
      this.deadline = nowMillis() + <i64>cfg.primaryBudgetMs(this.req.stream);
      this.fr.waiting.set(this.id, this);
    }
  }

  // ---------------------------------------------------------------- the primary's answer

  onResponseHeaders(n: u32, eos: bool): HeaderAction {
    const cfg = this.cfg;
    if (cfg === null) return HeaderAction.Continue;
    if (this.phase == Phase.FallingBack) return HeaderAction.StopIteration; // the abandoned primary's answer: dropped
    if (this.phase != Phase.Primary) return HeaderAction.Continue;
    const status = statusOf(responseHeader(":status"));
    const d = getPropertyString("response.code_details");
    const origin = originOf(d === null ? "" : d);
    const cause = this.classify(cfg, origin, status);
    if (cause != Cause.None) {
      if (this.primaryFailed(cause, status, "HTTP " + status.toString() + (origin == Origin.Upstream ? "" : " (" + (d === null ? "" : d) + ")"))) {
        return HeaderAction.StopIteration;
      }
      this.pass();
      return HeaderAction.Continue;
    }
    if (origin != Origin.Upstream) {
      // Another filter's reply (e.g. a rate limit), or an Envoy failure the triggers leave alone: the
      // primary gave no answer, so this is neither its success nor its failure.
      this.stopWatching();
      this.releasePrimary();
      this.phase = Phase.Passed;
      return HeaderAction.Continue;
    }
    const kind = status >= 200 && status < 300 && !eos && cfg.onMalformed ? answerKind() : Answer.Other;
    if (kind != Answer.Other) {
      this.phase = Phase.Checking;
      if (kind == Answer.Sse) this.firstEvent = new FirstEventCheck();
      else this.stopWatching(); // a whole JSON answer is here or on its way
      return HeaderAction.StopIteration;
    }
    this.primarySucceeded();
    return HeaderAction.Continue;
  }

  private classify(cfg: FallbackConfig, origin: Origin, status: i32): Cause {
    if (origin == Origin.Upstream) return cfg.onStatus.has(status) ? Cause.Status : Cause.None;
    if (origin == Origin.UpstreamReset) return cfg.onReset ? Cause.Reset : Cause.None;
    if (origin == Origin.UpstreamTimeout) return cfg.onTimeout ? Cause.Timeout : Cause.None;
    return cfg.onLocalReply && cfg.onStatus.has(status) ? Cause.Status : Cause.None;
  }

  onResponseBody(size: u32, eos: bool): DataAction {
    const cfg = this.cfg;
    if (cfg === null) return DataAction.Continue;
    if (this.phase == Phase.FallingBack) return DataAction.StopIterationNoBuffer;
    if (this.phase != Phase.Checking) return DataAction.Continue;
    // While held, Envoy buffers: `size` is everything so far.
    const fe = this.firstEvent;
    if (fe !== null) {
      const from = this.checkedBytes;
      const chunk = <i32>size > from ? getBuffer(BufferType.ResponseBody, from, <i32>size - from) : null;
      this.checkedBytes = <i32>size;
      const c = fe.feed(chunk === null ? new ArrayBuffer(0) : chunk, eos);
      if (c == Check.Good || (c == Check.NeedMore && <i32>size > cfg.maxBodyBytes)) return this.checked();
      if (c == Check.Bad) return this.malformed(fe.why);
      return DataAction.StopIterationAndBuffer;
    }
    if (!eos) return <i32>size > cfg.maxBodyBytes ? this.checked() : DataAction.StopIterationAndBuffer;
    const all = size > 0 ? getBuffer(BufferType.ResponseBody, 0, <i32>size) : null;
    if (all !== null && !isWholeJson(all)) return this.malformed("the answer is not a complete JSON value");
    return this.checked();
  }

  onResponseTrailers(n: u32): HeaderAction {
    if (this.phase == Phase.FallingBack) return HeaderAction.StopIteration;
    if (this.phase == Phase.Checking) this.checked();
    return HeaderAction.Continue;
  }

  /** The held 2xx answer is good: it goes on, headers and buffered body together. */
  private checked(): DataAction {
    this.primarySucceeded();
    return DataAction.Continue;
  }

  private malformed(why: string): DataAction {
    if (this.primaryFailed(Cause.Malformed, 200, why)) return DataAction.StopIterationNoBuffer;
    this.pass();
    return DataAction.Continue;
  }

  /** The primary did not start answering in time (called from the root's tick). */
  onDeadline(): void {
    const cfg = this.cfg;
    this.stopWatching();
    if (cfg === null || !cfg.onTimeout) return;
    if (this.phase != Phase.Primary && this.phase != Phase.Checking) return;
    if (!this.canFallBack(cfg)) return; // nothing else to ask: keep waiting for the primary
    const budget = cfg.primaryBudgetMs(this.req.stream);
    this.primaryFailed(Cause.Timeout, 504, "no answer within " + budget.toString() + " ms");
  }

  private primarySucceeded(): void {
    this.stopWatching();
    this.reportPrimary(true);
    this.pass();
  }

  /** Records the primary's failure and moves on to the fallbacks; false when none could be asked. */
  private primaryFailed(cause: Cause, status: i32, message: string): bool {
    const cfg = this.cfg;
    if (cfg === null) return false;
    this.stopWatching();
    this.reportPrimary(false);
    this.tried.push(this.primary + "=" + causeName(cause, status));
    this.noteFailure(cause, status, this.primary + ": " + message);
    logInfo("primary " + this.primary + " failed (" + message + ")");
    if (!this.dispatchNext()) return false;
    this.phase = Phase.FallingBack;
    return true;
  }

  /** The primary's answer goes to the client as it is, marked with who served it. */
  private pass(): void {
    this.phase = Phase.Passed;
    addHeader(MapType.ResponseHeaders, SERVED_BY, servedBy(this.primary, this.req.model));
    if (this.tried.length) addHeader(MapType.ResponseHeaders, TRIED, this.tried.join(", "));
  }

  private reportPrimary(ok: bool): void {
    const cfg = this.cfg;
    if (cfg === null || this.primaryReported || this.attempts == 0) return;
    this.primaryReported = true;
    this.fr.report(this.primary, cfg, ok, this.primaryProbe);
  }

  private releasePrimary(): void {
    const cfg = this.cfg;
    if (cfg === null || this.primaryReported) return;
    this.primaryReported = true;
    if (this.primaryProbe) releaseProbe(this.primary, cfg.circuit, nowMillis());
  }

  private stopWatching(): void {
    if (this.deadline != 0) { this.deadline = 0; this.fr.waiting.delete(this.id); }
  }

  // ---------------------------------------------------------------- fallbacks

  private canFallBack(cfg: FallbackConfig): bool {
    return !this.bodyTooLarge && this.bodyComplete && this.next < cfg.targets.length && this.attempts < cfg.maxAttempts;
  }

  private skipped(name: string, retryAfterMs: i64): void {
    this.tried.push(name + "=circuit_open");
    if (this.retryAfterMs == 0 || retryAfterMs < this.retryAfterMs) this.retryAfterMs = retryAfterMs;
  }

  private noteFailure(cause: Cause, status: i32, message: string): void {
    this.lastCause = cause;
    this.lastStatus = status;
    this.lastMessage = message;
  }

  /** Sends the kept request to the next target that will take it; false when there is none. */
  private dispatchNext(): bool {
    const cfg = this.cfg;
    if (cfg === null) return false;
    if (this.bodyTooLarge || !this.bodyComplete) {
      logWarn(this.bodyTooLarge ? "request body over max_body_bytes: no fallback possible"
        : "the answer came before the whole request: no fallback possible");
      return false;
    }
    while (this.canFallBack(cfg)) {
      const t = cfg.targets[this.next++];
      const a = this.fr.admit(t.name, cfg);
      if (a.admission == Admission.Reject) { this.skipped(t.name, a.retryAfterMs); continue; }
      const probe = a.admission == Admission.Probe;
      const call = prepareCall(this.req, t);
      let problem = call.error;
      if (problem.length == 0 && !httpCall(t.cluster, call.headers, call.body, t.timeoutMs, new CallDone(this))) problem = "cluster " + t.cluster + " refused the call";
      if (problem.length) {
        logWarn("fallback " + t.name + " skipped: " + problem);
        this.tried.push(t.name + "=unusable");
        if (probe) releaseProbe(t.name, cfg.circuit, nowMillis());
        continue;
      }
      this.attempts++;
      this.inFlight = t;
      this.inFlightProbe = probe;
      this.call = call;
      return true;
    }
    return false;
  }

  onCallResponse(numHeaders: u32, bodySize: u32): void {
    const cfg = this.cfg;
    const t = this.inFlight;
    const call = this.call;
    if (cfg === null || t === null || call === null) return;
    this.inFlight = null;
    this.call = null;
    const headers = numHeaders > 0 ? httpCallResponseHeaders() : new Array<Header>();
    const status = httpCallResponseStatus(headers);
    const v = judgeCall(cfg, this.req, call, t.timeoutMs, status, headers, httpCallResponseBody(bodySize));
    this.fr.report(t.name, cfg, !v.failed, this.inFlightProbe);
    if (!v.failed) {
      this.reply(v, servedBy(t.name, call.model), DETAILS_SERVED);
      incrementMetric(this.fr.mFallbacks);
      return;
    }
    this.tried.push(t.name + "=" + causeName(v.cause, v.status));
    this.noteFailure(v.cause, v.status, t.name + ": " + v.message);
    logInfo("fallback " + t.name + " failed (" + v.message + ")");
    if (this.dispatchNext()) return;
    this.replyExhausted();
  }

  /** Every attempt failed: the last error, with the list of what was tried. */
  private replyExhausted(): void {
    incrementMetric(this.fr.mExhausted);
    const status = this.lastCause == Cause.Status ? this.lastStatus : this.lastCause == Cause.Timeout ? 504 : 502;
    const msg = "every target failed (" + this.tried.join(", ") + "); last error: " + this.lastMessage;
    this.reply(exhaustedError(this.req.route.client, status, msg, this.req.requestId), "", DETAILS_EXHAUSTED);
  }

  /** Nothing could be asked: every circuit is open. Fail fast, saying when to come back. */
  private replyUnavailable(): void {
    incrementMetric(this.fr.mExhausted);
    const v = exhaustedError(this.req.route.client, 503, "no target available (" + this.tried.join(", ") + ")", this.req.requestId);
    if (this.retryAfterMs > 0) v.headers.push(new Header("retry-after", ((this.retryAfterMs + 999) / 1000).toString()));
    this.reply(v, "", DETAILS_UNAVAILABLE);
  }

  private reply(v: Verdict, served: string, details: string): void {
    this.phase = Phase.Answered;
    const h = v.headers;
    if (served.length) h.push(new Header(SERVED_BY, served));
    h.push(new Header(FALLBACK_FROM, this.primary));
    if (this.tried.length) h.push(new Header(TRIED, this.tried.join(", ")));
    sendLocalResponse(<u32>v.status, v.body, h, details);
  }

  // ---------------------------------------------------------------- end

  onDone(): void {
    this.stopWatching();
    const cfg = this.cfg;
    if (cfg === null) return;
    // Probes whose outcome never came (the client left) give their half-open slot back.
    this.releasePrimary();
    const t = this.inFlight;
    if (t !== null && this.inFlightProbe) releaseProbe(t.name, cfg.circuit, nowMillis());
    this.inFlight = null;
  }
}

class CallDone extends HttpCallCallback {
  constructor(public stream: FallbackStream) { super(); }
  onHttpCallResponse(numHeaders: u32, bodySize: u32, numTrailers: u32): void { this.stream.onCallResponse(numHeaders, bodySize); }
}

/** A three-digit :status; 0 when absent or not one. */
function statusOf(s: string | null): i32 {
  if (s === null || s.length != 3) return 0;
  let v = 0;
  for (let i = 0; i < 3; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return 0;
    v = v * 10 + d;
  }
  return v;
}

const enum Answer { Other, Json, Sse }

/** What kind of answer the response headers announce; Other when it cannot be read (e.g. compressed). */
function answerKind(): Answer {
  const enc = responseHeader("content-encoding");
  if (enc !== null && enc != "identity") return Answer.Other;
  const ct = responseHeader("content-type");
  if (ct === null) return Answer.Other;
  if (ct.includes("text/event-stream")) return Answer.Sse;
  return ct.includes("json") ? Answer.Json : Answer.Other;
}

function servedBy(target: string, model: string): string {
  return model.length ? target + "; model=" + model : target;
}

function concat(chunks: ArrayBuffer[], total: i32): ArrayBuffer {
  if (chunks.length == 1) return chunks[0];
  const out = new ArrayBuffer(total);
  let at: usize = 0;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    memory.copy(changetype<usize>(out) + at, changetype<usize>(c), <usize>c.byteLength);
    at += <usize>c.byteLength;
  }
  return out;
}

registerRootContext((id: u32): RootContext => {
  setLogPrefix("ai-fallback");
  return new FallbackRoot(id);
});
