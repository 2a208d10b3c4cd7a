// abi-probe: a test-only plugin that exercises one host call per request header,
// so host tests can check each ABI behaviour through a real module.
//   x-probe-headers-action: N      return action N from onRequestHeaders
//   x-probe-body-action: N         return action N from onRequestBody until end_of_stream
//   x-probe-body-replace: TEXT     replace the request body with TEXT at end_of_stream
//   x-probe-local-reply: STATUS    answer locally (body "probe local reply", header x-probe: local)
//   x-probe-set-header: NAME=VAL   set a request header for the upstream
//   x-probe-property: PATH         copy a property into request header x-probe-property-value
//   x-probe-http-call: CLUSTER     pause, GET /probe on CLUSTER, resume with x-probe-call-status / -body
//   x-probe-shared-incr: KEY       CAS-increment shared counter KEY, value in x-probe-shared-value
//   x-probe-redis: CLUSTER         INCR probe-counter on CLUSTER, reply in x-probe-redis-reply (or -status)
//   x-probe-metric: NAME           increment counter NAME
//   x-probe-enqueue: TEXT          enqueue TEXT on queue "probe" (root logs "dequeued: TEXT")
//   x-probe-upstream-hosts: 1      list upstream hosts in x-probe-upstream-hosts
//   x-probe-override-host: HOST    set the upstream override host
//   x-probe-trap: 1                trap (out-of-bounds access) in onRequestHeaders
//   x-probe-resp-append: TEXT      append TEXT to the response body at end_of_stream
// Config (JSON text): contains "reject" → configure fails; "tick_ms": N → ticks increment metric probe_ticks.
export * from "../../../shared/proxy/exports";
import { DataAction, HeaderAction, MapType, BufferType, MetricType } from "../../../shared/proxy/abi";
import {
  Header, requestHeader, replaceHeader, sendLocalResponse, getPropertyString, getSharedData, setSharedData,
  defineMetric, incrementMetric, registerQueue, dequeue, enqueue, getUpstreamHosts, setUpstreamOverrideHost,
  setBuffer, appendBuffer, getBuffer, continueRequest, redisInit, setTickPeriod, logInfo, logError, utf8, fromUtf8,
  setLogPrefix,
} from "../../../shared/proxy/hostcalls";
import {
  RootContext, HttpContext, HttpCallCallback, RedisCallback, registerRootContext, httpCall, redisCall,
  httpCallResponseHeaders, httpCallResponseBody, httpCallResponseStatus,
} from "../../../shared/proxy/context";
import { WasmResult } from "../../../shared/proxy/abi";

let ticksMetric: u32 = 0;
let queueToken: u32 = 0;

class ProbeRoot extends RootContext {
  onConfigure(config: string): bool {
    if (config.includes("reject")) { logError("config error: probe asked to reject"); return false; }
    const i = config.indexOf("\"tick_ms\":");
    if (i >= 0) {
      const ms = I32.parseInt(config.substring(i + 10).trim());
      if (ms > 0) { setTickPeriod(<u32>ms); ticksMetric = defineMetric(MetricType.Counter, "probe_ticks"); }
    }
    queueToken = registerQueue("probe");
    return true;
  }
  onTick(): void { incrementMetric(ticksMetric); }
  onQueueReady(token: u32): void {
    const d = dequeue(token);
    if (d != null) logInfo("dequeued: " + fromUtf8(d));
  }
  newHttpContext(id: u32): HttpContext { return new ProbeStream(id, this); }
}

class CallDone extends HttpCallCallback {
  onHttpCallResponse(numHeaders: u32, bodySize: u32, numTrailers: u32): void {
    const status = numHeaders == 0 ? 0 : httpCallResponseStatus(httpCallResponseHeaders());
    replaceHeader(MapType.RequestHeaders, "x-probe-call-status", status.toString());
    replaceHeader(MapType.RequestHeaders, "x-probe-call-body", fromUtf8(httpCallResponseBody(bodySize)));
    continueRequest();
  }
}
class RedisDone extends RedisCallback {
  onRedisResponse(status: u32, reply: ArrayBuffer): void {
    replaceHeader(MapType.RequestHeaders, "x-probe-redis-status", status.toString());
    replaceHeader(MapType.RequestHeaders, "x-probe-redis-reply", fromUtf8(reply).replaceAll("\r\n", "|"));
    continueRequest();
  }
}

function num(h: string | null, def: i32): i32 { return h == null ? def : I32.parseInt(h); }

