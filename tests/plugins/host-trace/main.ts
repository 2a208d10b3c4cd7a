// host-trace: a test-only plugin that logs every callback it gets, so host tests can check order,
// sizes, end-of-stream flags and bodies across a chain of plugins. Config (JSON text) fields:
//   "name": "A"             prefix of every log line ("A req_headers n=.. eos=..")
//   "req_headers": N        action returned from onRequestHeaders (default Continue)
//   "req_body": N           action returned from onRequestBody when not end_of_stream (default Continue)
//   "resp_headers": N       action returned from onResponseHeaders
//   "resp_body": N          action returned from onResponseBody when not end_of_stream
//   "resume_on_tick": 1     a tick continues every stream this plugin has paused (request and response)
//   "trap_on_body": 1       trap in onRequestBody
// Plain ABI 0.2.1 (no Higress 0_2_100 marker): the host tests compare both behaviours.
export * from "../../../shared/proxy/dispatch";
export function proxy_abi_version_0_2_1(): void {}
import { DataAction, HeaderAction, BufferType, MapType, proxy_set_effective_context } from "../../../shared/proxy/abi";
import {
  getBuffer, logInfo, fromUtf8, setTickPeriod, continueRequest, continueResponse, headerMapByteSize, requestHeader,
} from "../../../shared/proxy/hostcalls";
import { RootContext, HttpContext, registerRootContext } from "../../../shared/proxy/context";

function field(config: string, key: string, def: i32): i32 {
  const k = "\"" + key + "\":";
  const i = config.indexOf(k);
  if (i < 0) return def;
  let j = i + k.length;
  while (j < config.length && config.charCodeAt(j) == 32) j++;
  let end = j;
  while (end < config.length && config.charCodeAt(end) >= 48 && config.charCodeAt(end) <= 57) end++;
  return end > j ? I32.parseInt(config.substring(j, end)) : def;
}

function textField(config: string, key: string): string {
  const k = "\"" + key + "\":\"";
  const i = config.indexOf(k);
  if (i < 0) return "?";
  const end = config.indexOf("\"", i + k.length);
  return end < 0 ? "?" : config.substring(i + k.length, end);
}

class TraceRoot extends RootContext {
  name: string = "?";
  reqHeaders: i32 = 0;
  reqBody: i32 = 0;
  respHeaders: i32 = 0;
  respBody: i32 = 0;
  trapOnBody: bool = false;
  paused: u32[] = [];

  onConfigure(config: string): bool {
    this.name = textField(config, "name");
    this.reqHeaders = field(config, "req_headers", 0);
    this.reqBody = field(config, "req_body", 0);
    this.respHeaders = field(config, "resp_headers", 0);
    this.respBody = field(config, "resp_body", 0);
    this.trapOnBody = field(config, "trap_on_body", 0) == 1;
    if (field(config, "resume_on_tick", 0) == 1) setTickPeriod(1000);
    return true;
  }

  onTick(): void {
    const ids = this.paused;
    this.paused = [];
    for (let i = 0; i < ids.length; i++) {
      proxy_set_effective_context(ids[i]);
      logInfo(this.name + " resume " + ids[i].toString());
      continueRequest();
      continueResponse();
    }
  }

  newHttpContext(id: u32): HttpContext { return new TraceStream(id, this); }
}

function bodyText(type: BufferType, size: u32): string {
  if (size == 0) return "";
  const b = getBuffer(type, 0, <i32>size);
  return b == null ? "<null>" : fromUtf8(b);
}

class TraceStream extends HttpContext {
  get r(): TraceRoot { return changetype<TraceRoot>(this.root); }

  pause(action: i32): void { if (action != 0) this.r.paused.push(this.id); }

  onRequestHeaders(n: u32, eos: bool): HeaderAction {
    const path = requestHeader(":path");
    logInfo(this.r.name + " req_headers n=" + n.toString() + " eos=" + (eos ? "1" : "0") + " path=" + (path == null ? "<null>" : path));
    this.pause(this.r.reqHeaders);
    return <HeaderAction>this.r.reqHeaders;
  }

  onRequestBody(size: u32, eos: bool): DataAction {
    if (this.r.trapOnBody) unreachable();
    logInfo(this.r.name + " req_body size=" + size.toString() + " eos=" + (eos ? "1" : "0") + " body=" + bodyText(BufferType.RequestBody, size)
      // proxy_get_header_map_size answers the map's byte size in Envoy:
      // here only whether the request headers are still reachable matters.
      + " headers=" + (headerMapByteSize(MapType.RequestHeaders) > 0 ? "reachable" : "gone"));
    const a = eos ? 0 : this.r.reqBody;
    this.pause(a);
    return <DataAction>a;
  }

  onResponseHeaders(n: u32, eos: bool): HeaderAction {
    logInfo(this.r.name + " resp_headers n=" + n.toString() + " eos=" + (eos ? "1" : "0"));
    this.pause(this.r.respHeaders);
    return <HeaderAction>this.r.respHeaders;
  }

  onResponseBody(size: u32, eos: bool): DataAction {
    logInfo(this.r.name + " resp_body size=" + size.toString() + " eos=" + (eos ? "1" : "0") + " body=" + bodyText(BufferType.ResponseBody, size));
    const a = eos ? 0 : this.r.respBody;
    this.pause(a);
    return <DataAction>a;
  }

  onLog(): void { logInfo(this.r.name + " log"); }
  onDone(): void { logInfo(this.r.name + " done"); }
}

registerRootContext((id: u32): RootContext => new TraceRoot(id));
