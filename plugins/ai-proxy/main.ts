// ai-proxy: one gateway route in front of an OpenAI-compatible, DashScope (Bailian) or Anthropic provider.
// The client's API and protocol come from the request path; the request is translated to the provider's
// protocol (shared/translate), sent with the provider's host, path and credentials, and the answer, stream
// or error is translated back. Higress-compatible config: provider.{type, apiTokens, modelMapping, protocol}.
export * from "../../shared/proxy/exports";
import { BufferType, DataAction, HeaderAction, MapType } from "../../shared/proxy/abi";
import {
  Header, getBuffer, logInfo, logWarn, nowMillis, removeHeader, replaceHeader, requestHeader, responseHeader, sendLocalResponse,
  setBuffer, setLogPrefix, setProperty, utf8, fromUtf8,
} from "../../shared/proxy/hostcalls";
import { HttpContext, RootContext, registerRootContext } from "../../shared/proxy/context";
import { ConfigError, ConfigParser, stringList } from "../../shared/config";
import { PluginRoot } from "../../shared/plugin";
import { JsonValue, parseJson, jsonError } from "../../shared/json";
import { Regex, compileRegex, regexError } from "../../shared/regex";
import {
  Api, ChatStreamTranslator, Exchange, Protocol, Route, TranslateOptions, detectRoute, gatewayError, translateError,
  translateRequest, translateResponse, protocolName,
} from "../../shared/translate/index";
import { jsonBytes } from "../../shared/translate/writer";

// ---------------------------------------------------------------- configuration

class ModelRule {
  constructor(public prefix: string, public regex: Regex | null, public target: string) {}
  matches(model: string): bool {
    const r = this.regex;
    return r !== null ? r.test(model) : model.startsWith(this.prefix);
  }
}

class ProviderConfig {
  type: string = "";
  protocol: Protocol = Protocol.OpenAI;
  /** protocol "original": the client already speaks the provider's protocol; only model, host and auth change. */
  original: bool = false;
  tokens: string[] = [];
  nextToken: i32 = 0;
  exact: Map<string, string> = new Map<string, string>();
  patterns: ModelRule[] = [];
  fallback: string | null = null;
  domain: string = "";
  basePath: string = "";
  timeoutMs: i64 = 0;
  defaultMaxTokens: i32 = 4096;
  anthropicVersion: string = "2023-06-01";

  /** Higress semantics: exact name, then `prefix*` / `~regex` keys in config order, then `*`; "" keeps the name. */
  mapModel(model: string): string {
    let target: string | null = null;
    if (this.exact.has(model)) target = this.exact.get(model);
    else {
      for (let i = 0; i < this.patterns.length && target === null; i++) if (this.patterns[i].matches(model)) target = this.patterns[i].target;
      if (target === null) target = this.fallback;
    }
    return target === null || target.length == 0 ? model : target;
  }

  /** Round robin over apiTokens. */
  token(): string {
    if (this.tokens.length == 0) return "";
    const t = this.tokens[this.nextToken % this.tokens.length];
    this.nextToken = (this.nextToken + 1) % this.tokens.length;
    return t;
  }
}

