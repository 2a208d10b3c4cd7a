// hmac-auth: Higress's AK/SK signature check (what the Higress Dify plugin sends), API keys in
// the same plugin, consumer allow lists and IP rules. Exact where clients depend on Higress
// (string to sign, statuses, messages, X-Ca-Error-Message, X-Mse-Consumer); safe where Higress
// is not (constant-time compare, nonce replay check, enforced date window, no forged consumer).
//
// The body is read only when the signature covers it (form parameters) or Content-MD5 is
// present; every other request is decided in the headers phase without buffering.
export * from "../../shared/proxy/exports";
import { BufferType, DataAction, HeaderAction, MapType } from "../../shared/proxy/abi";
import {
  Header, getBuffer, getHeaders, removeHeader, replaceHeader, continueRequest, nowMillis, logWarn, setLogPrefix,
} from "../../shared/proxy/hostcalls";
import { HttpContext, RootContext, registerRootContext } from "../../shared/proxy/context";
import { ConfigParser } from "../../shared/config";
import { PluginRoot, replyError } from "../../shared/plugin";
import { HashAlg, base64Encode, constantTimeEqualString, hexEncode, md5, sha256 } from "../../shared/crypto";
import { RespValue } from "../../shared/resp";
import { RedisReply } from "../../shared/redis";
import { Consumer, HmacConfig, HmacParser, MAX_NONCE_LENGTH } from "./config";
import { asciiLower } from "./text";
import { HeaderView, errorMessage, headerPart, isSigned, pathAndParameters, signature, signatureAlg, signedHeaderNames } from "./sign";
import { NO_TIME, parseHttpDate, parseTimestamp } from "./httpdate";
import { Claim, claimLocalNonce, nonceFingerprint, prepareLocalNonces, redisClaimArgs, redisClaimResult } from "./nonce";
import { queryParams, withoutParam } from "./params";
import { ipAllowed } from "./ip";

/** The x-ca-* headers of the scheme, removed before the upstream with hide_credentials. */
const SCHEME_HEADERS: string[] = [
  "x-ca-key", "x-ca-signature", "x-ca-signature-method", "x-ca-signature-headers", "x-ca-timestamp", "x-ca-nonce",
];
const FORM_TYPE = "application/x-www-form-urlencoded";

class HmacRoot extends PluginRoot<HmacConfig> {
  parser(): ConfigParser<HmacConfig> { return new HmacParser(); }

  onConfigured(): void {
    const rc = this.config;
    if (rc == null) return;
    const all = new Array<HmacConfig>();
    const g = rc.global;
    if (g != null) all.push(g);
    for (let i = 0; i < rc.rules.length; i++) all.push(unchecked(rc.rules[i]).config);
    let local = false;
    for (let i = 0; i < all.length; i++) {
      const c = unchecked(all[i]);
      const n = c.nonce;
      if (!n.enabled) continue;
      const redis = n.redis;
      if (redis == null) local = true;
      else redis.init();
      if (c.hmac.size == 0 && !c.hasApiKeys) logWarn("no consumers configured: requests that need authentication will get 401");
    }
    if (local) prepareLocalNonces();
  }

  newHttpContext(id: u32): HttpContext { return new HmacStream(id, this); }
}

const enum Verdict { Pass, Denied, Pending }

/** A signed request waiting for its body (form parameters or Content-MD5). */
class PendingCheck {
  constructor(
    public cfg: HmacConfig, public ak: string, public consumer: Consumer, public headerPart: string,
    public path: string, public alg: HashAlg, public signature: string, public contentMd5: string | null,
    public form: bool, public nonce: string, public anchorMs: i64,
  ) {}
}

class NonceReply extends RedisReply {
  constructor(public stream: HmacStream, public cfg: HmacConfig, public consumer: Consumer) { super(); }
  onReply(reply: RespValue | null, error: string): void {
    if (reply == null) logWarn("nonce store: " + error);
    if (this.stream.afterNonce(redisClaimResult(reply), this.cfg, this.consumer) == Verdict.Pass) continueRequest();
  }
}

class HmacStream extends HttpContext {
  pending: PendingCheck | null = null;

  onRequestHeaders(numHeaders: u32, endOfStream: bool): HeaderAction {
    const rc = (this.root as HmacRoot).config;
    if (rc == null) return HeaderAction.Continue;
    const h = new HeaderView(getHeaders(MapType.RequestHeaders));
    // Only this plugin names the consumer: a client-sent value never reaches the upstream.
    if (h.has("x-mse-consumer")) removeHeader(MapType.RequestHeaders, "x-mse-consumer");
    const cfg = rc.current();
    if (cfg == null) return HeaderAction.Continue;
    const ip = cfg.ip;
    if (ip != null && !ipAllowed(ip, h)) return this.headersVerdict(deny(ip.status, ip.message, "ip_blocked"));
    // Higress: without rules every route authenticates; with rules only matched routes do,
    // unless global_auth is true.
    const mustAuth = rc.rules.length == 0 || cfg !== rc.global || cfg.globalAuth == 1;
    if (!mustAuth) return HeaderAction.Continue;
    return this.headersVerdict(this.authenticate(cfg, h, endOfStream));
  }

