// fuzz-target: a test-only plugin that runs untrusted bytes through every shared parser inside a real
// module, so tests/fuzz can check that no input reaches an abort (a trap would kill the VM in Envoy).
// Header x-fuzz-kind picks the parser for the request body: json | sse | config | usage | resp | regex.
// The request headers themselves go through the query, cookie, URL and IP parsers every time.
// It answers locally: 200 with "ok" or "rejected" (the parser returned an error value).
export * from "../../../shared/proxy/exports";
import { DataAction, HeaderAction, BufferType } from "../../../shared/proxy/abi";
import { requestHeader, getBuffer, sendLocalResponse, fromUtf8, setLogPrefix } from "../../../shared/proxy/hostcalls";
import { RootContext, HttpContext, registerRootContext } from "../../../shared/proxy/context";
import { JsonValue, parseJson, parseJsonBytes } from "../../../shared/json";
import { SseParser } from "../../../shared/sse";
import { ConfigError, ConfigParser, parseRouteConfig, stringList } from "../../../shared/config";
import { usageFromJson, StreamUsageTracker } from "../../../shared/usage";
import { estimateTokens, estimateChatPromptTokens } from "../../../shared/tokens";
import { parseRespAll } from "../../../shared/resp";
import { parseQuery, parseCookies, urlDecode, parseIp, parseIpPort, CidrSet } from "../../../shared/net";
import { compileRegex } from "../../../shared/regex";

class AnyConfig { names: string[] = []; limit: i64 = 0; }
class AnyParser extends ConfigParser<AnyConfig> {
  parse(json: JsonValue, err: ConfigError): AnyConfig | null {
    const c = new AnyConfig();
    const names = stringList(json, "names", err);
    if (names == null) return null;
    c.names = names;
    c.limit = json.getInt("limit", 0);
    return c;
  }
}

function headerParsers(): void {
  const path = requestHeader(":path");
  if (path != null) parseQuery(path.indexOf("?") >= 0 ? path.substring(path.indexOf("?") + 1) : path);
  const c = requestHeader("cookie");
  if (c != null) parseCookies(c);
  const u = requestHeader("x-fuzz-url");
  if (u != null) urlDecode(u);
  const ip = requestHeader("x-fuzz-ip");
  if (ip != null) {
    parseIpPort(ip);
    const a = parseIp(ip);
    const set = new CidrSet();
    set.add(ip);
    set.add("10.0.0.0/8");
    if (a != null) set.contains(a);
  }
}

class FuzzStream extends HttpContext {
  kind: string = "";
  splits: string = "";
  onRequestHeaders(n: u32, eos: bool): HeaderAction {
    headerParsers();
    const k = requestHeader("x-fuzz-kind");
    this.kind = k == null ? "json" : k;
    const s = requestHeader("x-fuzz-splits");
    this.splits = s == null ? "" : s;
    return HeaderAction.StopIteration;
  }
  onRequestBody(size: u32, eos: bool): DataAction {
    if (!eos) return DataAction.StopIterationAndBuffer;
    const b = getBuffer(BufferType.RequestBody, 0, <i32>size);
    const body = b == null ? new ArrayBuffer(0) : b;
    const ok = this.run(body);
    sendLocalResponse(200, ok ? "ok" : "rejected", [], "fuzz");
    return DataAction.StopIterationNoBuffer;
  }
  run(body: ArrayBuffer): bool {
    if (this.kind == "json") {
      const v = parseJsonBytes(body);
      if (v == null) return false;
      const again = parseJson(v.toString());   // what we write must parse again
      if (again == null) return false;
      v.path("messages.0.content"); v.clone();
      estimateChatPromptTokens(v); usageFromJson(v);
      return true;
    }
    if (this.kind == "sse") {
      const p = new SseParser(1 << 16);
      const t = new StreamUsageTracker();
      // split the body at the positions listed in x-fuzz-splits (any byte, mid-character included)
      const parts = this.splits.split(",");
      let start = 0;
      for (let i = 0; i <= parts.length; i++) {
        let end = i < parts.length ? I32.parseInt(parts[i]) : body.byteLength;
        if (end < start || end > body.byteLength) end = start;
        const events = p.feed(body.slice(start, end));
        for (let j = 0; j < events.length; j++) t.onEvent(events[j].event, events[j].data);
        start = end;
      }
      const rest = p.finish();
      for (let j = 0; j < rest.length; j++) t.onEvent(rest[j].event, rest[j].data);
      t.usage(); t.outputText();
      return p.error().length == 0;
    }
    if (this.kind == "config") return parseRouteConfig<AnyConfig>(fromUtf8(body), new AnyParser(), new ConfigError()) != null;
    if (this.kind == "usage") { estimateTokens(fromUtf8(body)); const v = parseJsonBytes(body); return v != null && usageFromJson(v).found(); }
    if (this.kind == "resp") return parseRespAll(body) != null;
    if (this.kind == "regex") { const r = compileRegex(fromUtf8(body)); if (r == null) return false; r.test("fuzz subject 123"); return true; }
    return false;
  }
}

class FuzzRoot extends RootContext {
  newHttpContext(id: u32): HttpContext { return new FuzzStream(id, this); }
}

setLogPrefix("fuzz-target");
registerRootContext((id: u32): RootContext => new FuzzRoot(id));