class Parser extends ConfigParser<ProviderConfig> {
  parse(json: JsonValue, err: ConfigError): ProviderConfig | null {
    const p = json.getObject("provider");
    if (p === null) { err.fail("provider", "required object"); return null; }
    const c = new ProviderConfig();
    c.type = p.getString("type");
    if (c.type == "openai") { c.protocol = Protocol.OpenAI; c.domain = "api.openai.com"; }
    else if (c.type == "qwen") {
      c.protocol = Protocol.DashScope;
      c.domain = "dashscope.aliyuncs.com";
      if (p.getBool("qwenEnableCompatible")) { c.protocol = Protocol.OpenAI; c.basePath = "/compatible-mode"; }
      const qd = p.getString("qwenDomain");
      if (qd.length) c.domain = qd;
    } else if (c.type == "claude") { c.protocol = Protocol.Anthropic; c.domain = "api.anthropic.com"; }
    else { err.fail("provider.type", "must be openai, qwen or claude"); return null; }
    const proto = p.getString("protocol", "openai");
    if (proto == "original") c.original = true;
    else if (proto != "openai") { err.fail("provider.protocol", "must be openai or original"); return null; }
    const tokens = stringList(p, "apiTokens", err);
    if (tokens === null) return null;
    c.tokens = tokens;
    const mm = p.get("modelMapping");
    if (mm !== null && !mm.isNull()) {
      if (!mm.isObject()) { err.fail("provider.modelMapping", "must be an object"); return null; }
      const keys = mm.keys();
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const v = mm.get(k);
        if (v === null || !v.isString()) { err.fail("provider.modelMapping." + k, "must be a string"); return null; }
        const target = v.asString();
        if (k == "*") c.fallback = target;
        else if (k.startsWith("~")) {
          const re = compileRegex(k.substring(1));
          if (re === null) { err.fail("provider.modelMapping." + k, "bad regex: " + regexError()); return null; }
          c.patterns.push(new ModelRule("", re, target));
        } else if (k.endsWith("*")) c.patterns.push(new ModelRule(k.substring(0, k.length - 1), null, target));
        else c.exact.set(k, target);
      }
    }
    const domain = p.getString("providerDomain");
    if (domain.length) c.domain = domain;
    const base = p.getString("basePath");
    if (base.length) c.basePath = base.endsWith("/") ? base.substring(0, base.length - 1) : base;
    c.timeoutMs = p.getInt("timeout", 0);
    const mt = p.getInt("defaultMaxTokens", 4096);
    if (mt < 1 || mt > 1000000) { err.fail("provider.defaultMaxTokens", "must be 1..1000000"); return null; }
    c.defaultMaxTokens = <i32>mt;
    const av = p.getString("anthropicVersion");
    if (av.length) c.anthropicVersion = av;
    return c;
  }
}

class AiProxyRoot extends PluginRoot<ProviderConfig> {
  private requests: i64 = 0;
  parser(): ConfigParser<ProviderConfig> { return new Parser(); }
  newHttpContext(id: u32): HttpContext { return new AiProxyStream(id, this); }
  nextRequestId(): string { return "aiproxy-" + (++this.requests).toString(); }
}

// ---------------------------------------------------------------- per request

/** The canonical part of a client path (route prefixes like Dify's are cut off); "" when none is known. */
function canonicalPath(path: string, client: Protocol): string {
  const q = path.indexOf("?");
  const p = q >= 0 ? path.substring(0, q) : path;
  const marker = client == Protocol.DashScope ? "/api/v1/" : "/v1/";
  const at = p.indexOf(marker);
  return at >= 0 ? p.substring(at) : "";
}

class AiProxyStream extends HttpContext {
  private cfg: ProviderConfig | null = null;
  private route: Route = new Route(Api.Unknown, Protocol.OpenAI);
  private path: string = "";
  private streamHeader: bool = false;
  /** Set when request and response need translating. */
  private exchange: Exchange | null = null;
  private translateBody: bool = false;
  private status: i32 = 0;
  private stream: ChatStreamTranslator | null = null;
  private responseMode: i32 = 0; // 0 pass, 1 buffer JSON answer, 2 buffer error, 3 translate stream

  constructor(id: u32, private proxyRoot: AiProxyRoot) { super(id, proxyRoot); }