  onRequestBody(bodySize: u32, endOfStream: bool): DataAction {
    const p = this.pending;
    if (p == null) return DataAction.Continue;
    if (<i64>bodySize > p.cfg.maxBodyBytes) {
      this.pending = null;
      deny(413, "Request Body Too Large", "request_body_too_large");
      return DataAction.StopIterationNoBuffer;
    }
    if (!endOfStream) return DataAction.StopIterationAndBuffer;
    return this.bodyVerdict(this.finishBody(p, bodySize));
  }

  onRequestTrailers(numTrailers: u32): HeaderAction {
    const p = this.pending;
    if (p == null) return HeaderAction.Continue;
    const v = this.finishBody(p, <u32>i32.MAX_VALUE);
    return v == Verdict.Pass ? HeaderAction.Continue : HeaderAction.StopIteration;
  }

  private headersVerdict(v: Verdict): HeaderAction {
    if (v == Verdict.Pass) return HeaderAction.Continue;
    if (v == Verdict.Pending && this.pending == null) return HeaderAction.StopAllIterationAndWatermark;
    return HeaderAction.StopIteration;
  }
  private bodyVerdict(v: Verdict): DataAction {
    if (v == Verdict.Pass) return DataAction.Continue;
    return v == Verdict.Pending ? DataAction.StopIterationAndBuffer : DataAction.StopIterationNoBuffer;
  }

  private authenticate(cfg: HmacConfig, h: HeaderView, endOfStream: bool): Verdict {
    const ak = h.value("x-ca-key");
    if (ak.length == 0) return cfg.hasApiKeys ? this.apiKeyAuth(cfg, h) : deny(401, "Invalid Key", "invalid_key");
    if (!cfg.hmac.has(ak)) return deny(401, "Invalid Key", "invalid_key");
    const consumer = cfg.hmac.get(ak);
    if (!cfg.allows(consumer.name)) return deny(403, "Unauthorized Consumer", "unauthorized_consumer");
    const sig = h.value("x-ca-signature");
    if (sig.length == 0) return deny(401, "Empty Signature", "empty_signature");
    const signed = signedHeaderNames(h.value("x-ca-signature-headers"));

    const now = nowMillis();
    let anchor = now;
    if (cfg.dateOffsetMs > 0) {
      // The time must be signed, or it could be moved to replay a request: Date always is,
      // x-ca-timestamp only when listed in x-ca-signature-headers.
      const date = h.value("date");
      const t = date.length > 0 ? parseHttpDate(date)
        : isSigned(signed, "x-ca-timestamp") ? parseTimestamp(h.value("x-ca-timestamp")) : NO_TIME;
      if (t == NO_TIME || abs<i64>(t - now) > cfg.dateOffsetMs) return deny(400, "Invalid Date", "invalid_date");
      anchor = t;
    }
    let nonce = "";
    if (cfg.nonce.enabled) {
      nonce = h.value("x-ca-nonce");
      if (nonce.length == 0 || nonce.length > MAX_NONCE_LENGTH || !isSigned(signed, "x-ca-nonce")) {
        return deny(400, "Invalid Nonce", "invalid_nonce");
      }
    }

    const part = headerPart(h, signed);
    const path = h.value(":path");
    const alg = signatureAlg(h.value("x-ca-signature-method"));
    const form = asciiLower(h.value("content-type")).includes(FORM_TYPE);
    const contentMd5 = h.get("content-md5");
    // Without form parameters the string to sign is complete now: check it before any body
    // arrives (Higress's order: a bad signature wins over a bad Content-MD5).
    if (!form) {
      const v = verify(consumer, alg, part + pathAndParameters(path, null), sig);
      if (v != Verdict.Pass) return v;
    }
    if (form || contentMd5 != null) {
      const p = new PendingCheck(cfg, ak, consumer, part, path, alg, sig, contentMd5, form, nonce, anchor);
      if (endOfStream) return this.finishBody(p, 0);
      const declared = h.get("content-length");
      if (declared != null && I64.parseInt(declared) > cfg.maxBodyBytes) {
        return deny(413, "Request Body Too Large", "request_body_too_large");
      }
      this.pending = p;
      return Verdict.Pending;
    }
    return this.admit(cfg, ak, consumer, nonce, anchor);
  }

  /** The body is complete (`size` bytes buffered): Content-MD5, then form parameters, then the nonce. */
  private finishBody(p: PendingCheck, size: u32): Verdict {
    this.pending = null;
    const buf = size > 0 ? getBuffer(BufferType.RequestBody, 0, <i32>size) : null;
    const body = Uint8Array.wrap(buf == null ? new ArrayBuffer(0) : buf);
    if (<i64>body.length > p.cfg.maxBodyBytes) return deny(413, "Request Body Too Large", "request_body_too_large");
    const expected = p.contentMd5;
    if (expected != null && !constantTimeEqualString(base64Encode(md5(body)), expected)) {
      return deny(400, "Invalid Content-MD5", "invalid_content_md5");
    }
    if (p.form) {
      const v = verify(p.consumer, p.alg, p.headerPart + pathAndParameters(p.path, body), p.signature);
      if (v != Verdict.Pass) return v;
    }
    return this.admit(p.cfg, p.ak, p.consumer, p.nonce, p.anchorMs);
  }