class ProbeStream extends HttpContext {
  bodyAction: i32 = -1;
  bodyReplace: string | null = null;
  respAppend: string | null = null;

  onRequestHeaders(n: u32, eos: bool): HeaderAction {
    if (requestHeader("x-probe-trap") != null) {
      const a = new Array<i32>(1);
      return <HeaderAction>a[n + 5];   // deliberate out-of-bounds: the host must recover the VM
    }
    this.bodyAction = num(requestHeader("x-probe-body-action"), -1);
    this.bodyReplace = requestHeader("x-probe-body-replace");
    this.respAppend = requestHeader("x-probe-resp-append");
    const local = requestHeader("x-probe-local-reply");
    if (local != null) {
      sendLocalResponse(<u32>I32.parseInt(local), "probe local reply", [new Header("x-probe", "local")], "probe_local");
      return HeaderAction.StopIteration;
    }
    const set = requestHeader("x-probe-set-header");
    if (set != null) {
      const eq = set.indexOf("=");
      if (eq > 0) replaceHeader(MapType.RequestHeaders, set.substring(0, eq), set.substring(eq + 1));
    }
    const prop = requestHeader("x-probe-property");
    if (prop != null) {
      const v = getPropertyString(prop);
      replaceHeader(MapType.RequestHeaders, "x-probe-property-value", v == null ? "<none>" : v);
    }
    const key = requestHeader("x-probe-shared-incr");
    if (key != null) {
      let value: i32 = 0;
      for (let attempt = 0; attempt < 10; attempt++) {
        const cur = getSharedData(key);
        const curVal = cur == null ? 0 : I32.parseInt(fromUtf8(cur.data));
        if (setSharedData(key, utf8((curVal + 1).toString()), cur == null ? 0 : cur.cas) == WasmResult.Ok) { value = curVal + 1; break; }
      }
      replaceHeader(MapType.RequestHeaders, "x-probe-shared-value", value.toString());
    }
    const metric = requestHeader("x-probe-metric");
    if (metric != null) incrementMetric(defineMetric(MetricType.Counter, metric));
    const q = requestHeader("x-probe-enqueue");
    if (q != null) enqueue(queueToken, utf8(q));
    if (requestHeader("x-probe-upstream-hosts") != null) {
      const hosts = getUpstreamHosts();
      let s = "";
      for (let i = 0; i < hosts.length; i++) s += (i > 0 ? ";" : "") + hosts[i].name + "=" + hosts[i].value;
      replaceHeader(MapType.RequestHeaders, "x-probe-upstream-hosts", s);
    }
    const ov = requestHeader("x-probe-override-host");
    if (ov != null) setUpstreamOverrideHost(ov);
    const cluster = requestHeader("x-probe-http-call");
    if (cluster != null) {
      const ok = httpCall(cluster, [new Header(":method", "GET"), new Header(":path", "/probe"), new Header(":authority", "probe")], null, 2000, new CallDone());
      if (ok) return HeaderAction.StopAllIterationAndWatermark;
      replaceHeader(MapType.RequestHeaders, "x-probe-call-status", "refused");
    }
    const redis = requestHeader("x-probe-redis");
    if (redis != null) {
      redisInit(redis, "", "", 1000);
      const cmd = "*2\r\n$4\r\nINCR\r\n$13\r\nprobe-counter\r\n";
      if (redisCall(redis, utf8(cmd), new RedisDone())) return HeaderAction.StopAllIterationAndWatermark;
      replaceHeader(MapType.RequestHeaders, "x-probe-redis-status", "refused");
    }
    return <HeaderAction>num(requestHeader("x-probe-headers-action"), HeaderAction.Continue);
  }

  onRequestBody(size: u32, eos: bool): DataAction {
    if (eos && this.bodyReplace != null) setBuffer(BufferType.RequestBody, utf8(this.bodyReplace!));
    if (this.bodyAction >= 0 && !eos) return <DataAction>this.bodyAction;
    return DataAction.Continue;
  }

  onResponseHeaders(n: u32, eos: bool): HeaderAction {
    replaceHeader(MapType.ResponseHeaders, "x-probe-seen-response", "1");
    return HeaderAction.Continue;
  }

  onResponseBody(size: u32, eos: bool): DataAction {
    if (eos && this.respAppend != null) appendBuffer(BufferType.ResponseBody, utf8(this.respAppend!));
    return DataAction.Continue;
  }
}

setLogPrefix("abi-probe");
registerRootContext((id: u32): RootContext => new ProbeRoot(id));