  onRequestHeaders(n: u32, eos: bool): HeaderAction {
    const cfg = this.proxyRoot.configForRequest();
    if (cfg === null) return HeaderAction.Continue;
    this.cfg = cfg;
    // Keep the route the client's path matched: rewriting :path must not send the request elsewhere.
    setProperty("clear_route_cache", "off");
    const path = requestHeader(":path");
    this.path = path === null ? "/" : path;
    this.route = detectRoute(this.path);
    const sse = requestHeader("x-dashscope-sse");
    const accept = requestHeader("accept");
    this.streamHeader = (sse !== null && sse.toLowerCase() == "enable") || (accept !== null && accept.includes("text/event-stream"));
    replaceHeader(MapType.RequestHeaders, ":authority", cfg.domain);
    this.setAuth(cfg);
    if (cfg.timeoutMs > 0) replaceHeader(MapType.RequestHeaders, "x-envoy-upstream-rq-timeout-ms", cfg.timeoutMs.toString());
    if (this.route.api == Api.Unknown || eos) {
      this.setPath(cfg, cfg.original || this.route.api == Api.Unknown ? this.path : "");
      return HeaderAction.Continue;
    }
    // The body decides the upstream path and length; answers must arrive uncompressed to be translated.
    removeHeader(MapType.RequestHeaders, "content-length");
    removeHeader(MapType.RequestHeaders, "accept-encoding");
    this.translateBody = true;
    return HeaderAction.StopIteration;
  }

  private setAuth(cfg: ProviderConfig): void {
    const token = cfg.token();
    if (token.length == 0) return;
    if (cfg.protocol == Protocol.Anthropic) {
      removeHeader(MapType.RequestHeaders, "authorization");
      replaceHeader(MapType.RequestHeaders, "x-api-key", token);
      if (requestHeader("anthropic-version") === null) replaceHeader(MapType.RequestHeaders, "anthropic-version", cfg.anthropicVersion);
    } else {
      removeHeader(MapType.RequestHeaders, "x-api-key");
      replaceHeader(MapType.RequestHeaders, "authorization", "Bearer " + token);
    }
  }

  /** providerPath "" keeps the client's canonical path (same protocol) under the provider's base path. */
  private setPath(cfg: ProviderConfig, providerPath: string): void {
    let p = providerPath;
    if (p.length == 0) {
      p = canonicalPath(this.path, this.route.client);
      if (p.length == 0) p = this.path;
      const q = this.path.indexOf("?");
      if (q >= 0 && !p.includes("?")) p += this.path.substring(q);
    }
    if (cfg.basePath.length && !p.startsWith(cfg.basePath + "/")) p = cfg.basePath + p;
    replaceHeader(MapType.RequestHeaders, ":path", p);
  }

  onRequestBody(size: u32, eos: bool): DataAction {
    const cfg = this.cfg;
    if (cfg === null || !this.translateBody) return DataAction.Continue;
    if (!eos) return DataAction.StopIterationAndBuffer;
    const raw = getBuffer(BufferType.RequestBody, 0, <i32>size);
    const body: JsonValue | null = raw === null ? null : parseJson(fromUtf8(raw));
    if (body === null || !body.isObject()) {
      this.reject(400, "request body is not a JSON object: " + (body === null ? jsonError() : "wrong type"));
      return DataAction.StopIterationNoBuffer;
    }
    // The multimodal endpoint serves chat and images alike: the body tells which.
    this.route = detectRoute(this.path, body);
    const model = body.getString("model");
    const mapped = cfg.mapModel(model);
    if (mapped != model) body.set("model", JsonValue.newString(mapped));

    if (cfg.original || this.route.client == cfg.protocol) {
      this.setPath(cfg, "");
      if (cfg.protocol == Protocol.DashScope && this.streamHeader) replaceHeader(MapType.RequestHeaders, "x-dashscope-sse", "enable");
      if (mapped != model) setBuffer(BufferType.RequestBody, jsonBytes(body));
      return DataAction.Continue;
    }
    const opts = new TranslateOptions();
    opts.defaultMaxTokens = cfg.defaultMaxTokens;
    opts.created = nowMillis() / 1000;
    opts.requestId = this.proxyRoot.nextRequestId();
    opts.streamHeader = this.streamHeader;
    const tr = translateRequest(this.route, cfg.protocol, body, opts);
    const out = tr.body;
    if (tr.error.length || out === null) { this.reject(400, tr.error); return DataAction.StopIterationNoBuffer; }
    if (tr.dropped.length) logInfo("dropped (" + protocolName(cfg.protocol) + " cannot express): " + tr.dropped.join(", "));
    if (tr.defaulted.length) logInfo("defaulted (" + protocolName(cfg.protocol) + " requires): " + tr.defaulted.join(", "));
    this.exchange = tr.exchange;
    this.setPath(cfg, tr.path);
    removeHeader(MapType.RequestHeaders, "x-dashscope-sse");
    if (cfg.protocol == Protocol.DashScope && tr.exchange.stream) {
      replaceHeader(MapType.RequestHeaders, "x-dashscope-sse", "enable");
      replaceHeader(MapType.RequestHeaders, "accept", "text/event-stream");
    }
    setBuffer(BufferType.RequestBody, out);
    return DataAction.Continue;
  }