  /** Last step of a valid signature: spend the nonce, then let the request through. */
  private admit(cfg: HmacConfig, ak: string, consumer: Consumer, nonce: string, anchorMs: i64): Verdict {
    const n = cfg.nonce;
    if (!n.enabled) return admitted(cfg, consumer);
    const windowed = cfg.dateOffsetMs > 0;
    const redis = n.redis;
    if (redis == null) {
      const span = windowed ? cfg.dateOffsetMs : n.ttlMs;
      return this.afterNonce(claimLocalNonce(nonceFingerprint(ak, nonce), anchorMs, span, windowed ? 0 : 1), cfg, consumer);
    }
    // Remembered until the signed time leaves the window (plus a second of clock slack).
    const ttl = windowed ? anchorMs + cfg.dateOffsetMs - nowMillis() + 1000 : n.ttlMs;
    const args = redisClaimArgs(n.keyPrefix, ak, nonce, ttl);
    if (!redis.call(args, new NonceReply(this, cfg, consumer))) return this.afterNonce(Claim.StoreFailed, cfg, consumer);
    return Verdict.Pending;
  }

  afterNonce(claim: Claim, cfg: HmacConfig, consumer: Consumer): Verdict {
    if (claim == Claim.Replayed) return deny(400, "Nonce Used", "nonce_used");
    if (claim == Claim.StoreFailed) return deny(503, "Nonce Store Unavailable", "nonce_store_unavailable");
    return admitted(cfg, consumer);
  }

  private apiKeyAuth(cfg: HmacConfig, h: HeaderView): Verdict {
    let key = "";
    let header = "";
    let param = "";
    for (let i = 0; i < cfg.keyHeaders.length && key.length == 0; i++) {
      const v = h.get(unchecked(cfg.keyHeaders[i]));
      if (v != null) { key = bearerless(v); header = unchecked(cfg.keyHeaders[i]); }
    }
    if (key.length == 0 && cfg.keyQuery.length > 0) {
      const q = queryParams(h.value(":path"));
      for (let i = 0; i < cfg.keyQuery.length && key.length == 0; i++) {
        const v = q.get(unchecked(cfg.keyQuery[i]));
        if (v != null) { key = v.trim(); param = unchecked(cfg.keyQuery[i]); }
      }
    }
    if (key.length == 0) return deny(401, "Invalid Key", "invalid_key");
    // Looked up by digest: the map's compare then reveals nothing about the key itself.
    const digest = hexEncode(sha256(key));
    if (!cfg.apiKeys.has(digest)) return deny(401, "Invalid Key", "invalid_key");
    const name = cfg.apiKeys.get(digest);
    if (!cfg.allows(name)) return deny(403, "Unauthorized Consumer", "unauthorized_consumer");
    if (cfg.hideCredentials) {
      if (header.length > 0) removeHeader(MapType.RequestHeaders, header);
      else replaceHeader(MapType.RequestHeaders, ":path", withoutParam(h.value(":path"), param));
    }
    return setConsumer(name);
  }
}

/** `Bearer <key>` → `<key>`; any other value is the key itself. */
function bearerless(v: string): string {
  const t = v.trim();
  return t.length > 7 && asciiLower(t.substring(0, 7)) == "bearer " ? t.substring(7).trim() : t;
}

/** Constant-time compare of the client's signature with ours. */
function verify(consumer: Consumer, alg: HashAlg, stringToSign: string, given: string): Verdict {
  if (constantTimeEqualString(signature(alg, consumer.secret, stringToSign), given)) return Verdict.Pass;
  return deny(400, "Invalid Signature", "invalid_signature", [new Header("x-ca-error-message", errorMessage(stringToSign))]);
}

/** Names the consumer for the upstream (legacy nameless credentials set nothing, as in Higress). */
function setConsumer(name: string): Verdict {
  if (name.length > 0) replaceHeader(MapType.RequestHeaders, "x-mse-consumer", name);
  return Verdict.Pass;
}

/** An AK/SK request passed: hide_credentials drops the x-ca-* headers. */
function admitted(cfg: HmacConfig, consumer: Consumer): Verdict {
  if (cfg.hideCredentials) {
    for (let i = 0; i < SCHEME_HEADERS.length; i++) removeHeader(MapType.RequestHeaders, unchecked(SCHEME_HEADERS[i]));
  }
  return setConsumer(consumer.name);
}

function errorType(status: u32): string {
  if (status == 401) return "authentication_error";
  if (status == 403) return "permission_error";
  if (status == 503) return "service_unavailable";
  return "invalid_request_error";
}

/** Replies `status` with Higress's message, as JSON ({"error":{"message":…}}). */
function deny(status: u32, message: string, code: string, headers: Header[] = []): Verdict {
  replyError(status, message, errorType(status), code, headers, "hmac_auth." + code);
  return Verdict.Denied;
}

setLogPrefix("hmac-auth");
registerRootContext((id: u32): RootContext => new HmacRoot(id));