  /** A gateway error in the client's protocol. */
  private reject(status: i32, message: string): void {
    const e = gatewayError(this.route.client, status, message);
    logWarn("reply " + e.status.toString() + ": " + message);
    sendLocalResponse(<u32>e.status, e.body, [new Header("content-type", "application/json")], "ai_proxy_bad_request");
  }

  onResponseHeaders(n: u32, eos: bool): HeaderAction {
    const ex = this.exchange;
    if (ex === null) return HeaderAction.Continue;
    const s = responseHeader(":status");
    this.status = s === null ? 0 : I32.parseInt(s);
    const ct = responseHeader("content-type");
    const isSse = ct !== null && ct.includes("text/event-stream");
    if (this.status >= 200 && this.status < 300 && isSse && ex.api == Api.Chat) {
      this.responseMode = 3;
      this.stream = new ChatStreamTranslator(ex);
      removeHeader(MapType.ResponseHeaders, "content-length");
      return HeaderAction.Continue;
    }
    if (eos) return HeaderAction.Continue;
    // Whole answers are rewritten, status included, once the body is complete.
    this.responseMode = this.status >= 200 && this.status < 300 ? 1 : 2;
    return HeaderAction.StopIteration;
  }

  onResponseBody(size: u32, eos: bool): DataAction {
    const ex = this.exchange;
    if (ex === null || this.responseMode == 0) return DataAction.Continue;
    if (this.responseMode == 3) {
      const st = this.stream;
      if (st === null) return DataAction.Continue;
      const chunk: ArrayBuffer | null = size > 0 ? getBuffer(BufferType.ResponseBody, 0, <i32>size) : null;
      if (chunk !== null) st.push(chunk);
      if (eos) st.end();
      setBuffer(BufferType.ResponseBody, st.take());
      if (st.error.length && eos) logWarn("stream ended with error: " + st.error);
      return DataAction.Continue;
    }
    if (!eos) return DataAction.StopIterationAndBuffer;
    const raw = getBuffer(BufferType.ResponseBody, 0, <i32>size);
    const text = raw === null ? "" : fromUtf8(raw);
    let status = this.status;
    let out: string;
    const body: JsonValue | null = this.responseMode == 1 ? parseJson(text) : null;
    if (this.responseMode == 1 && body !== null && (body.isObject() || body.isArray())) out = translateResponse(ex, body);
    else {
      const e = this.responseMode == 1
        ? gatewayError(ex.client, 502, "provider answer is not JSON: " + jsonError())
        : translateError(ex.client, this.status, text, ex.requestId);
      status = e.status;
      out = e.body;
    }
    replaceHeader(MapType.ResponseHeaders, ":status", status.toString());
    replaceHeader(MapType.ResponseHeaders, "content-type", "application/json");
    removeHeader(MapType.ResponseHeaders, "content-length");
    setBuffer(BufferType.ResponseBody, utf8(out));
    return DataAction.Continue;
  }
}

registerRootContext((id: u32): RootContext => {
  setLogPrefix("ai-proxy");
  return new AiProxyRoot(id);
});
